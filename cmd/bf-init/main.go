// Bf-init sets up backfill.toml on the production side (bf-init server) or
// on a machine that pulls (bf-init client): the token, the database or the
// server's URL, suggested sanitize rules for columns that look sensitive,
// and a connection test. Run bf-init --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfinit"
)

func main() { os.Exit(bfinit.Main()) }

// Bf-serve serves a MySQL or MariaDB database's manifest and sanitized dump
// streams over HTTP(S) to bf-fetch, behind a bearer token.
// Run bf-serve --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfserve"
)

func main() { os.Exit(bfserve.Main()) }

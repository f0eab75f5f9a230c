// Bf-dump streams one table of a MySQL or MariaDB database as a sanitized,
// zstd-compressed SQL stream on standard output. Run bf-dump --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfdump"
)

func main() { os.Exit(bfdump.Main()) }

// Bf-manifest prints the manifest of a MySQL or MariaDB database: its tables
// in foreign-key-safe order, columns, keys, and which columns are sanitized.
// Run bf-manifest --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfmanifest"
)

func main() { os.Exit(bfmanifest.Main()) }

// Bf-schemadiff compares a manifest's tables and columns with the local
// database and exits like diff(1): 0 same, 1 differences, 2 trouble.
// Run bf-schemadiff --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfschemadiff"
)

func main() { os.Exit(bfschemadiff.Main()) }

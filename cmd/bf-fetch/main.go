// Bf-fetch downloads the manifest and the dump streams of a bf-serve:
// one table to standard output or a file, or every table into a directory,
// in parallel, verified, keeping what an earlier run completed.
// Run bf-fetch --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bffetch"
)

func main() { os.Exit(bffetch.Main()) }

// Bf-gen creates and fills an app-like MySQL or MariaDB test database, the
// deterministic "production" that backfill's tests and benchmarks pull from.
// Run bf-gen --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfgen"
)

func main() { os.Exit(bfgen.Main()) }

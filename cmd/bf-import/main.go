// Bf-import loads dump streams into the local database, all or nothing,
// after checking that the environment allows it. Run bf-import --help for
// usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfimport"
)

func main() { os.Exit(bfimport.Main()) }

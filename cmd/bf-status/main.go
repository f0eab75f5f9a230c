// Bf-status prints the history of pulls and the checkpoint of the next
// delta pull, and holds the helper steps of scripts/bf-pull (environment
// guard, dry-run table, download cache, state file) as subcommands.
// Run bf-status --help for usage.
package main

import (
	"os"

	"github.com/backfill/backfill/lib/cli/bfstatus"
)

func main() { os.Exit(bfstatus.Main()) }

package backfill_test

import "github.com/backfill/backfill/lib/cli/bfmanifest"

func init() { programs["bf-manifest"] = bfmanifest.Main }

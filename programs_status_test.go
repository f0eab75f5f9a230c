package backfill_test

import "github.com/backfill/backfill/lib/cli/bfstatus"

func init() { programs["bf-status"] = bfstatus.Main }

package backfill_test

import "github.com/backfill/backfill/lib/cli/bfdump"

func init() { programs["bf-dump"] = bfdump.Main }

package backfill_test

import "github.com/backfill/backfill/lib/cli/bfinit"

func init() { programs["bf-init"] = bfinit.Main }

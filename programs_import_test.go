package backfill_test

import "github.com/backfill/backfill/lib/cli/bfimport"

func init() { programs["bf-import"] = bfimport.Main }

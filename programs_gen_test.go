package backfill_test

import "github.com/backfill/backfill/lib/cli/bfgen"

func init() { programs["bf-gen"] = bfgen.Main }

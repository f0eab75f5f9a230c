package backfill_test

import "github.com/backfill/backfill/lib/cli/bfschemadiff"

func init() { programs["bf-schemadiff"] = bfschemadiff.Main }

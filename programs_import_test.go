package backfill_test

import (
	"github.com/backfill/backfill/lib/cli/bfgen"
	"github.com/backfill/backfill/lib/cli/bfimport"
)

func init() {
	programs["bf-import"] = bfimport.Main
	// The import scripts generate their source with bf-gen; register it
	// unless its own programs file already did.
	if _, ok := programs["bf-gen"]; !ok {
		programs["bf-gen"] = bfgen.Main
	}
}

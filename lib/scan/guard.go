package scan

import (
	"context"
	"fmt"
	"strings"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/tomledit"
)

// Unreviewed returns the findings nobody reviewed: the column has no rule
// at all in [sanitize.TABLE] (any rule counts, { type = "keep" } included)
// and its table is not in exclude_tables.
func Unreviewed(findings []Finding, cfg *config.Config) []Finding {
	var out []Finding
	for _, f := range findings {
		if cfg.IsExcluded(f.Table) {
			continue
		}
		if _, ok := cfg.Sanitize[f.Table][f.Column]; ok {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Guard scans one table (names and a bounded value sample, through q,
// which should be the dump's snapshot connection) and returns its
// unreviewed findings. With [server] unreviewed = "refuse" and at least one
// finding, the error is an *UnreviewedError; with "warn" the caller logs the
// findings and goes on. A table the schema lacks or that is excluded gets
// no findings and no error: the dump reports those itself.
func Guard(ctx context.Context, q Querier, s *schema.Schema, cfg *config.Config, table string) ([]Finding, error) {
	st, ok := s.Table(table)
	if !ok || cfg.IsExcluded(table) {
		return nil, nil
	}
	fs, err := ScanTable(ctx, q, st, Options{})
	if err != nil {
		return nil, err
	}
	un := Unreviewed(fs, cfg)
	if len(un) > 0 && cfg.Server.Unreviewed == "refuse" {
		return un, &UnreviewedError{Table: table, Findings: un}
	}
	return un, nil
}

// UnreviewedError is the guard's refusal: a table has columns that look
// sensitive and have no sanitize rule, and [server] unreviewed = "refuse".
// It is a configuration problem (exit status 2): nothing was dumped, and a
// rule in backfill.toml fixes it.
type UnreviewedError struct {
	Table    string
	Findings []Finding
}

func (e *UnreviewedError) Error() string {
	if len(e.Findings) == 1 {
		f := e.Findings[0]
		return fmt.Sprintf("refusing to dump table %q: column %q looks sensitive (%s) and has no sanitize rule",
			e.Table, f.Column, f.Reason)
	}
	cols := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		cols[i] = fmt.Sprintf("%q (%s)", f.Column, f.Reason)
	}
	return fmt.Sprintf("refusing to dump table %q: %d columns look sensitive and have no sanitize rule: %s",
		e.Table, len(e.Findings), strings.Join(cols, ", "))
}

// Hints says how to resolve the refusal, with the suggested rules.
func (e *UnreviewedError) Hints() []string {
	hints := []string{"add a sanitize rule to backfill.toml, for example:", "  [sanitize." + tomledit.QuoteKey(e.Table) + "]"}
	for _, f := range e.Findings {
		hints = append(hints, "  "+tomledit.QuoteKey(f.Column)+" = "+f.Rule())
	}
	return append(hints,
		`or, when a column is harmless, mark it reviewed with { type = "keep" } (dumped unchanged)`,
		`bf-init server --scan lists every column that needs a rule; [server] unreviewed = "warn" only warns`)
}

// ConfigError marks the refusal as a configuration error for lib/cli.
func (e *UnreviewedError) ConfigError() {}

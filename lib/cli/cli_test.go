package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/backfill/backfill/lib/internal/hint"
)

type cfgErr struct{}

func (cfgErr) Error() string { return "bad.toml:1: x: unknown key" }
func (cfgErr) ConfigError()  {}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"failure", errors.New("boom"), 1},
		{"usage", Usagef("bad flag"), 2},
		{"wrapped config", fmt.Errorf("load: %w", cfgErr{}), 2},
		{"hinted config", hint.Wrap(cfgErr{}, "fix it"), 2},
		{"interrupted", fmt.Errorf("dump: %w", ErrInterrupted), 130},
		{"explicit", &ExitError{Code: 0}, 0},
		{"silent", ErrSilent, 1},
	} {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	var buf bytes.Buffer
	if got := report("bf-x", &buf, context.Background(), hint.Wrap(Usagef("no table"), "pass --table")); got != 2 {
		t.Errorf("report() = %d, want 2", got)
	}
	want := "bf-x: error: no table\nbf-x: hint: pass --table\nbf-x: hint: run 'bf-x --help' for usage\n"
	if buf.String() != want {
		t.Errorf("stderr = %q, want %q", buf.String(), want)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(fmt.Errorf("%w by interrupt", ErrInterrupted))
	buf.Reset()
	if got := report("bf-x", &buf, ctx, errors.New("read row 3: context canceled")); got != 130 {
		t.Errorf("failure after a signal: report() = %d, want 130", got)
	}
	if got, want := buf.String(), "bf-x: error: interrupted: read row 3: context canceled\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	// A step that stopped on the cancelled context names the signal.
	buf.Reset()
	if got := report("bf-x", &buf, ctx, fmt.Errorf("load schema: %w", context.Canceled)); got != 130 {
		t.Errorf("cancelled step: report() = %d, want 130", got)
	}
	if got, want := buf.String(), "bf-x: error: load schema: interrupted by interrupt\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
	if got := report("bf-x", &buf, ctx, Usagef("bad flag")); got != 2 {
		t.Errorf("usage error after a signal: report() = %d, want 2", got)
	}
}

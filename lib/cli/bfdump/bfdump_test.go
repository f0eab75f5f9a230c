package bfdump_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/cli/bfdump"
	"github.com/backfill/backfill/lib/testdb"
)

func env(args []string, vars map[string]string) (cli.Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return cli.Env{
		Args:   args,
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
	}, &stdout, &stderr
}

// TestRun_Usage checks flag handling without a database: every misuse is
// exit status 2 and nothing is written.
func TestRun_Usage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no table", nil, "--table is required"},
		{"unknown flag", []string{"--table", "t", "--bogus"}, "flag provided but not defined: -bogus"},
		{"bad since", []string{"-t", "t", "--since", "2025-13-01"}, `--since: since "2025-13-01" is not an RFC 3339 time`},
		{"level too high", []string{"-t", "t", "--level", "23"}, "--level 23: want a zstd level from 1 to 22"},
		{"level zero", []string{"-t", "t", "--level", "0"}, "--level 0: want a zstd level from 1 to 22"},
		{"positional", []string{"-t", "t", "u"}, `unexpected argument "u"`},
		{"no source", []string{"-t", "t", "-o", "x"}, "no source database"},
		{"bad dsn", []string{"-t", "t", "--dsn", "nonsense"}, "invalid DSN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, stdout, _ := env(tt.args, nil)
			err := bfdump.Run(context.Background(), e)
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Fatalf("Run() error = %v (exit status %d), want exit status 2", err, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() error = %q, want %q", err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestRun_Help(t *testing.T) {
	e, stdout, stderr := env([]string{"--help"}, nil)
	if err := bfdump.Run(context.Background(), e); !errors.Is(err, cli.ErrHelp) {
		t.Fatalf("Run(--help) = %v", err)
	}
	for _, want := range []string{"Usage:\n    bf-dump --table T", "\nFlags:\n", "\nEnvironment:\n", "\nExit status:\n", "\nExample:\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q", stderr)
	}
}

// TestRun_Interrupted: a dump cancelled (Ctrl-C) leaves no -o file and no
// temporary file behind.
func TestRun_Interrupted(t *testing.T) {
	src := testdb.New(t)
	src.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	dir := t.TempDir()
	out := filepath.Join(dir, "t.sql.zst")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cli.ErrInterrupted)
	e, _, _ := env([]string{"--table", "t", "-o", out}, map[string]string{"BACKFILL_SOURCE_DSN": src.DSN()})
	if err := bfdump.Run(ctx, e); err == nil {
		t.Fatal("Run() with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}

	// And the same dump, not cancelled, writes the file.
	e, _, stderr := env([]string{"--table", "t", "-o", out, "-v"}, map[string]string{"BACKFILL_SOURCE_DSN": src.DSN()})
	if err := bfdump.Run(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
	if !strings.Contains(stderr.String(), `bf-dump: dumped 2 rows of "t" (mode=full)`) {
		t.Errorf("-v summary missing: %q", stderr)
	}
}

// Package bfschemadiff is the bf-schemadiff program: it compares a
// manifest's tables and columns with the local database (DESIGN.md
// contract 4) and exits like diff(1).
package bfschemadiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/schemadiff"
)

const prog = "bf-schemadiff"

const usage = `Usage:
    bf-schemadiff --manifest FILE [--dsn DSN] [--config FILE] [--tables a,b]

Bf-schemadiff compares the tables and columns of a manifest (from bf-manifest
or bf-fetch manifest) with the local database: column names, types,
nullability. It prints a table of missing tables, missing columns, extra
columns and type differences on standard output, and nothing when the
schemas match. An extra local column that is nullable or has a default is
only a warning: the import leaves it NULL or at its default.

Flags:
    --manifest FILE   the manifest to compare with; - reads standard input (required)
    --dsn DSN         local database, user:password@tcp(127.0.0.1:3306)/app
                      (default $BACKFILL_DSN, else [client] dsn)
    --config FILE     configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --tables a,b      compare only these tables of the manifest
    -q, --quiet       no summary line on standard error
    -h, --help        show this help
    --version         print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_DSN

Exit status:
    0 same (warnings allowed), 1 differences, 2 trouble
    (bad flags or configuration, unreadable manifest, database unreachable)

Example:
    $ bf-fetch manifest > manifest.json && bf-schemadiff --manifest manifest.json && bf-import *.sql.zst
`

// Main runs bf-schemadiff in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// Run is bf-schemadiff with an injected environment. After printing
// differences that are more than warnings it returns an error matching
// schemadiff.ErrDifferent and cli.ErrSilent (exit status 1, no message);
// every other error is a *Trouble (exit status 2, as diff(1) says), except
// an interruption (130).
func Run(ctx context.Context, env cli.Env) error {
	err := run(ctx, env)
	if err == nil || errors.Is(err, schemadiff.ErrDifferent) || errors.Is(err, cli.ErrHelp) || ctx.Err() != nil {
		return err
	}
	return &Trouble{err}
}

// Trouble is any bf-schemadiff error other than differences: exit status 2.
type Trouble struct{ Err error }

func (t *Trouble) Error() string { return t.Err.Error() }
func (t *Trouble) Unwrap() error { return t.Err }

// ConfigError makes lib/cli map a Trouble to exit status 2.
func (t *Trouble) ConfigError() {}

// different is "differences found": exit status 1 without a message (the
// table on stdout and the summary on stderr said it all).
type different struct{}

func (different) Error() string { return schemadiff.ErrDifferent.Error() }
func (different) Is(target error) bool {
	return target == schemadiff.ErrDifferent || target == cli.ErrSilent
}

func run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet(prog)
	manifestPath := fs.String("manifest", "", "")
	dsn := fs.String("dsn", "", "")
	cfgPath := fs.String("config", "", "")
	var tables cli.List
	fs.Var(&tables, "tables", "")
	quiet := fs.Bool("quiet", false, "")
	fs.BoolVar(quiet, "q", false, "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q: the manifest is given with --manifest FILE", args[0])
	}
	if *manifestPath == "" {
		return &cli.UsageError{Msg: "--manifest is required", Hints: []string{"bf-fetch manifest > manifest.json fetches it; --manifest - reads standard input"}}
	}
	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	local, database, err := cfg.LocalDSN(*dsn)
	if err != nil {
		return err
	}

	m, err := readManifest(*manifestPath, env.Stdin)
	if err != nil {
		return err
	}
	if len(tables) > 0 {
		if _, err := m.Select(tables); err != nil {
			return &cli.UsageError{Msg: "--tables: " + err.Error()}
		}
	}

	db, err := mysqldb.Open(local)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()
	s, err := schema.Load(ctx, db, database)
	if err != nil {
		return fmt.Errorf("read the local schema of %q: %w", database, err)
	}
	diffs, err := schemadiff.Compare(m, s, tables)
	if err != nil {
		return err
	}
	if err := schemadiff.Write(env.Stdout, diffs); err != nil {
		return fmt.Errorf("write the differences: %w", err)
	}
	if len(diffs) == 0 {
		return nil
	}
	log := cli.NewLogger(prog, env)
	log.Quiet = *quiet
	warnings, tablesHit := 0, map[string]bool{}
	for _, d := range diffs {
		tablesHit[d.Table] = true
		if d.Warning {
			warnings++
		}
	}
	log.Printf("%s in %s (%s) between the manifest of %q and local database %q",
		plural(len(diffs), "difference"), plural(len(tablesHit), "table"), plural(warnings, "warning"), m.Database, database)
	if !schemadiff.Failures(diffs) {
		return nil
	}
	log.Hintf("migrate the local database to the production schema, or pull only matching tables with --tables")
	return different{}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func readManifest(path string, stdin io.Reader) (*manifest.Manifest, error) {
	if path == "-" {
		return decode(stdin, "standard input")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decode(f, path)
}

func decode(r io.Reader, name string) (*manifest.Manifest, error) {
	m, err := manifest.Decode(r, name)
	if errors.Is(err, manifest.ErrVersion) {
		return nil, cli.WithHint(err, "upgrade bf-schemadiff to the release that matches the server's bf-manifest")
	}
	return m, err
}

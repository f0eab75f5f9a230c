// Package bfmanifest is the bf-manifest program: it reads the source
// database's schema and prints the manifest (DESIGN.md contract 1).
package bfmanifest

import (
	"bytes"
	"context"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
)

const usage = `Usage:
    bf-manifest [--config FILE] [--dsn DSN] [--since RFC3339]

Bf-manifest reads the source database's tables, columns and keys from
INFORMATION_SCHEMA and prints the manifest as JSON on standard output: the
tables in foreign-key-safe import order, their columns and keys, which
columns are sanitized and a fingerprint of how ("masking", which changes
with the rules, the salt and the masking version, and reveals neither), which
tables are limited and which can be pulled as deltas. It only reads, inside
one read-only snapshot. The format is documented in lib/manifest/doc.go.

Flags:
    --config FILE     configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --dsn DSN         source database, user:password@tcp(host:3306)/db
                      (default $BACKFILL_SOURCE_DSN, else [source] dsn)
    --since RFC3339   add delta_rows (rows created or updated since then) to delta tables
    -h, --help        show this help
    --version         print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_SOURCE_DSN, BACKFILL_SALT (it keys each
    table's "masking" fingerprint)

Exit status:
    0 success, 1 failure, 2 usage or configuration error, 130 interrupted

Example:
    $ bf-manifest --dsn 'backfill_ro:secret@tcp(db:3306)/app' | jq '.order'
`

// Main runs bf-manifest in this process and returns its exit status.
func Main() int { return cli.Run("bf-manifest", cli.OS(), Run) }

// Run is bf-manifest with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet("bf-manifest")
	cfgPath := fs.String("config", "", "")
	dsn := fs.String("dsn", "", "")
	since := fs.String("since", "", "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q", args[0])
	}
	if *since != "" {
		if _, err := manifest.ParseSince(*since); err != nil {
			return &cli.UsageError{Msg: "--since: " + err.Error()}
		}
	}
	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	source, database, err := cfg.SourceDSN(*dsn)
	if err != nil {
		return err
	}
	db, err := mysqldb.Open(source)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	m, err := manifest.Build(ctx, db, database, cfg, *since)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, m); err != nil {
		return err
	}
	_, err = env.Stdout.Write(buf.Bytes())
	return err
}

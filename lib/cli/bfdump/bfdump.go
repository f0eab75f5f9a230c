// Package bfdump is the bf-dump program: it writes one table of the source
// database as a sanitized, zstd-compressed SQL stream (DESIGN.md contract 2)
// through lib/dump.
package bfdump

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/safefile"
)

const usage = `Usage:
    bf-dump --table T [--since RFC3339] [-o FILE] [flags]

Bf-dump writes one table of the source database as a sanitized,
zstd-compressed SQL stream on standard output (or in FILE): a header line,
session settings, multi-row INSERT statements and an end marker with the row
count. Sanitize rules run inside the database's SELECT, so original values
never reach bf-dump. It only reads, inside one read-only snapshot, and works
with a user that has nothing but SELECT. The format is documented in
lib/dumpfmt/doc.go; load a stream with bf-import or with
zstd -dc FILE | mariadb DB. Compressed output is never written to a
terminal.

Flags:
    -t, --table T       table to dump (required)
    --since RFC3339     only rows with created_at or updated_at at or after
                        this time (e.g. 2026-01-02T15:04:05Z); tables without
                        both columns are dumped whole (mode=full)
    -o FILE             write FILE atomically (it appears only when the dump
                        is complete); "-o -" forces standard output, even a
                        terminal (default: standard output, not a terminal)
    --config FILE       configuration file (default $BACKFILL_CONFIG, else
                        ./backfill.toml)
    --dsn DSN           source database, user:password@tcp(host:3306)/db
                        (default $BACKFILL_SOURCE_DSN, else [source] dsn)
    --level N           zstd level, 1 to 22 (default [server] level, else 1)
    --explain           print the SQL the dump would run and exit; bound
                        values (salt, patterns) show as placeholders only
    -v                  report rows, bytes and time on standard error
    -h, --help          show this help
    --version           print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_SOURCE_DSN, BACKFILL_SALT

Exit status:
    0 success, 1 failure, 2 usage or configuration error, 130 interrupted

Example:
    $ bf-dump --table users | zstd -dc | less
`

const synopsis = "bf-dump --table T [--since RFC3339] [-o FILE] [flags]"

// Main runs bf-dump in this process and returns its exit status.
func Main() int { return cli.Run("bf-dump", cli.OS(), Run) }

// Run is bf-dump with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet("bf-dump")
	var table, since, out, cfgPath, dsn string
	fs.StringVar(&table, "table", "", "")
	fs.StringVar(&table, "t", "", "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&out, "o", "", "")
	fs.StringVar(&cfgPath, "config", "", "")
	fs.StringVar(&dsn, "dsn", "", "")
	level := fs.Int("level", 0, "")
	explain := fs.Bool("explain", false, "")
	verbose := fs.Bool("v", false, "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return withSynopsis(err)
	}
	if len(args) > 0 {
		return &cli.UsageError{Msg: fmt.Sprintf("unexpected argument %q", args[0]),
			Hints: []string{"bf-dump dumps one table, named with --table"}}
	}
	if table == "" {
		return &cli.UsageError{Msg: "--table is required", Hints: []string{"usage: " + synopsis}}
	}
	if since != "" {
		if _, err := manifest.ParseSince(since); err != nil {
			return &cli.UsageError{Msg: "--since: " + err.Error()}
		}
	}
	levelSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "level" {
			levelSet = true
		}
	})
	if levelSet && (*level < 1 || *level > 22) {
		return &cli.UsageError{Msg: "--level " + strconv.Itoa(*level) + ": want a zstd level from 1 to 22"}
	}
	log := cli.NewLogger("bf-dump", env)
	log.Verbose = *verbose

	// Refuse a terminal before doing any work.
	toStdout := out == "" || out == "-"
	if !*explain && out == "" && cli.IsTerminal(env.Stdout) {
		return &cli.UsageError{Msg: "refusing to write compressed output to a terminal",
			Hints: []string{`redirect stdout, or use -o FILE ("-o -" forces stdout)`}}
	}

	cfg, err := config.Load(cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	source, database, err := cfg.SourceDSN(dsn)
	if err != nil {
		return err
	}
	db, err := mysqldb.Open(source)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()
	src := dump.Source{DB: db, Database: database, Config: cfg}
	o := dump.Options{Table: table, Since: since, Level: *level, Log: log}

	if *explain {
		text, err := dump.Explain(ctx, src, o)
		if err != nil {
			return err
		}
		_, err = io.WriteString(env.Stdout, text)
		return err
	}

	var w io.Writer = env.Stdout
	var file *safefile.File
	if !toStdout {
		f, err := safefile.Create(out, 0o644)
		if err != nil {
			return fmt.Errorf("dump %q: %w", table, err)
		}
		defer f.Abort() // after Commit it does nothing
		file, w = f, f
	}
	res, err := dump.Write(ctx, w, src, o)
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return fmt.Errorf("dump %q: %w", table, err)
		}
	}
	sinceNote := ""
	if res.Since != "" {
		sinceNote = " since " + res.Since
	}
	reader := "through the driver (TLS, compression or readTimeout in the DSN)"
	if res.Direct {
		reader = "off the socket"
	}
	log.Debugf("dumped %d rows of %q (mode=%s%s), %d compressed bytes in %.2fs; rows read %s", res.Rows, res.Table, res.Mode, sinceNote, res.Bytes, res.Elapsed.Seconds(), reader)
	return nil
}

// withSynopsis adds the synopsis to a flag-parsing error.
func withSynopsis(err error) error {
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		ue.Hints = append(ue.Hints, "usage: "+synopsis)
	}
	return err
}

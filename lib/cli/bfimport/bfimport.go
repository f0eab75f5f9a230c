// Package bfimport is the bf-import program: it loads dump streams into the
// local database (DESIGN.md contract 4), all or nothing, after checking that
// the environment allows it.
package bfimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/load"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
)

const prog = "bf-import"

const usage = `Usage:
    bf-import [--dsn DSN] [--mode full|delta] [-j N] [--manifest FILE] [--json] [-q] [FILE...]

Bf-import loads dump streams (from bf-dump or bf-fetch) into the local
database, each into the table its header names. FILE - or no FILE reads one
stream from standard input. Every stream is verified to its end marker before
anything is committed: a truncated, corrupt or foreign stream fails the
import, and every table is rolled back to what it was. A FILE ending in .part
(a download bf-fetch did not finish) is refused. Tables load in parallel,
each in one transaction, and all commit together at the end.

Full mode replaces each table's rows. Delta mode upserts the rows of delta
streams by primary key (children are never deleted) and replaces the tables
whose stream is a full dump. A delta stream in full mode is refused.

It refuses to run unless the environment ($BACKFILL_ENV, else $APP_ENV) is
one of [client] allowed_environments (default: local, staging).

Flags:
    --dsn DSN          local database, user:password@tcp(127.0.0.1:3306)/app
                       (default $BACKFILL_DSN, else [client] dsn)
    --config FILE      configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --mode MODE        full (default) or delta
    -j, --jobs N       tables loaded at once (default [client] parallel, 4)
    --manifest FILE    refuse streams of tables that are not in this manifest,
                       and load in its order
    --method M         auto (default: LOAD DATA LOCAL INFILE when the server
                       allows it, else SQL), insert or load-data
    --json             print the result as JSON on standard output
    -q, --quiet        no per-table lines or summary on standard error
    -h, --help         show this help
    --version          print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_DSN, BACKFILL_ENV, APP_ENV

Exit status:
    0 success, 1 failure, 2 usage or configuration error, 130 interrupted;
    after 1 or 130 the error says what was rolled back (normally everything)

Example:
    $ bf-fetch all --dir dumps && bf-import dumps/*.sql.zst
    $ bf-dump --table users | bf-import -
`

// Main runs bf-import in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// Run is bf-import with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet(prog)
	dsn := fs.String("dsn", "", "")
	cfgPath := fs.String("config", "", "")
	mode := &cli.Choice{Value: dumpfmt.ModeFull, Allowed: []string{dumpfmt.ModeFull, dumpfmt.ModeDelta}}
	fs.Var(mode, "mode", "")
	jobs := fs.Int("jobs", 0, "")
	fs.IntVar(jobs, "j", 0, "")
	manifestPath := fs.String("manifest", "", "")
	method := &cli.Choice{Value: string(load.MethodAuto), Allowed: []string{string(load.MethodAuto), string(load.MethodInsert), string(load.MethodLoadData)}}
	fs.Var(method, "method", "")
	asJSON := fs.Bool("json", false, "")
	quiet := fs.Bool("quiet", false, "")
	fs.BoolVar(quiet, "q", false, "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if *jobs < 0 {
		return cli.Usagef("-j %d: want a positive number of tables loaded at once", *jobs)
	}
	if len(args) == 0 {
		args = []string{"-"}
	}
	stdinUsers := 0
	for _, a := range args {
		if a == "-" {
			stdinUsers++
		}
	}
	if *manifestPath == "-" {
		stdinUsers++
	}
	if stdinUsers > 1 {
		return &cli.UsageError{Msg: "standard input can be read only once", Hints: []string{"give at most one - (a stream, or --manifest -); read the other streams from files"}}
	}
	if stdinUsers == 1 && *manifestPath != "-" && cli.IsTerminal(env.Stdin) {
		return &cli.UsageError{Msg: "refusing to read a dump stream from a terminal", Hints: []string{"give the dump files as arguments, or pipe a stream in: bf-dump --table users | bf-import -"}}
	}

	// bf-fetch keeps what arrived of a transfer that failed as TABLE.sql.zst.part,
	// to show where it stopped. Even a .part whose stream looks complete
	// is one bf-fetch refused (cut after the end marker, say).
	for _, a := range args {
		if strings.HasSuffix(a, ".part") {
			return hint.Wrap(fmt.Errorf("%s is a download that bf-fetch did not finish: nothing was imported", a),
				"run bf-fetch again; it keeps .part files only to show where a transfer stopped")
		}
	}

	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	// The guard comes before anything touches the database.
	if err := cfg.CheckEnvironment(); err != nil {
		return err
	}
	local, _, err := cfg.LocalDSN(*dsn)
	if err != nil {
		return err
	}
	parallel := cfg.Client.Parallel
	if *jobs > 0 {
		parallel = *jobs
	}

	var m *manifest.Manifest
	if *manifestPath != "" {
		if m, err = readManifest(*manifestPath, env.Stdin); err != nil {
			return err
		}
	}

	sources := make([]load.Source, len(args))
	for i, a := range args {
		if a == "-" {
			stdin := env.Stdin
			sources[i] = load.Source{Name: "standard input", Once: true, Open: func() (io.ReadCloser, error) {
				return io.NopCloser(stdin), nil
			}}
			continue
		}
		// A pipe or FIFO (bf-import <(bf-dump ...)) can be read only
		// once; a regular file is opened again after the header check.
		fi, err := os.Stat(a)
		once := err == nil && !fi.Mode().IsRegular()
		sources[i] = load.Source{Name: a, Once: once, Open: func() (io.ReadCloser, error) { return os.Open(a) }}
	}

	db, err := mysqldb.Open(local)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	defer db.Close()

	log := cli.NewLogger(prog, env)
	log.Quiet = *quiet
	res, err := load.Import(ctx, db, sources, load.Options{
		Mode:     mode.Value,
		Parallel: parallel,
		Manifest: m,
		Method:   load.Method(method.Value),
		Warnf:    log.Warnf,
		Loaded: func(r load.TableResult) {
			log.Printf("%s: %s %s in %s (%s)", quote(r.Table), plural(r.Rows, "row"), r.Action, seconds(r.Seconds), r.Source)
		},
	})
	if err != nil {
		return err
	}
	log.Printf("imported %s, %s in %s", plural(int64(len(res.Tables)), "table"), plural(res.Rows, "row"), seconds(res.Seconds))
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write the result: %w", err)
		}
	}
	return nil
}

func readManifest(path string, stdin io.Reader) (*manifest.Manifest, error) {
	var r io.Reader = stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	m, err := manifest.Decode(r, name)
	if errors.Is(err, manifest.ErrVersion) {
		return nil, cli.WithHint(err, "upgrade bf-import to the release that matches the server's bf-manifest")
	}
	return m, err
}

func quote(name string) string {
	for _, r := range name {
		if r <= ' ' || r == '"' || r == 0x7f {
			return strconv.Quote(name)
		}
	}
	return name
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 2, 64) + "s" }

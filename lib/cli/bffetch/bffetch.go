// Package bffetch is the bf-fetch program: the client side of bf-serve
// (DESIGN.md contract 4). It prints the manifest, streams one table's dump,
// or downloads every table into a directory, N at a time, keeping what a
// previous run completed.
package bffetch

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/fetch"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/progress"
)

const prog = "bf-fetch"

const usage = `Usage:
    bf-fetch [flags] manifest [--since RFC3339]
    bf-fetch [flags] dump TABLE [--since RFC3339] [-o FILE]
    bf-fetch [flags] all --dir DIR [--since RFC3339] [--tables a,b] [-j N]

Bf-fetch downloads from a bf-serve. "manifest" prints the manifest (JSON) on
standard output. "dump" writes one table's zstd-compressed dump stream on
standard output (never to a terminal) or, with -o, to a file that appears
only once the stream was verified complete. "all" downloads every table of
the manifest into DIR as TABLE.sql.zst, N at a time, beside manifest.json and
meta.json; each file is written as TABLE.sql.zst.part and renamed only after
its end marker was verified.

Running "all" again on the same DIR keeps every complete file that still
matches (same server, same --since, same schema) and fetches only the missing
or incomplete tables; manifest.json then stays the one the kept files belong
to. An interrupted download leaves TABLE.sql.zst.part files: they are fetched
again from the start, because every dump is a fresh snapshot (there is
nothing to resume byte by byte).

Connection failures, cut or stalled transfers and 503 (server busy, with its
Retry-After) are retried with backoff; 401, 403, 404, HTML answers and TLS
errors are not. [client] timeout bounds the wait for each response and every
stall of a transfer.

Flags:
    --url URL           bf-serve's address, e.g. https://app.example.com (default
                        $BACKFILL_SOURCE_URL, else [client] source_url); the route
                        prefix is [server] route_prefix (default /api/backfill)
    --config FILE       configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --token-file FILE   read the token from FILE (default $BACKFILL_TOKEN, else [auth] token)
    --insecure          allow http:// to a host that is not this machine
    -q, --quiet         print nothing but errors
    --progress WHEN     auto (bars when standard error is a terminal, else one line
                        per finished table), always (bars), never (lines)
                        (default $BACKFILL_PROGRESS, else auto)
    --since RFC3339     delta: only rows created or updated since then
    --retries N         attempts after a connection failure (default 5)
    -o FILE             dump: write FILE atomically ("-o -" forces standard output)
    --dir DIR           all: the download directory (required)
    --tables a,b        all: only these tables (default: every table of the manifest)
    -j, --parallel N    all: concurrent downloads (default [client] parallel, 4)
    --fresh             all: ignore what DIR holds and fetch everything again
    --max-age DURATION  all: fetch again complete files older than this (e.g. 1h)
    -h, --help          show this help
    --version           print the version

Environment:
    BACKFILL_SOURCE_URL, BACKFILL_TOKEN, BACKFILL_CONFIG, BACKFILL_PROGRESS

Exit status:
    0 success, 1 failure, 2 usage or configuration error, 130 interrupted

Examples:
    $ bf-fetch --url https://app.example.com manifest | jq .order
    $ bf-fetch dump users --since 2026-11-01T00:00:00Z | bf-import --mode delta -
    $ bf-fetch all --dir .backfill/cache -j 4 && bf-import .backfill/cache/*.sql.zst
`

// Main runs bf-fetch in this process and returns its exit status.
func Main() int { return cli.Run(prog, cli.OS(), Run) }

// flags of the subcommands; anything else is global.
var commandFlags = map[string][]string{
	"manifest": {"since"},
	"dump":     {"since", "o"},
	"all":      {"since", "dir", "tables", "j", "parallel", "fresh", "max-age"},
}

// Run is bf-fetch with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	fs := cli.NewFlagSet(prog)
	rawURL := fs.String("url", "", "")
	cfgPath := fs.String("config", "", "")
	tokenFile := fs.String("token-file", "", "")
	insecure := fs.Bool("insecure", false, "")
	var quiet bool
	fs.BoolVar(&quiet, "q", false, "")
	fs.BoolVar(&quiet, "quiet", false, "")
	mode := &cli.Choice{Allowed: []string{"auto", "always", "never"}}
	fs.Var(mode, "progress", "")
	since := fs.String("since", "", "")
	retries := fs.Int("retries", fetch.DefaultRetry.Attempts, "")
	out := fs.String("o", "", "")
	dir := fs.String("dir", "", "")
	var tables cli.List
	fs.Var(&tables, "tables", "")
	var parallel int
	fs.IntVar(&parallel, "j", 0, "")
	fs.IntVar(&parallel, "parallel", 0, "")
	fresh := fs.Bool("fresh", false, "")
	maxAge := fs.Duration("max-age", 0, "")

	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return cli.Usagef("no command: use manifest, dump TABLE or all --dir DIR")
	}
	cmd := args[0]
	allowed, ok := commandFlags[cmd]
	if !ok {
		return cli.Usagef("unknown command %q: use manifest, dump TABLE or all --dir DIR", cmd)
	}
	if err := checkFlags(fs, cmd, allowed); err != nil {
		return err
	}
	switch {
	case cmd == "dump" && len(args) != 2:
		if len(args) < 2 {
			return cli.Usagef("dump needs a TABLE")
		}
		return cli.Usagef("dump takes one TABLE; unexpected %q", args[2])
	case cmd != "dump" && len(args) > 1:
		return cli.Usagef("unexpected argument %q", args[1])
	case cmd == "all" && *dir == "":
		return cli.Usagef("all needs --dir DIR")
	}
	if *since != "" {
		if _, err := manifest.ParseSince(*since); err != nil {
			return cli.Usagef("--since: %v", err)
		}
	}
	if *retries < 1 {
		return cli.Usagef("--retries must be at least 1")
	}
	if *maxAge < 0 {
		return cli.Usagef("--max-age must not be negative")
	}

	cfg, err := config.Load(*cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	client, err := newClient(cfg, env, *rawURL, *tokenFile, *insecure)
	if err != nil {
		return err
	}
	base, _ := client.URL("", nil)
	if mode.Value == "" {
		v := env.Getenv("BACKFILL_PROGRESS")
		if v == "" {
			v = "auto"
		}
		if err := mode.Set(v); err != nil {
			return cli.Usagef("BACKFILL_PROGRESS: %v", err)
		}
	}
	rep := reporter(env, quiet, mode.Value)
	pol := fetch.DefaultRetry
	pol.Attempts = *retries
	f := &fetch.Fetcher{
		Source:    client,
		SourceURL: base.String(),
		Timeout:   cfg.Client.Timeout.Duration,
		Retry:     pol,
		Progress:  rep,
	}

	switch cmd {
	case "manifest":
		defer rep.Close()
		m, err := f.Manifest(ctx, *since)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, m); err != nil {
			return err
		}
		_, err = env.Stdout.Write(buf.Bytes())
		return err
	case "dump":
		return dump(ctx, env, f, rep, args[1], *since, *out)
	default:
		if parallel == 0 {
			parallel = cfg.Client.Parallel
		}
		if parallel < 1 {
			return cli.Usagef("-j must be at least 1")
		}
		return all(ctx, f, rep, fetch.Options{
			Dir: *dir, Since: *since, Tables: tables, Parallel: parallel, Fresh: *fresh, MaxAge: *maxAge,
		})
	}
}

// checkFlags refuses a subcommand's flag given to another subcommand.
func checkFlags(fs *flag.FlagSet, cmd string, allowed []string) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		for cmd2, names := range commandFlags {
			if cmd2 == cmd {
				continue
			}
			for _, n := range names {
				if n == fl.Name && !contains(allowed, n) {
					err = cli.Usagef("-%s%s is not a flag of %q (it belongs to %q)", dash(n), n, cmd, cmd2)
					return
				}
			}
		}
	})
	return err
}

func dash(name string) string {
	if len(name) == 1 {
		return ""
	}
	return "-"
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// newClient builds the HTTP client from flags, environment and config and
// checks what can be checked without the network (exit status 2).
func newClient(cfg *config.Config, env cli.Env, rawURL, tokenFile string, insecure bool) (*httpapi.Client, error) {
	c := &httpapi.Client{
		BaseURL:   cfg.Client.SourceURL, // config, overlaid by $BACKFILL_SOURCE_URL
		Prefix:    cfg.Server.RoutePrefix,
		Token:     cfg.Auth.Token, // config, overlaid by $BACKFILL_TOKEN
		Insecure:  insecure,
		UserAgent: "bf-fetch/" + cli.VersionString(),
	}
	if rawURL != "" {
		c.BaseURL = rawURL
	}
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, &cli.UsageError{Msg: fmt.Sprintf("--token-file: %v", err)}
		}
		c.Token = strings.TrimSpace(string(data))
		if c.Token == "" {
			return nil, &cli.UsageError{Msg: fmt.Sprintf("--token-file: %s is empty", tokenFile)}
		}
	}
	if _, err := c.URL("/manifest", nil); err != nil {
		return nil, &cli.UsageError{Msg: err.Error(), Hints: cli.Hints(err)}
	}
	if c.Token == "" {
		return nil, &cli.UsageError{Msg: "no token", Hints: []string{"set BACKFILL_TOKEN, [auth] token in backfill.toml, or pass --token-file FILE"}}
	}
	return c, nil
}

// reporter picks the progress display (STYLE §9.6).
func reporter(env cli.Env, quiet bool, mode string) progress.Reporter {
	if quiet {
		return progress.Nop{}
	}
	tty := cli.IsTerminal(env.Stderr)
	if mode == "always" || (mode == "auto" && tty) {
		width := 0
		if f, ok := env.Stderr.(*os.File); ok && tty {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil {
				width = w
			}
		}
		return progress.NewBars(env.Stderr, prog, min(width, 120))
	}
	return progress.NewLines(env.Stderr, prog)
}

func dump(ctx context.Context, env cli.Env, f *fetch.Fetcher, rep progress.Reporter, table, since, out string) error {
	defer rep.Close()
	if out != "" && out != "-" {
		_, err := f.DumpFile(ctx, table, since, out)
		return err
	}
	if out == "" && cli.IsTerminal(env.Stdout) {
		return &cli.UsageError{
			Msg:   "refusing to write compressed output to a terminal",
			Hints: []string{`redirect stdout, or use -o FILE ("-o -" forces stdout)`},
		}
	}
	_, err := f.Dump(ctx, table, since, env.Stdout)
	return err
}

func all(ctx context.Context, f *fetch.Fetcher, rep progress.Reporter, o fetch.Options) error {
	start := time.Now()
	meta, err := f.All(ctx, o)
	rep.Close()
	if errors.Is(err, fetch.ErrUnknownTable) {
		return &cli.UsageError{Msg: err.Error()}
	}
	if err != nil {
		return err
	}
	var fetched, kept int
	var rows, bytes int64
	for _, t := range meta.Tables {
		rows += t.Rows
		if t.Kept {
			kept++
			continue
		}
		fetched++
		bytes += t.Bytes
	}
	d := time.Since(start)
	noun := "tables"
	if len(meta.Tables) == 1 {
		noun = "table"
	}
	rep.Printf("%d %s in %s: %d fetched, %d kept; %s, %s fetched in %s (%s)",
		len(meta.Tables), noun, o.Dir, fetched, kept, progress.Rows(rows), progress.Bytes(bytes), progress.Duration(d), progress.Rate(bytes, d))
	return nil
}

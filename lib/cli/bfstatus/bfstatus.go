// Package bfstatus is the bf-status program: it prints the history of
// pulls kept in the state file (the original package's backfill:status) and
// holds, as subcommands, the steps of scripts/bf-pull that a shell script
// cannot do cleanly: the environment guard, checkpoints, the dry-run table,
// the download cache, and recording a pull in the state file (lib/state).
package bfstatus

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/state"
)

const prog = "bf-status"

const usage = `Usage:
    bf-status [--json] [-n N] [--config FILE] [--state FILE]
    bf-status SUBCOMMAND [flags] [ARG...]

Bf-status prints the history of pulls kept in the state file ([client]
state_file, default .backfill/state.json): the last 10, newest first, with
their mode, status (and the step and table a failed pull stopped at), rows,
tables, duration and start time, then the checkpoint the next delta pull
starts from. The checkpoint is the generated_at of the manifest of the last
complete pull: the source server's clock, never this machine's. A pull whose
process ended without recording an outcome shows as interrupted.

The subcommands are the steps of scripts/bf-pull that a shell script cannot
do cleanly; each is useful by hand too:

    guard
        exit 1 unless the environment ($BACKFILL_ENV, else $APP_ENV) is one
        of [client] allowed_environments (the environment guard)
    checkpoint [--tables a,b] [--manifest MANIFEST]
        print the since of the next delta pull of these tables (every table
        by default); print nothing when the next pull must be full. With
        --manifest, the server's current manifest (file MANIFEST, - for
        standard input): the pull must also be full when it masks one of
        the tables differently from the last complete pull of that table
        (a sanitize rule, the salt or the masking version changed: a delta
        would mix two maskings), or that pull recorded no masking to
        compare with; the reason goes to standard error. A manifest without
        masking fingerprints (an older bf-serve) changes nothing
    dry-run [--tables a,b] MANIFEST
        print the table of what a pull of the manifest in file MANIFEST (-
        for standard input) would bring: rows (rows changed since the since
        of a delta manifest), sanitized columns, limits, delta capability
    cache-dir [--since T] [--tables a,b]
        print the download directory of such a pull: [client] cache_dir/
        full-HASH or delta-HASH, one per source, since and set of tables
    cache [--manifest MANIFEST] DIR
        print what to do with the download in DIR: "reuse" (complete and
        younger than [client] local_cache_hours: no request to the server
        at all), "resume" (complete, or interrupted with tables to keep,
        and younger than 24 hours: ask first) or "fetch" (download again);
        the reason goes to standard error. With --manifest, the server's
        current manifest, a download masked otherwise than it is "fetch"
    files DIR
        print the paths of the dump files of the complete download in DIR,
        one a line, in import order
    begin --mode full|delta [--since T] [--tables a,b] --pid PID
        record a running pull of the process PID and print its id; exit 1
        while the process of another running pull is alive
    step ID STEP
        record the step a running pull reached (shown if it crashes)
    finish ID --status complete|failed|interrupted [--step STEP] [--dir DIR]
              [--result FILE] [--error-file FILE] [--error MSG] [--table T]
        record how a pull ended. complete needs --dir (the checkpoint is
        DIR/manifest.json's generated_at) and --result (bf-import --json's
        output: rows and tables). For a failure the table and message come
        from --table and --error, else from DIR/meta.json (a failed
        download) or the first error line of --error-file (a tool's stderr)
    hook ID
        run [client] on_complete for the complete pull ID with sh -c,
        with BACKFILL_MODE (full or delta), BACKFILL_TABLES (comma-separated),
        BACKFILL_ROWS, BACKFILL_PULL_ID and BACKFILL_CHECKPOINT in its
        environment
    prune [--keep DIR]
        remove the download directories under [client] cache_dir that are
        older than 24 hours, except DIR

Flags:
    --json            print the history as JSON
    -n N              how many pulls to print (default 10)
    --config FILE     configuration file (default $BACKFILL_CONFIG, else ./backfill.toml)
    --state FILE      the state file (default [client] state_file)
    --prog NAME       prefix messages with NAME instead of bf-status
                      (scripts/bf-pull passes bf-pull)
    -h, --help        show this help
    --version         print the version

Environment:
    BACKFILL_CONFIG, BACKFILL_ENV, APP_ENV, BACKFILL_SOURCE_URL, BACKFILL_DSN

Exit status:
    0 success, 1 failure (guard refused, another pull running, hook failed),
    2 usage or configuration error

Examples:
    $ bf-status
    $ bf-status --json | jq '.pulls[0].status'
    $ bf-fetch manifest | bf-status dry-run -
`

// Main runs bf-status in this process and returns its exit status.
func Main() int {
	env := cli.OS()
	return cli.Run(progName(env.Args), env, Run)
}

var validProg = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// progName is the --prog value when there is a valid one, else bf-status:
// scripts/bf-pull has its helpers speak in its own name.
func progName(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		name := ""
		switch {
		case (a == "--prog" || a == "-prog") && i+1 < len(args):
			name = args[i+1]
		case strings.HasPrefix(a, "--prog="), strings.HasPrefix(a, "-prog="):
			name = a[strings.Index(a, "=")+1:]
		}
		if validProg.MatchString(name) {
			return name
		}
	}
	return prog
}

// options are every flag of every subcommand; flagsOf says which one
// takes which.
type options struct {
	cfgPath, statePath, progName string

	asJSON bool
	n      int

	tables cli.List
	since  string
	mode   cli.Choice
	pid    int

	status    cli.Choice
	step      string
	dir       string
	result    string
	errorFile string
	errMsg    string
	table     string
	keep      string
	manifest  string
}

// flagsOf lists the flags each subcommand accepts, besides --config,
// --state and --prog.
var flagsOf = map[string][]string{
	"":           {"json", "n"},
	"guard":      nil,
	"checkpoint": {"tables", "manifest"},
	"dry-run":    {"tables"},
	"cache-dir":  {"since", "tables"},
	"cache":      {"manifest"},
	"files":      nil,
	"begin":      {"mode", "since", "tables", "pid"},
	"step":       nil,
	"finish":     {"status", "step", "dir", "result", "error-file", "error", "table"},
	"hook":       nil,
	"prune":      {"keep"},
}

// argsOf is the number of positional arguments after the subcommand.
var argsOf = map[string]int{"": 0, "guard": 0, "checkpoint": 0, "dry-run": 1, "cache-dir": 0, "cache": 1, "files": 1, "begin": 0, "step": 2, "finish": 1, "hook": 1, "prune": 0}

// synopsis is each subcommand's usage line, for usage errors.
var synopsis = map[string]string{
	"":           "bf-status [--json] [-n N]",
	"guard":      "bf-status guard",
	"checkpoint": "bf-status checkpoint [--tables a,b] [--manifest MANIFEST]",
	"dry-run":    "bf-status dry-run [--tables a,b] MANIFEST",
	"cache-dir":  "bf-status cache-dir [--since T] [--tables a,b]",
	"cache":      "bf-status cache [--manifest MANIFEST] DIR",
	"files":      "bf-status files DIR",
	"begin":      "bf-status begin --mode full|delta [--since T] [--tables a,b] --pid PID",
	"step":       "bf-status step ID STEP",
	"finish":     "bf-status finish ID --status complete|failed|interrupted [--step STEP] [--dir DIR] [--result FILE] [--error-file FILE]",
	"hook":       "bf-status hook ID",
	"prune":      "bf-status prune [--keep DIR]",
}

// Run is bf-status with an injected environment.
func Run(ctx context.Context, env cli.Env) error {
	var o options
	o.mode = cli.Choice{Allowed: []string{state.Full, state.Delta}}
	o.status = cli.Choice{Allowed: []string{state.Complete, state.Failed, state.Interrupted}}
	fs := cli.NewFlagSet(prog)
	fs.StringVar(&o.cfgPath, "config", "", "")
	fs.StringVar(&o.statePath, "state", "", "")
	fs.StringVar(&o.progName, "prog", "", "")
	fs.BoolVar(&o.asJSON, "json", false, "")
	fs.IntVar(&o.n, "n", 10, "")
	fs.Var(&o.tables, "tables", "")
	fs.StringVar(&o.since, "since", "", "")
	fs.Var(&o.mode, "mode", "")
	fs.IntVar(&o.pid, "pid", 0, "")
	fs.Var(&o.status, "status", "")
	fs.StringVar(&o.step, "step", "", "")
	fs.StringVar(&o.dir, "dir", "", "")
	fs.StringVar(&o.result, "result", "", "")
	fs.StringVar(&o.errorFile, "error-file", "", "")
	fs.StringVar(&o.errMsg, "error", "", "")
	fs.StringVar(&o.table, "table", "", "")
	fs.StringVar(&o.keep, "keep", "", "")
	fs.StringVar(&o.manifest, "manifest", "", "")
	args, err := cli.Parse(fs, env, usage)
	if err != nil {
		return err
	}
	if o.progName != "" && !validProg.MatchString(o.progName) {
		return cli.Usagef("--prog %q: want a program name such as bf-pull", o.progName)
	}
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	allowed, ok := flagsOf[sub]
	if !ok {
		return &cli.UsageError{Msg: fmt.Sprintf("unknown subcommand %q", sub), Hints: []string{"the subcommands are guard, checkpoint, dry-run, cache-dir, cache, files, begin, step, finish, hook and prune"}}
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "config", "state", "prog", "version":
		default:
			if !slices.Contains(allowed, f.Name) {
				bad = append(bad, f.Name)
			}
		}
	})
	what := "bf-status"
	if sub != "" {
		what = "bf-status " + sub
	}
	if len(bad) > 0 {
		return &cli.UsageError{Msg: fmt.Sprintf("%s takes no --%s", what, bad[0]), Hints: []string{"usage: " + synopsis[sub]}}
	}
	if len(args) != argsOf[sub] {
		return &cli.UsageError{Msg: fmt.Sprintf("%s takes %s, not %d", what, plural(int64(argsOf[sub]), "argument"), len(args)), Hints: []string{"usage: " + synopsis[sub]}}
	}
	if o.n < 1 {
		return cli.Usagef("-n %d: want at least 1", o.n)
	}

	cfg, err := config.Load(o.cfgPath, env.Getenv)
	if err != nil {
		return err
	}
	name := prog
	if o.progName != "" {
		name = o.progName
	}
	c := &cmd{env: env, cfg: cfg, o: &o, log: &cli.Logger{Prog: name, W: env.Stderr}, now: time.Now}
	c.store = state.Open(cfg.Client.StateFile)
	if o.statePath != "" {
		c.store.Path = o.statePath
	}
	switch sub {
	case "":
		return c.history()
	case "guard":
		return cfg.CheckEnvironment()
	case "checkpoint":
		return c.checkpoint()
	case "dry-run":
		return c.dryRun(args[0])
	case "cache-dir":
		return c.cacheDir()
	case "cache":
		return c.cache(args[0])
	case "files":
		return c.files(args[0])
	case "begin":
		return c.begin()
	case "step":
		id, err := pullID(args[0])
		if err != nil {
			return err
		}
		return c.store.SetStep(id, args[1])
	case "finish":
		id, err := pullID(args[0])
		if err != nil {
			return err
		}
		return c.finish(id)
	case "hook":
		id, err := pullID(args[0])
		if err != nil {
			return err
		}
		return c.hook(ctx, id)
	case "prune":
		return c.prune()
	}
	return nil
}

// cmd is one run of bf-status.
type cmd struct {
	env   cli.Env
	cfg   *config.Config
	o     *options
	log   *cli.Logger
	store *state.Store
	now   func() time.Time
}

func pullID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id < 1 {
		return 0, cli.Usagef("pull id %q: want a positive number (bf-status begin prints it)", s)
	}
	return id, nil
}

// source is bf-fetch's name for the server: the URL with the route prefix,
// as meta.json records it. "" when no URL is configured.
func source(cfg *config.Config) (string, error) {
	c := &httpapi.Client{BaseURL: cfg.Client.SourceURL, Prefix: cfg.Server.RoutePrefix, Insecure: true}
	u, err := c.URL("", nil)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// target names the local database without its password:
// user@tcp(host:3306)/db. "" when no DSN is configured.
func target(cfg *config.Config) (string, error) {
	if cfg.Client.DSN == "" {
		return "", nil
	}
	d, err := mysql.ParseDSN(cfg.Client.DSN)
	if err != nil {
		return "", fmt.Errorf("local database: %w", err)
	}
	return fmt.Sprintf("%s@%s(%s)/%s", d.User, d.Net, d.Addr, d.DBName), nil
}

// where returns source and target for matching checkpoints; unknown parts
// are "" and match anything.
func (c *cmd) where() (string, string) {
	src, _ := source(c.cfg)
	dst, _ := target(c.cfg)
	return src, dst
}

func (c *cmd) checkpoint() error {
	f, err := c.store.Load()
	if err != nil {
		return err
	}
	var current map[string]string
	if c.o.manifest != "" {
		m, err := c.readManifest(c.o.manifest)
		if err != nil {
			return err
		}
		current = maskings(m)
	}
	src, dst := c.where()
	cp := f.Checkpoint(c.o.tables, src, dst)
	if cp == "" {
		return nil
	}
	// Without fingerprints (an older bf-serve) nothing is compared.
	changed, unrecorded := f.MaskingChanged(c.o.tables, src, dst, current)
	switch {
	case len(changed) > 0:
		c.log.Printf("full pull: how %s %s masked changed on the server since the last pull (rules, salt or masking version)", strings.Join(changed, ", "), isAre(len(changed)))
		return nil
	case len(unrecorded) > 0:
		c.log.Printf("full pull: the last pull recorded no masking fingerprint for %s (an older bf-status, or a new table), so a delta could mix two maskings", strings.Join(unrecorded, ", "))
		return nil
	}
	fmt.Fprintln(c.env.Stdout, cp)
	return nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// maskings maps each table of m to its masking fingerprint; nil when m
// has none (an older bf-serve).
func maskings(m *manifest.Manifest) map[string]string {
	var out map[string]string
	for _, t := range m.Tables {
		if t.Masking == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[t.Name] = t.Masking
	}
	return out
}

// history prints the last pulls and the checkpoint.
func (c *cmd) history() error {
	f, err := c.store.Load()
	if err != nil {
		return err
	}
	src, dst := c.where()
	recent := f.Recent(c.o.n)
	cp := f.Checkpoint(nil, src, dst)
	if c.o.asJSON {
		out := struct {
			StateFile  string        `json:"state_file"`
			Pulls      []*state.Pull `json:"pulls"`
			Checkpoint string        `json:"checkpoint"`
		}{c.store.Path, recent, cp}
		if out.Pulls == nil {
			out.Pulls = []*state.Pull{}
		}
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	w := c.env.Stdout
	if len(recent) == 0 {
		fmt.Fprintf(w, "No pulls recorded in %s yet; the first pull is a full one.\n", c.store.Path)
		return nil
	}
	fmt.Fprintf(w, "Pull history (last %d, newest first)\n", c.o.n)
	b := &box{
		head:  []string{"ID", "Mode", "Status", "Rows", "Tables", "Duration", "Started"},
		right: []bool{true, false, false, true, false, false, false},
	}
	for _, p := range recent {
		rows, tables, dur := "", "", ""
		started, err := time.Parse(time.RFC3339, p.StartedAt)
		switch p.Status {
		case state.Complete:
			rows = count(p.Rows)
			tables = plural(int64(len(p.Tables)), "table")
			dur = human(time.Duration(p.DurationSeconds * float64(time.Second)))
		case state.Running:
			if err == nil {
				dur = human(c.now().Sub(started))
			}
		default:
			if p.FinishedAt != "" {
				dur = human(time.Duration(p.DurationSeconds * float64(time.Second)))
			}
		}
		if len(p.Only) > 0 && p.Status != state.Complete {
			tables = shorten(strings.Join(p.Only, ", "), 24)
		} else if len(p.Only) > 0 {
			tables += " (" + shorten(strings.Join(p.Only, ", "), 24) + ")"
		}
		when := p.StartedAt
		if err == nil {
			when = started.Local().Format("2006-01-02 15:04:05")
		}
		b.add(strconv.Itoa(p.ID), strings.ToUpper(p.Mode), describe(p), rows, tables, dur, when)
	}
	if err := b.write(w); err != nil {
		return err
	}
	if cp == "" {
		fmt.Fprintln(w, "No complete pull of every table yet: the next pull is a full one.")
		return nil
	}
	fmt.Fprintf(w, "Last successful pull: %s (the source server's clock)\n", cp)
	fmt.Fprintln(w, "A delta pull will fetch the rows created or updated after this timestamp.")
	return nil
}

// describe is a pull's status for the table: "complete", "failed at
// import (users)", "interrupted at download", "running: download".
func describe(p *state.Pull) string {
	switch p.Status {
	case state.Complete:
		return "complete"
	case state.Running:
		if p.Step != "" {
			return "running: " + p.Step
		}
		return "running"
	}
	s := p.Status
	if p.Step != "" {
		s += " at " + p.Step
	}
	if p.Table != "" {
		s += " (" + shorten(p.Table, 20) + ")"
	}
	return s
}

func (c *cmd) begin() error {
	if c.o.mode.Value == "" {
		return &cli.UsageError{Msg: "begin needs --mode full or --mode delta", Hints: []string{"usage: " + synopsis["begin"]}}
	}
	if c.o.pid <= 0 {
		return &cli.UsageError{Msg: "begin needs --pid PID, the process of the pull (a shell script passes $$)", Hints: []string{"usage: " + synopsis["begin"]}}
	}
	if c.o.mode.Value == state.Delta && c.o.since == "" {
		return cli.Usagef("a delta pull needs --since (bf-status checkpoint prints it)")
	}
	if c.o.mode.Value == state.Full && c.o.since != "" {
		return cli.Usagef("a full pull takes no --since")
	}
	if c.o.since != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.o.since); err != nil {
			return cli.Usagef("--since %q is not an RFC 3339 time (example: 2026-11-25T12:00:00Z)", c.o.since)
		}
	}
	src, err := source(c.cfg)
	if err != nil {
		return &cli.UsageError{Msg: err.Error(), Hints: cli.Hints(err)}
	}
	dst, err := target(c.cfg)
	if err != nil {
		return &cli.UsageError{Msg: err.Error()}
	}
	p, err := c.store.Begin(state.Start{Mode: c.o.mode.Value, Since: c.o.since, Only: c.o.tables, Source: src, Target: dst, PID: c.o.pid})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.env.Stdout, p.ID)
	return nil
}

package bfstatus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/fetch"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/state"
)

// ResumeWindow is how old a download may be and still be offered for
// resuming (the original package's 24 hours).
const ResumeWindow = 24 * time.Hour

// readManifest reads the manifest in the file at path, - for standard
// input.
func (c *cmd) readManifest(path string) (*manifest.Manifest, error) {
	var r io.Reader = c.env.Stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	return manifest.Decode(r, name)
}

// dryRun prints the table of what a pull of the manifest at path brings.
func (c *cmd) dryRun(path string) error {
	m, err := c.readManifest(path)
	if err != nil {
		return err
	}
	names, err := m.Select(c.o.tables)
	if err != nil {
		return &cli.UsageError{Msg: "--tables: " + err.Error()}
	}
	delta := m.Since != ""
	w := c.env.Stdout
	if delta {
		fmt.Fprintf(w, "Dry run: a delta pull of %s of database %q, changes since %s\n", plural(int64(len(names)), "table"), m.Database, m.Since)
	} else {
		fmt.Fprintf(w, "Dry run: a full pull of %s of database %q\n", plural(int64(len(names)), "table"), m.Database)
	}
	b := &box{
		head:  []string{"Table", "Rows", "Sanitized", "Limited", "Delta"},
		right: []bool{false, true, false, false, false},
	}
	var total int64
	picked := map[string]bool{}
	for _, n := range names {
		picked[n] = true
		t, _ := m.Table(n)
		// What a dump writes: the subset's kept rows when [limits]
		// restricts the table, else the estimate; in a delta, the rows
		// changed since (already counted through the subset).
		rows := t.Rows
		if t.KeptRows != nil {
			rows = *t.KeptRows
		}
		deltaCell := "no"
		if t.Delta {
			deltaCell = "yes"
		}
		if delta {
			if t.Delta && t.DeltaRows != nil {
				rows = *t.DeltaRows
			} else {
				deltaCell = "no: whole table"
			}
		}
		total += rows
		b.add(n, count(rows), shorten(strings.Join(t.Sanitized, ", "), 40), limitText(t), deltaCell)
	}
	if err := b.write(w); err != nil {
		return err
	}
	if delta {
		fmt.Fprintf(w, "About %s: exact counts of the rows created or updated since %s, estimates for tables that come whole.\n", plural(total, "row"), m.Since)
	} else {
		fmt.Fprintf(w, "About %s (the server's estimates; exact for limited tables).\n", plural(total, "row"))
	}
	var unreviewed []string
	for _, f := range m.Unreviewed {
		if picked[f.Table] {
			unreviewed = append(unreviewed, f.Table+"."+f.Column)
		}
	}
	if len(unreviewed) > 0 {
		fmt.Fprintf(w, "Not sanitized although they look sensitive (no rule; bf-init --scan suggests one): %s.\n", strings.Join(unreviewed, ", "))
	}
	return nil
}

// limitText describes how [limits] restricts a table: its own limit, or
// the limit of a table it references.
func limitText(t *manifest.Table) string {
	l := t.Limit
	if l == nil {
		if t.KeptRows != nil {
			return "through a parent"
		}
		return ""
	}
	var parts []string
	if l.MaxRows > 0 {
		parts = append(parts, "max "+plural(l.MaxRows, "row"))
	}
	if l.KeepDays > 0 {
		parts = append(parts, "last "+plural(int64(l.KeepDays), "day"))
	}
	return strings.Join(parts, ", ")
}

// cacheDir prints the download directory of a pull: one per source, since
// and set of tables, so a download is only ever reused for the same pull.
func (c *cmd) cacheDir() error {
	src, err := source(c.cfg)
	if err != nil {
		return &cli.UsageError{Msg: err.Error(), Hints: cli.Hints(err)}
	}
	if c.o.since != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.o.since); err != nil {
			return cli.Usagef("--since %q is not an RFC 3339 time (example: 2026-11-25T12:00:00Z)", c.o.since)
		}
	}
	tables := slices.Clone([]string(c.o.tables))
	slices.Sort(tables)
	tables = slices.Compact(tables)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", src, c.o.since, strings.Join(tables, "\x00"))
	mode := state.Full
	if c.o.since != "" {
		mode = state.Delta
	}
	fmt.Fprintln(c.env.Stdout, filepath.Join(c.cfg.Client.CacheDir, mode+"-"+hex.EncodeToString(h.Sum(nil))[:12]))
	return nil
}

// readMeta reads DIR/meta.json; (nil, nil) when there is none.
func readMeta(dir string) (*fetch.Meta, error) {
	data, err := os.ReadFile(filepath.Join(dir, fetch.MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m fetch.Meta
	if err := json.Unmarshal(data, &m); err != nil || m.Version != fetch.MetaVersion {
		return nil, fmt.Errorf("%s: not a meta.json this bf-status reads", filepath.Join(dir, fetch.MetaFile))
	}
	return &m, nil
}

// age is how old the data of a download is: the oldest complete table's
// fetch time, else the start of the download.
func age(m *fetch.Meta, now time.Time) (time.Duration, int) {
	var oldest time.Time
	complete := 0
	for _, t := range m.Tables {
		if t.Status != "complete" {
			continue
		}
		complete++
		if at, err := time.Parse(time.RFC3339, t.FetchedAt); err == nil && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		if at, err := time.Parse(time.RFC3339, m.StartedAt); err == nil {
			oldest = at
		} else {
			return 100 * ResumeWindow, complete
		}
	}
	return now.Sub(oldest), complete
}

// cache prints reuse, resume or fetch for the download in dir.
func (c *cmd) cache(dir string) error {
	verdict := func(v string) error {
		_, err := fmt.Fprintln(c.env.Stdout, v)
		return err
	}
	m, err := readMeta(dir)
	if err != nil {
		c.log.Printf("%v; downloading again", err)
		return verdict("fetch")
	}
	if m == nil {
		return verdict("fetch")
	}
	if c.o.manifest != "" {
		cur, err := c.readManifest(c.o.manifest)
		if err != nil {
			return err
		}
		old, err := c.readManifest(filepath.Join(dir, fetch.ManifestFile))
		if err != nil {
			old = nil // no manifest to tell: nothing is kept
		}
		if t := maskedOtherwise(m, old, cur); t != "" {
			c.log.Printf("%s holds a download that masks %s otherwise than the server does now; downloading again", dir, t)
			return verdict("fetch")
		}
	}
	if src, err := source(c.cfg); err == nil && m.SourceURL != src {
		c.log.Printf("%s holds a download from %s; downloading again", dir, m.SourceURL)
		return verdict("fetch")
	}
	now := c.now()
	old, complete := age(m, now)
	maxAge := time.Duration(c.cfg.Client.LocalCacheHours * float64(time.Hour))
	what := "download of " + plural(int64(len(m.Tables)), "table")
	switch {
	case m.Status == "complete" && old <= maxAge:
		c.log.Printf("using the complete %s from %s in %s (younger than local_cache_hours; --fresh downloads again)", what, ago(old), dir)
		return verdict("reuse")
	case old > ResumeWindow:
		c.log.Printf("%s holds a %s from %s; downloading again", dir, what, ago(old))
		return verdict("fetch")
	case m.Status == "complete":
		c.log.Printf("found a complete %s from %s in %s", what, ago(old), dir)
		return verdict("resume")
	case complete > 0:
		c.log.Printf("found an interrupted download from %s in %s: %d of %s complete", ago(old), dir, complete, plural(int64(len(m.Tables)), "table"))
		return verdict("resume")
	}
	return verdict("fetch")
}

// maskedOtherwise names a table of a download (meta lists them, old is
// its manifest, nil when unreadable) that it masks otherwise than cur says
// the server does now (a kept table would mix two maskings); "" when none
// does, or cur has no fingerprints (an older bf-serve): see
// manifest.MaskedOtherwise. Tables of the manifest the download does not
// hold do not count.
func maskedOtherwise(meta *fetch.Meta, old, cur *manifest.Manifest) string {
	if !cur.Fingerprinted() {
		return ""
	}
	if old == nil {
		return "its tables"
	}
	names := make([]string, len(meta.Tables))
	for i, t := range meta.Tables {
		names[i] = t.Name
	}
	return manifest.MaskedOtherwise(old, cur, names)
}

// files prints the dump files of the complete download in dir.
func (c *cmd) files(dir string) error {
	m, err := readMeta(dir)
	if err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%s holds no download (no %s)", dir, fetch.MetaFile)
	}
	if m.Status != "complete" {
		return fmt.Errorf("the download in %s is %s, not complete", dir, m.Status)
	}
	var b strings.Builder
	for _, t := range m.Tables {
		b.WriteString(filepath.Join(dir, t.File) + "\n")
	}
	_, err = io.WriteString(c.env.Stdout, b.String())
	return err
}

// importResult is the part of bf-import --json's output a pull records.
type importResult struct {
	Tables []struct {
		Table string `json:"table"`
	} `json:"tables"`
	Rows int64 `json:"rows"`
}

func (c *cmd) finish(id int) error {
	o := c.o
	if o.status.Value == "" {
		return &cli.UsageError{Msg: "finish needs --status complete, failed or interrupted", Hints: []string{"usage: " + synopsis["finish"]}}
	}
	out := state.Outcome{Status: o.status.Value, Step: o.step, Table: o.table, Error: o.errMsg}
	f, err := c.store.Load()
	if err != nil {
		return err
	}
	p, err := f.Pull(id)
	if err != nil {
		return err
	}
	if out.Status == state.Complete {
		if o.dir == "" || o.result == "" {
			return &cli.UsageError{Msg: "finish --status complete needs --dir (the download) and --result (bf-import --json's output)"}
		}
		m, err := c.readManifest(filepath.Join(o.dir, fetch.ManifestFile))
		if err != nil {
			return err
		}
		out.Checkpoint = m.GeneratedAt
		out.Masking = maskings(m)
		if len(p.Only) > 0 && out.Masking != nil {
			// The pull's own tables: only their local rows come from it.
			own := map[string]string{}
			for _, t := range p.Only {
				if fp, ok := out.Masking[t]; ok {
					own[t] = fp
				}
			}
			out.Masking = own
		}
		data, err := os.ReadFile(o.result)
		if err != nil {
			return err
		}
		var res importResult
		if err := json.Unmarshal(data, &res); err != nil {
			return fmt.Errorf("%s: not bf-import --json output: %w", o.result, err)
		}
		out.Rows = res.Rows
		for _, t := range res.Tables {
			out.Tables = append(out.Tables, t.Table)
		}
	} else {
		c.failure(p, &out)
	}
	p, err = c.store.Finish(id, out)
	if err != nil {
		return err
	}
	src, dst := c.where()
	f, err = c.store.Load()
	if err != nil {
		return err
	}
	next := f.Checkpoint(p.Only, src, dst)
	switch p.Status {
	case state.Complete:
		c.log.Printf("pull %d complete: %s, %s into %s in %s; the next delta pull starts at %s",
			p.ID, p.Mode, plural(p.Rows, "row"), plural(int64(len(p.Tables)), "table"),
			human(time.Duration(p.DurationSeconds*float64(time.Second))), next)
	default:
		where := p.Step
		if p.Table != "" {
			where += fmt.Sprintf(" (table %q)", p.Table)
		}
		if next == "" {
			c.log.Printf("pull %d %s at %s; no checkpoint yet, so the next pull is a full one", p.ID, p.Status, where)
		} else {
			c.log.Printf("pull %d %s at %s; the checkpoint stays at %s", p.ID, p.Status, where, next)
		}
	}
	return nil
}

// errorLine matches a tool's error line: "bf-import: error: MESSAGE".
var errorLine = regexp.MustCompile(`^bf-[a-z]+: error: (.*)$`)

// failure fills in the table and message of a failed or interrupted pull
// from what the tools left: a failed table in meta.json (a download of this
// pull), or the first error line of a tool's stderr.
func (c *cmd) failure(p *state.Pull, out *state.Outcome) {
	if c.o.dir != "" && (out.Step == "download" || (out.Step == "" && p.Step == "download")) {
		if m, err := readMeta(c.o.dir); err == nil && m != nil && m.StartedAt >= p.StartedAt {
			for _, t := range m.Tables {
				if t.Status == "failed" {
					if out.Table == "" {
						out.Table = t.Name
					}
					if out.Error == "" {
						out.Error = t.Error
					}
					break
				}
			}
		}
	}
	if c.o.errorFile != "" && out.Error == "" {
		data, err := os.ReadFile(c.o.errorFile)
		if err == nil {
			// The first error line is the cause; later ones (rolled
			// back, interrupted) are consequences.
			for _, line := range strings.Split(string(data), "\n") {
				if m := errorLine.FindStringSubmatch(line); m != nil {
					out.Error = m[1]
					break
				}
			}
		}
	}
	// bf-import names the stream first: "DIR/users.sql.zst: ...".
	if out.Table == "" {
		if i := strings.Index(out.Error, ".sql.zst: "); i >= 0 {
			base := filepath.Base(out.Error[:i])
			if t, err := url.PathUnescape(base); err == nil {
				out.Table = t
			}
		}
	}
}

// hook runs on_complete for a complete pull.
func (c *cmd) hook(ctx context.Context, id int) error {
	f, err := c.store.Load()
	if err != nil {
		return err
	}
	p, err := f.Pull(id)
	if err != nil {
		return err
	}
	if p.Status != state.Complete {
		return fmt.Errorf("pull %d is %s: on_complete runs only after a complete pull", id, p.Status)
	}
	line := strings.TrimSpace(c.cfg.Client.OnComplete)
	if line == "" {
		return nil
	}
	c.log.Printf("running on_complete")
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.env.Stdin, c.env.Stdout, c.env.Stderr
	cmd.Env = append(os.Environ(),
		"BACKFILL_MODE="+p.Mode,
		"BACKFILL_TABLES="+strings.Join(p.Tables, ","),
		"BACKFILL_ROWS="+strconv.FormatInt(p.Rows, 10),
		"BACKFILL_PULL_ID="+strconv.Itoa(p.ID),
		"BACKFILL_CHECKPOINT="+p.Checkpoint,
	)
	if err := cmd.Run(); err != nil {
		return cli.WithHint(fmt.Errorf("on_complete %q: %w", line, err),
			"the pull itself is complete and recorded; fix the command in [client] on_complete and run it by hand if it is needed")
	}
	return nil
}

var downloadDir = regexp.MustCompile(`^(full|delta)-[0-9a-f]{12}$`)

// prune removes download directories older than ResumeWindow.
func (c *cmd) prune() error {
	root := c.cfg.Client.CacheDir
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	keep := ""
	if c.o.keep != "" {
		keep = filepath.Clean(c.o.keep)
	}
	now := c.now()
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !e.IsDir() || !downloadDir.MatchString(e.Name()) || dir == keep {
			continue
		}
		var old time.Duration
		if m, err := readMeta(dir); err == nil && m != nil {
			old, _ = age(m, now)
			if at, err := time.Parse(time.RFC3339, m.FinishedAt); err == nil && now.Sub(at) < old {
				old = now.Sub(at)
			}
		} else if fi, err := e.Info(); err == nil {
			old = now.Sub(fi.ModTime())
		}
		if old <= ResumeWindow {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		c.log.Printf("removed %s (a download from %s)", dir, ago(old))
	}
	return nil
}

package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/progress"
	"github.com/backfill/backfill/lib/safefile"
)

// Names of the files [Fetcher.All] writes beside the dumps.
const (
	ManifestFile = "manifest.json"
	MetaFile     = "meta.json"
)

// MetaVersion is the version of the meta.json format.
const MetaVersion = 1

// Meta is DIR/meta.json: what a download directory holds. It is written
// atomically when a run starts (status "running") and when it ends. It
// never holds the token. Keys are never renamed or removed within
// "version": 1; new keys may be added.
type Meta struct {
	Version int `json:"version"`
	// SourceURL is the server the files came from.
	SourceURL string `json:"source_url"`
	// Mode is "full", or "delta" when Since is set.
	Mode  string `json:"mode"`
	Since string `json:"since"`
	// Status is "running", "complete" (every table complete), "failed"
	// or "interrupted".
	Status     string `json:"status"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	// GeneratedAt is manifest.json's generated_at: the since of the next
	// delta pull once these files are imported.
	GeneratedAt string      `json:"generated_at"`
	Tables      []TableMeta `json:"tables"`
}

// TableMeta is one table of meta.json.
type TableMeta struct {
	Name string `json:"name"`
	// File is the dump's file name in the directory ([FileName]).
	File string `json:"file"`
	// Status is "complete" (File holds a verified stream), "failed", or
	// "pending" (not fetched, or stopped when another table failed or the
	// run was interrupted).
	Status string `json:"status"`
	// Kept is true when an earlier run fetched the file.
	Kept  bool  `json:"kept"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// FetchedAt is when the complete file was stored ("" unless complete).
	FetchedAt string `json:"fetched_at"`
	Error     string `json:"error,omitempty"`
}

// Options says what [Fetcher.All] fetches.
type Options struct {
	// Dir receives the files; it is created if missing.
	Dir string
	// Since asks for delta dumps (RFC 3339); "" for full ones.
	Since string
	// Tables restricts the download to these tables (nil: every table of
	// the manifest). An unknown name is an error wrapping ErrUnknownTable.
	Tables []string
	// Parallel is the number of concurrent downloads (at least 1).
	Parallel int
	// Fresh ignores what Dir holds: everything is fetched again.
	Fresh bool
	// MaxAge, when positive, fetches again the tables whose complete files
	// are older than this.
	MaxAge time.Duration
}

// ErrUnknownTable is wrapped by the error for a --tables name the
// manifest does not have (a usage error: exit status 2).
var ErrUnknownTable = errors.New("unknown table")

type unknownTableError struct{ err error }

func (e unknownTableError) Error() string        { return e.err.Error() }
func (e unknownTableError) Unwrap() error        { return e.err }
func (e unknownTableError) Is(target error) bool { return target == ErrUnknownTable }

// FileName is the file a table's dump is stored in: TABLE.sql.zst, with
// "/", "\", "%", control characters and a leading "." percent-encoded so
// that any table name MySQL allows stays one file inside the directory.
func FileName(table string) string {
	var b strings.Builder
	for i := 0; i < len(table); i++ {
		c := table[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%' || (i == 0 && c == '.') {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String() + ".sql.zst"
}

// All downloads the tables of the manifest into o.Dir (see the package
// comment for the files, reruns and retries). It returns the meta.json it
// wrote last, also on failure (nil only when nothing was written).
func (f *Fetcher) All(ctx context.Context, o Options) (*Meta, error) {
	rep := f.progress()
	start := f.now()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	m, err := f.Manifest(ctx, o.Since)
	if err != nil {
		return nil, err
	}
	names, err := m.Select(o.Tables)
	if err != nil {
		return nil, unknownTableError{fmt.Errorf("--tables: %w", err)}
	}

	prev, reason := f.previous(o, m, start)
	switch {
	case prev != nil:
		m = prev.manifest // its generated_at predates every kept stream
	case reason != "":
		rep.Printf("%s holds %s; fetching everything again", o.Dir, reason)
	}
	if prev == nil {
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, m); err != nil {
			return nil, err
		}
		if err := safefile.WriteFile(filepath.Join(o.Dir, ManifestFile), buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}

	meta := &Meta{
		Version:     MetaVersion,
		SourceURL:   f.SourceURL,
		Mode:        "full",
		Since:       o.Since,
		Status:      "running",
		StartedAt:   stamp(start),
		GeneratedAt: m.GeneratedAt,
		Tables:      make([]TableMeta, len(names)),
	}
	if o.Since != "" {
		meta.Mode = "delta"
	}
	plan := make([]progress.Table, len(names))
	for i, n := range names {
		meta.Tables[i] = TableMeta{Name: n, File: FileName(n), Status: "pending"}
		t, _ := m.Table(n)
		plan[i] = progress.Table{Name: n, EstRows: t.Rows}
	}
	if err := f.writeMeta(o.Dir, meta); err != nil {
		return nil, err
	}
	rep.Plan(plan)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		jobs     = make(chan int)
	)
	for range max(min(o.Parallel, len(names)), 1) {
		wg.Go(func() {
			for i := range jobs {
				mu.Lock()
				tm := meta.Tables[i]
				mu.Unlock()
				t, _ := m.Table(tm.Name)
				err := f.table(ctx, o, prev, t, &tm)
				stopped := err != nil && ctx.Err() != nil && errors.Is(err, context.Cause(ctx))
				if err != nil && !stopped {
					tm.Status, tm.Error = "failed", err.Error()
				}
				mu.Lock()
				meta.Tables[i] = tm
				if err != nil && !stopped && firstErr == nil {
					firstErr = err
					cancel(err)
				}
				// Record each finished table at once, so that a rerun after
				// a crash of this process keeps what it completed.
				var werr error
				if !stopped {
					werr = f.writeMeta(o.Dir, meta)
				}
				if werr != nil && firstErr == nil {
					firstErr = werr
					cancel(werr)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range names {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	complete := 0
	for _, t := range meta.Tables {
		if t.Status == "complete" {
			complete++
		}
	}
	meta.FinishedAt = stamp(f.now())
	switch {
	case firstErr != nil:
		meta.Status = "failed"
	case ctx.Err() != nil:
		meta.Status = "interrupted"
	default:
		meta.Status = "complete"
	}
	if err := f.writeMeta(o.Dir, meta); err != nil && firstErr == nil && ctx.Err() == nil {
		return meta, err
	}
	rest := fmt.Sprintf("%d of %d tables are complete in %s; run the same command again to fetch only the rest", complete, len(names), o.Dir)
	switch {
	case firstErr != nil:
		if complete > 0 {
			return meta, hint.Wrap(firstErr, rest)
		}
		return meta, firstErr
	case ctx.Err() != nil:
		return meta, fmt.Errorf("%w; %s", context.Cause(ctx), rest)
	}
	return meta, nil
}

// table keeps or downloads one table, filling in tm.
func (f *Fetcher) table(ctx context.Context, o Options, prev *previous, t *manifest.Table, tm *TableMeta) error {
	rep := f.progress()
	final := filepath.Join(o.Dir, tm.File)
	if prev != nil {
		if res, at, ok := prev.keep(f, o, t, tm.File); ok {
			os.Remove(final + ".part") // a leftover of an older attempt
			tm.Status, tm.Kept, tm.Rows, tm.Bytes, tm.FetchedAt = "complete", true, res.Rows, res.Bytes, stamp(at)
			rep.Kept(t.Name, res.Rows, res.Bytes)
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	tr := rep.Begin(t.Name)
	res, err := f.download(ctx, t.Name, o.Since, tr, func() (tempFile, error) { return createPart(final) })
	if err != nil {
		tr.Fail(err)
		return err
	}
	tr.Done(res.Bytes, res.Rows)
	tm.Status, tm.Rows, tm.Bytes, tm.FetchedAt = "complete", res.Rows, res.Bytes, stamp(f.now())
	return nil
}

// previous is what an earlier run left in the directory, when it can be
// resumed.
type previous struct {
	meta     *Meta
	manifest *manifest.Manifest
	fetched  map[string]time.Time // complete tables by name
	now      time.Time
}

// previous reads the directory's meta.json and manifest.json and decides
// whether the run can continue them. When it cannot although the directory
// holds a download, reason says why.
func (f *Fetcher) previous(o Options, m *manifest.Manifest, now time.Time) (*previous, string) {
	if o.Fresh {
		return nil, ""
	}
	data, err := os.ReadFile(filepath.Join(o.Dir, MetaFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ""
		}
		return nil, "an unreadable " + MetaFile
	}
	var meta Meta
	if err := json.Unmarshal(data, &meta); err != nil || meta.Version != MetaVersion {
		return nil, "a " + MetaFile + " this bf-fetch does not read"
	}
	mf, err := os.Open(filepath.Join(o.Dir, ManifestFile))
	if err != nil {
		return nil, "no readable " + ManifestFile
	}
	defer mf.Close()
	old, err := manifest.Decode(mf, ManifestFile)
	if err != nil {
		return nil, "no readable " + ManifestFile
	}
	switch {
	case meta.SourceURL != f.SourceURL:
		return nil, fmt.Sprintf("a download from %s", meta.SourceURL)
	case !sameTime(meta.Since, o.Since):
		if meta.Since == "" {
			return nil, "a full download"
		}
		return nil, fmt.Sprintf("a download since %s", meta.Since)
	case !sameSchema(old, m):
		return nil, "a download of a different schema (tables, columns, keys, sanitizing or limits changed)"
	case maskedOtherwise(old, m, o.Tables):
		return nil, "a download masked another way (the server's sanitize rules, salt or masking version changed)"
	}
	p := &previous{meta: &meta, manifest: old, fetched: map[string]time.Time{}, now: now}
	fresh := 0
	for _, t := range meta.Tables {
		if t.Status != "complete" {
			continue
		}
		at, err := time.Parse(time.RFC3339, t.FetchedAt)
		if err != nil {
			continue
		}
		p.fetched[t.Name] = at
		if o.MaxAge <= 0 || now.Sub(at) <= o.MaxAge {
			fresh++
		}
	}
	if fresh == 0 {
		// Nothing to keep: take the new manifest (newer generated_at).
		if len(p.fetched) > 0 {
			return nil, "a download older than the maximum age"
		}
		return nil, ""
	}
	return p, ""
}

// keep verifies the complete file of table t from the earlier run.
func (p *previous) keep(f *Fetcher, o Options, t *manifest.Table, file string) (Result, time.Time, bool) {
	at, ok := p.fetched[t.Name]
	if !ok || (o.MaxAge > 0 && p.now.Sub(at) > o.MaxAge) {
		return Result{}, at, false
	}
	path := filepath.Join(o.Dir, file)
	fh, err := os.Open(path)
	if err != nil {
		return Result{}, at, false
	}
	defer fh.Close()
	cr := &countReader{r: fh, kick: func() {}}
	h, rows, err := verifyCopy(cr, func(dumpfmt.Header) error { return nil }, func(int64) {})
	if err != nil {
		f.progress().Warnf("%s: %v; fetching it again", path, err)
		return Result{}, at, false
	}
	if h.Table != t.Name || !sinceMatches(h, o.Since, t.Delta) {
		return Result{}, at, false
	}
	return Result{Header: h, Rows: rows, Bytes: cr.n}, at, true
}

// sinceMatches reports whether a stream's header fits a request with since
// for a table whose delta flag is delta.
func sinceMatches(h dumpfmt.Header, since string, delta bool) bool {
	if since == "" {
		return h.Mode == "full"
	}
	if h.Mode == "full" && !delta {
		return true // no delta columns: always dumped whole
	}
	return sameTime(h.Since, since)
}

// sameTime compares two RFC 3339 times as a delta applies them, rounded
// down to the second (manifest.ParseSince); "" only equals "".
func sameTime(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	ta, ea := manifest.ParseSince(a)
	tb, eb := manifest.ParseSince(b)
	if ea != nil || eb != nil {
		return a == b
	}
	return ta.Equal(tb)
}

// maskedOtherwise reports whether a table downloaded (only, or every
// table of old when only is empty) is masked in old otherwise than in cur
// (manifest.MaskedOtherwise). Another table's masking does not concern a
// download without it.
func maskedOtherwise(old, cur *manifest.Manifest, only []string) bool {
	names, err := old.Select(only)
	return err != nil || manifest.MaskedOtherwise(old, cur, names) != ""
}

// sameSchema compares what decides a dump's content: the table set and,
// per table, columns, keys, sanitized columns, limit and delta flag. Row
// estimates and generated_at are ignored.
func sameSchema(a, b *manifest.Manifest) bool {
	type shape struct {
		Name        string
		PrimaryKey  []string
		Columns     []manifest.Column
		ForeignKeys []manifest.ForeignKey
		Sanitized   []string
		Limit       *manifest.Limit
		Delta       bool
	}
	key := func(m *manifest.Manifest) []byte {
		var s []shape
		for _, n := range m.Names() {
			t, _ := m.Table(n)
			s = append(s, shape{t.Name, t.PrimaryKey, t.Columns, t.ForeignKeys, t.Sanitized, t.Limit, t.Delta})
		}
		b, _ := json.Marshal(struct {
			Database string
			Excluded []string
			Tables   []shape
		}{m.Database, m.Excluded, s})
		return b
	}
	return bytes.Equal(key(a), key(b))
}

func (f *Fetcher) writeMeta(dir string, m *Meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(filepath.Join(dir, MetaFile), append(data, '\n'), 0o644)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

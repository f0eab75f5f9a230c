package fetch_test

// These tests drive the retry, timeout, verification and resume logic
// through HTTP against a small fixture server that speaks contract 3 with
// streams made by dumpfmt.Writer, so that failures (503, cuts, stalls) can
// be produced on demand. The same client against the real bf-serve and the
// real database is tested by testdata/script/fetch_*.txtar at the root.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/fetch"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/internal/testio"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/progress"
)

const token = "fixture-token-0123456789abcdef012345"

// fixture is an HTTP server with bf-serve's routes over made-up tables.
type fixture struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	tables      map[string]int // name → rows
	order       []string
	columns     []manifest.Column
	masking     string            // every table's masking fingerprint
	maskingOf   map[string]string // but these tables' fingerprints
	generatedAt string
	requests    []string // "manifest", "dump/NAME", in arrival order
	active, max int      // concurrent dump requests
	// hook may answer a request itself (return true); n counts the
	// requests for the same route so far, this one included.
	hook func(w http.ResponseWriter, r *http.Request, route string, n int) bool
}

func newFixture(t *testing.T, tables map[string]int) *fixture {
	fx := &fixture{t: t, tables: tables, generatedAt: "2026-11-25T12:00:00Z",
		columns: []manifest.Column{{Name: "id", Type: "int(11)"}, {Name: "name", Type: "varchar(20)", Nullable: true}}}
	for n := range tables {
		fx.order = append(fx.order, n)
	}
	slices.Sort(fx.order)
	fx.srv = httptest.NewServer(http.HandlerFunc(fx.serve))
	t.Cleanup(fx.srv.Close)
	return fx
}

func (fx *fixture) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+token {
		writeErr(w, http.StatusUnauthorized, "missing or wrong token")
		return
	}
	route := strings.TrimPrefix(r.URL.Path, httpapi.DefaultPrefix+"/")
	fx.mu.Lock()
	fx.requests = append(fx.requests, route)
	n := 0
	for _, q := range fx.requests {
		if q == route {
			n++
		}
	}
	hook := fx.hook
	fx.mu.Unlock()
	if hook != nil && hook(w, r, route, n) {
		return
	}
	switch {
	case route == "manifest":
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, fx.manifest()); err != nil {
			panic(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(buf.Bytes())
	case strings.HasPrefix(route, "dump/"):
		table := strings.TrimPrefix(route, "dump/")
		fx.mu.Lock()
		rows, ok := fx.tables[table]
		fx.active++
		fx.max = max(fx.max, fx.active)
		fx.mu.Unlock()
		defer func() { fx.mu.Lock(); fx.active--; fx.mu.Unlock() }()
		if !ok {
			writeErr(w, http.StatusNotFound, fmt.Sprintf("unknown table %q", table))
			return
		}
		w.Header().Set("Content-Type", "application/zstd")
		w.Write(stream(fx.t, table, r.URL.Query().Get("since"), rows))
		time.Sleep(20 * time.Millisecond) // long enough for parallel requests to overlap
	default:
		writeErr(w, http.StatusNotFound, "no such route")
	}
}

func (fx *fixture) manifest() *manifest.Manifest {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	m := &manifest.Manifest{Version: 1, GeneratedAt: fx.generatedAt, Database: "app",
		Order: slices.Clone(fx.order), Excluded: []string{}, BrokenCycles: []manifest.BrokenEdge{}}
	for _, n := range fx.order {
		masking := fx.masking
		if fp, ok := fx.maskingOf[n]; ok {
			masking = fp
		}
		m.Tables = append(m.Tables, &manifest.Table{Name: n, Rows: int64(fx.tables[n]), PrimaryKey: []string{"id"},
			Columns: slices.Clone(fx.columns), ForeignKeys: []manifest.ForeignKey{}, Sanitized: []string{}, Masking: masking})
	}
	return m
}

// dumps returns the dump requests since the last call, sorted.
func (fx *fixture) dumps() []string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	var out []string
	for _, r := range fx.requests {
		if t, ok := strings.CutPrefix(r, "dump/"); ok {
			out = append(out, t)
		}
	}
	fx.requests = nil
	slices.Sort(out)
	return out
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// stream is a valid dump of rows made-up rows.
func stream(t *testing.T, table, since string, rows int) []byte {
	var buf bytes.Buffer
	h := dumpfmt.Header{Table: table, Mode: "full", GeneratedAt: "2026-11-25T12:00:01Z"}
	if since != "" {
		h.Mode, h.Since = "delta", since
	}
	w, err := dumpfmt.NewWriter(&buf, h, dumpfmt.Options{Columns: []string{"id", "name"}, ChunkRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.WriteRow(fmt.Appendf(nil, "(%d,'row %d of %s')", i+1, i+1, table)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cut sends the first half of a valid stream, then aborts the response,
// as bf-serve does when its dump fails mid-way.
func cut(t *testing.T, w http.ResponseWriter, table string, rows int) {
	data := stream(t, table, "", rows)
	w.Header().Set("Content-Type", "application/zstd")
	w.Write(data[:len(data)/2])
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// fetcher is a Fetcher with fast retries reporting lines into log.
func (fx *fixture) fetcher(log *testio.SyncBuffer) *fetch.Fetcher {
	return &fetch.Fetcher{
		Source:    &httpapi.Client{BaseURL: fx.srv.URL, Token: token},
		SourceURL: fx.srv.URL,
		Retry:     fetch.Retry{Attempts: 3, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, BusyFor: 10 * time.Second},
		Progress:  progress.NewLines(log, "bf-fetch"),
	}
}

func verifyFile(t *testing.T, path string) (dumpfmt.Header, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, rows, err := dumpfmt.Verify(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h, rows
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestDumpFile_Verified(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 250})
	var log testio.SyncBuffer
	path := filepath.Join(t.TempDir(), "users.sql.zst")
	res, err := fx.fetcher(&log).DumpFile(t.Context(), "users", "", path)
	if err != nil {
		t.Fatal(err)
	}
	h, rows := verifyFile(t, path)
	if h.Table != "users" || rows != 250 || res.Rows != 250 {
		t.Errorf("header %+v, %d rows in the file, %d reported; want users, 250", h, rows, res.Rows)
	}
	fi, _ := os.Stat(path)
	if res.Bytes != fi.Size() {
		t.Errorf("Bytes = %d, file has %d", res.Bytes, fi.Size())
	}
	if !regexp.MustCompile(`^bf-fetch: users: 250 rows, [0-9.]+ (B|KiB) in `).MatchString(log.String()) {
		t.Errorf("log = %q", log.String())
	}
}

// TestDumpFile_CutIsRetried: a transfer cut mid-stream (the server's dump
// failed, or the network dropped) is fetched again from the start.
func TestDumpFile_CutIsRetried(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 5000})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		if route == "dump/users" && n == 1 {
			cut(t, w, "users", 5000)
		}
		return false
	}
	var log testio.SyncBuffer
	path := filepath.Join(t.TempDir(), "users.sql.zst")
	if _, err := fx.fetcher(&log).DumpFile(t.Context(), "users", "", path); err != nil {
		t.Fatal(err)
	}
	if _, rows := verifyFile(t, path); rows != 5000 {
		t.Errorf("rows = %d, want 5000", rows)
	}
	if got := fx.dumps(); len(got) != 2 {
		t.Errorf("requests = %v, want two", got)
	}
	if !strings.Contains(log.String(), `bf-fetch: warning: dump "users": `) || !strings.Contains(log.String(), "attempt 1 of 3 failed, retrying in") {
		t.Errorf("no retry warning in %q", log.String())
	}
}

// TestDumpFile_CutEveryTime: the retries are bounded, and a stream that
// never completes leaves no file (and no temporary file) behind.
func TestDumpFile_CutEveryTime(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 5000})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		cut(t, w, "users", 5000)
		return true
	}
	dir := t.TempDir()
	var log testio.SyncBuffer
	_, err := fx.fetcher(&log).DumpFile(t.Context(), "users", "", filepath.Join(dir, "users.sql.zst"))
	if err == nil {
		t.Fatal("DumpFile succeeded on a cut stream")
	}
	if !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("error = %v", err)
	}
	if got := fx.dumps(); len(got) != 3 {
		t.Errorf("requests = %v, want three", got)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("left behind: %v", got)
	}
}

// TestDump_Busy: a 503 is retried after the server's Retry-After.
func TestDump_Busy(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 10})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "too many dumps at once")
		return true
	}
	var log, out testio.SyncBuffer
	start := time.Now()
	res, err := fx.fetcher(&log).Dump(t.Context(), "users", "", &out)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("retried after %s; the server asked for 1s", d)
	}
	if res.Rows != 10 || len(fx.dumps()) != 2 {
		t.Errorf("rows %d", res.Rows)
	}
	if !strings.Contains(log.String(), "the server is busy, retrying in") {
		t.Errorf("log = %q", log.String())
	}
}

// TestDump_NoRetry: answers that asking again cannot change are final.
func TestDump_NoRetry(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		is     error
		msg    string
	}{
		{"401", http.StatusUnauthorized, `{"error":"missing or wrong token"}`, httpapi.ErrUnauthorized, "the token does not match"},
		{"403", http.StatusForbidden, `{"error":"table \"users\" is excluded"}`, httpapi.ErrForbidden, "refuses to serve this table"},
		{"404", http.StatusNotFound, `{"error":"unknown table"}`, httpapi.ErrNotFound, "404 Not Found"},
		{"html", http.StatusOK, "<!DOCTYPE html><html><body>Welcome</body></html>", httpapi.ErrNotFound, "HTML page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, map[string]int{"users": 10})
			fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
				if strings.HasPrefix(tt.body, "{") {
					w.Header().Set("Content-Type", "application/json")
				} else {
					w.Header().Set("Content-Type", "text/html")
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
				return true
			}
			var log, out testio.SyncBuffer
			_, err := fx.fetcher(&log).Dump(t.Context(), "users", "", &out)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %v, want %v containing %q", err, tt.is, tt.msg)
			}
			if got := fx.dumps(); len(got) != 1 {
				t.Errorf("requests = %v, want one", got)
			}
			if strings.Contains(log.String(), "retrying") {
				t.Errorf("retried: %q", log.String())
			}
		})
	}
}

// TestDump_Stall: a transfer that stops moving for [client] timeout is
// abandoned and retried; one that keeps moving is never cut.
func TestDump_Stall(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 3000})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		data := stream(t, "users", "", 3000)
		w.Header().Set("Content-Type", "application/zstd")
		if n == 1 {
			w.Write(data[:100])
			http.NewResponseController(w).Flush()
			<-r.Context().Done() // stalls until the client gives up
			return true
		}
		// Slow but moving: 10 pieces 50 ms apart, longer than the timeout in all.
		step := len(data)/10 + 1
		for i := 0; i < len(data); i += step {
			w.Write(data[i:min(i+step, len(data))])
			http.NewResponseController(w).Flush()
			time.Sleep(50 * time.Millisecond)
		}
		return true
	}
	var log testio.SyncBuffer
	f := fx.fetcher(&log)
	f.Timeout = 300 * time.Millisecond
	path := filepath.Join(t.TempDir(), "users.sql.zst")
	if _, err := f.DumpFile(t.Context(), "users", "", path); err != nil {
		t.Fatal(err)
	}
	verifyFile(t, path)
	if !strings.Contains(log.String(), "no data from the server for 300ms ([client] timeout)") {
		t.Errorf("log = %q", log.String())
	}
}

// TestDump_NoRetryAfterOutput: once bytes went to standard output a
// retry would duplicate them; the stream there lacks its end marker, so
// bf-import rejects it.
func TestDump_NoRetryAfterOutput(t *testing.T) {
	// Enough rows for several zstd blocks: the header is decoded, and the
	// output begins, before the cut.
	fx := newFixture(t, map[string]int{"users": 200000})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		cut(t, w, "users", 200000)
		return true
	}
	var log, out testio.SyncBuffer
	_, err := fx.fetcher(&log).Dump(t.Context(), "users", "", &out)
	if err == nil || !strings.Contains(err.Error(), "already went to the output; not retrying") {
		t.Fatalf("error = %v", err)
	}
	if got := fx.dumps(); len(got) != 1 {
		t.Errorf("requests = %v, want one", got)
	}
	if _, _, err := dumpfmt.Verify(strings.NewReader(out.String())); !errors.Is(err, dumpfmt.ErrIncomplete) {
		t.Errorf("the output verifies with %v, want ErrIncomplete", err)
	}
}

func readMeta(t *testing.T, dir string) *fetch.Meta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fetch.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var m fetch.Meta
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func statuses(m *fetch.Meta) map[string]string {
	out := map[string]string{}
	for _, t := range m.Tables {
		s := t.Status
		if t.Kept {
			s += ",kept"
		}
		out[t.Name] = s
	}
	return out
}

// TestAll_Rerun: a second run keeps every complete file, and fetches only
// what is missing or no longer verifies.
func TestAll_Rerun(t *testing.T) {
	fx := newFixture(t, map[string]int{"a": 10, "b": 2000, "c": 0, "d": 300})
	dir := t.TempDir()
	var log testio.SyncBuffer
	f := fx.fetcher(&log)
	o := fetch.Options{Dir: dir, Parallel: 3}
	meta, err := f.All(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, fx.dumps()); diff != "" {
		t.Errorf("first run requests (-want +got):\n%s", diff)
	}
	if meta.Status != "complete" || meta.Mode != "full" || meta.SourceURL != fx.srv.URL || meta.GeneratedAt != fx.generatedAt {
		t.Errorf("meta = %+v", meta)
	}
	for _, tm := range meta.Tables {
		if _, rows := verifyFile(t, filepath.Join(dir, tm.File)); rows != int64(fx.tables[tm.Name]) || tm.Rows != rows {
			t.Errorf("%s: %d rows in the file, meta says %d, want %d", tm.Name, rows, tm.Rows, fx.tables[tm.Name])
		}
	}
	want := []string{"a.sql.zst", "b.sql.zst", "c.sql.zst", "d.sql.zst", "manifest.json", "meta.json"}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if s, _ := json.Marshal(readMeta(t, dir)); strings.Contains(string(s), token) {
		t.Errorf("meta.json holds the token")
	}

	// Nothing to do: only the manifest is asked for.
	fx.generatedAt = "2026-11-25T13:00:00Z"
	meta, err = f.All(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := fx.dumps(); len(got) != 0 {
		t.Errorf("second run fetched %v", got)
	}
	if meta.GeneratedAt != "2026-11-25T12:00:00Z" {
		t.Errorf("generated_at = %s; the kept files belong to the first manifest", meta.GeneratedAt)
	}

	// A missing file, a truncated one and a stale .part: only a and b again.
	os.Remove(filepath.Join(dir, "a.sql.zst"))
	data, _ := os.ReadFile(filepath.Join(dir, "b.sql.zst"))
	os.WriteFile(filepath.Join(dir, "b.sql.zst"), data[:len(data)-10], 0o644)
	os.WriteFile(filepath.Join(dir, "c.sql.zst.part"), []byte("junk"), 0o644)
	log = testio.SyncBuffer{}
	meta, err = f.All(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, fx.dumps()); diff != "" {
		t.Errorf("third run requests (-want +got):\n%s", diff)
	}
	wantSt := map[string]string{"a": "complete", "b": "complete", "c": "complete,kept", "d": "complete,kept"}
	if diff := cmp.Diff(wantSt, statuses(meta)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), "b.sql.zst: line") && !strings.Contains(log.String(), "incomplete stream") {
		t.Errorf("no word about the truncated file: %q", log.String())
	}
	if diff := cmp.Diff(want, listDir(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestAll_NotResumable: another since, another schema, another masking, an
// old download or --fresh make everything be fetched again, with the new
// manifest.
func TestAll_NotResumable(t *testing.T) {
	tests := []struct {
		name   string
		change func(fx *fixture, f *fetch.Fetcher, o *fetch.Options)
		msg    string
	}{
		{"since", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) { o.Since = "2026-11-01T00:00:00Z" }, "holds a full download"},
		{"schema", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) {
			fx.columns = append(fx.columns, manifest.Column{Name: "email", Type: "varchar(255)"})
		}, "a different schema"},
		// Same columns, masked another way (a rule, the salt or the
		// masking version changed): the kept streams carry the old values.
		{"masking", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) { fx.masking = "0123456789abcdef" }, "masked another way"},
		{"max-age", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) {
			f.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
			o.MaxAge = time.Hour
		}, "older than the maximum age"},
		{"fresh", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) { o.Fresh = true }, ""},
		{"source", func(fx *fixture, f *fetch.Fetcher, o *fetch.Options) { f.SourceURL = "https://other.example" }, "a download from " + "http://127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, map[string]int{"a": 10, "b": 20})
			dir := t.TempDir()
			var log testio.SyncBuffer
			f := fx.fetcher(&log)
			o := fetch.Options{Dir: dir, Parallel: 2}
			if _, err := f.All(t.Context(), o); err != nil {
				t.Fatal(err)
			}
			fx.dumps()
			fx.generatedAt = "2026-11-25T13:00:00Z"
			tt.change(fx, f, &o)
			log = testio.SyncBuffer{}
			meta, err := f.All(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"a", "b"}, fx.dumps()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if tt.msg != "" && !strings.Contains(log.String(), tt.msg) {
				t.Errorf("log %q does not say %q", log.String(), tt.msg)
			}
			if meta.GeneratedAt != "2026-11-25T13:00:00Z" {
				t.Errorf("generated_at = %s, want the new manifest's", meta.GeneratedAt)
			}
			mf, _ := os.Open(filepath.Join(dir, fetch.ManifestFile))
			defer mf.Close()
			m, err := manifest.Decode(mf, "manifest.json")
			if err != nil || m.GeneratedAt != "2026-11-25T13:00:00Z" {
				t.Errorf("manifest.json: %v, generated_at %v", err, m)
			}
		})
	}
}

// TestAll_SubsetKeptWhenOtherMaskingChanges: a download of some tables is
// resumed (nothing fetched again) when only a table it does not hold is now
// masked otherwise; when one of its own is, it is fetched again.
func TestAll_SubsetKeptWhenOtherMaskingChanges(t *testing.T) {
	fx := newFixture(t, map[string]int{"a": 10, "b": 20})
	dir := t.TempDir()
	var log testio.SyncBuffer
	f := fx.fetcher(&log)
	o := fetch.Options{Dir: dir, Parallel: 2, Tables: []string{"a"}}
	if _, err := f.All(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	fx.dumps()
	fx.maskingOf = map[string]string{"b": "0123456789abcdef"}
	if _, err := f.All(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if got := fx.dumps(); len(got) != 0 {
		t.Errorf("another table's masking changed: fetched %v again, want nothing", got)
	}
	fx.maskingOf = map[string]string{"a": "0123456789abcdef"}
	if _, err := f.All(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a"}, fx.dumps()); diff != "" {
		t.Errorf("its own table's masking changed: requests (-want +got):\n%s", diff)
	}
}

// TestAll_Failure: a table that fails for good stops the run; the
// complete tables stay, the failed one has no file, meta.json says which.
func TestAll_Failure(t *testing.T) {
	fx := newFixture(t, map[string]int{"a": 10, "b": 20, "c": 30})
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		if route == "dump/b" {
			writeErr(w, http.StatusForbidden, `table "b" is excluded`)
			return true
		}
		return false
	}
	dir := t.TempDir()
	var log testio.SyncBuffer
	meta, err := fx.fetcher(&log).All(t.Context(), fetch.Options{Dir: dir, Parallel: 1})
	if !errors.Is(err, httpapi.ErrForbidden) {
		t.Fatalf("error = %v", err)
	}
	if meta.Status != "failed" {
		t.Errorf("status = %s", meta.Status)
	}
	want := map[string]string{"a": "complete", "b": "failed", "c": "pending"}
	if diff := cmp.Diff(want, statuses(meta)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(meta, readMeta(t, dir)); diff != "" {
		t.Errorf("meta.json differs from the returned meta:\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.sql.zst")); err == nil {
		t.Error("b.sql.zst exists")
	}
}

// TestAll_Interrupted: cancelling (Ctrl-C) keeps complete files, leaves the
// .part of the table being fetched, and says how to go on.
func TestAll_Interrupted(t *testing.T) {
	fx := newFixture(t, map[string]int{"a": 10, "b": 20000, "c": 30})
	ctx, cancel := context.WithCancelCause(t.Context())
	interrupted := errors.New("interrupted by signal")
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		if route != "dump/b" {
			return false
		}
		data := stream(t, "b", "", 20000)
		w.Header().Set("Content-Type", "application/zstd")
		w.Write(data[:len(data)/3])
		http.NewResponseController(w).Flush()
		cancel(interrupted)
		<-r.Context().Done()
		return true
	}
	dir := t.TempDir()
	var log testio.SyncBuffer
	meta, err := fx.fetcher(&log).All(ctx, fetch.Options{Dir: dir, Parallel: 1})
	if !errors.Is(err, interrupted) || !strings.Contains(err.Error(), "1 of 3 tables are complete") {
		t.Fatalf("error = %v", err)
	}
	want := map[string]string{"a": "complete", "b": "pending", "c": "pending"}
	if diff := cmp.Diff(want, statuses(meta)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if meta.Status != "interrupted" {
		t.Errorf("status = %s", meta.Status)
	}
	wantFiles := []string{"a.sql.zst", "b.sql.zst.part", "manifest.json", "meta.json"}
	if diff := cmp.Diff(wantFiles, listDir(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

// TestAll_MetaPerTable: meta.json records each table as it completes, so
// that a rerun after a crash of bf-fetch itself (SIGKILL, power loss) keeps
// the tables finished before it.
func TestAll_MetaPerTable(t *testing.T) {
	fx := newFixture(t, map[string]int{"a": 10, "b": 20})
	dir := t.TempDir()
	seen := make(chan *fetch.Meta, 1)
	fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
		if route == "dump/b" {
			var m fetch.Meta
			data, err := os.ReadFile(filepath.Join(dir, fetch.MetaFile))
			if err == nil && json.Unmarshal(data, &m) == nil {
				seen <- &m
			}
		}
		return false
	}
	var log testio.SyncBuffer
	if _, err := fx.fetcher(&log).All(t.Context(), fetch.Options{Dir: dir, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	var during *fetch.Meta
	select {
	case during = <-seen:
	default:
	}
	if during == nil || during.Status != "running" {
		t.Fatalf("meta.json while b was fetched: %+v", during)
	}
	want := map[string]string{"a": "complete", "b": "pending"}
	if diff := cmp.Diff(want, statuses(during)); diff != "" {
		t.Errorf("statuses while b was fetched (-want +got):\n%s", diff)
	}
}

// TestAll_Parallel: -j N runs N downloads at once; lines still come in
// manifest order.
func TestAll_Parallel(t *testing.T) {
	tables := map[string]int{}
	for i := range 8 {
		tables[fmt.Sprintf("t%d", i)] = 100 * (8 - i)
	}
	fx := newFixture(t, tables)
	var log testio.SyncBuffer
	if _, err := fx.fetcher(&log).All(t.Context(), fetch.Options{Dir: t.TempDir(), Parallel: 4}); err != nil {
		t.Fatal(err)
	}
	if fx.max < 2 || fx.max > 4 {
		t.Errorf("%d concurrent downloads, want 2 to 4", fx.max)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "bf-fetch: "), ":")
		names = append(names, name)
	}
	if diff := cmp.Diff(fx.order, names); diff != "" {
		t.Errorf("line order (-want +got):\n%s", diff)
	}
}

func TestAll_UnknownTable(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 1, "orders": 1})
	var log testio.SyncBuffer
	_, err := fx.fetcher(&log).All(t.Context(), fetch.Options{Dir: t.TempDir(), Parallel: 1, Tables: []string{"users", "ordres"}})
	if !errors.Is(err, fetch.ErrUnknownTable) {
		t.Fatalf("error = %v", err)
	}
	if want := `--tables: unknown table "ordres"; the manifest has: orders, users`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := fx.dumps(); len(got) != 0 {
		t.Errorf("fetched %v", got)
	}
}

func TestFileName(t *testing.T) {
	tests := map[string]string{
		"users":       "users.sql.zst",
		"order items": "order items.sql.zst",
		"../etc":      "%2E.%2Fetc.sql.zst",
		"a/b\\c%d":    "a%2Fb%5Cc%25d.sql.zst",
		"tab\tle":     "tab%09le.sql.zst",
		"café":        "café.sql.zst",
	}
	for in, want := range tests {
		if got := fetch.FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/testdb"
)

// bigTable adds table big: 25 000 rows of 800 random bytes each (20 MB).
// The stream does not compress, so a client that stops reading blocks the
// dump while the query still has rows to send.
func bigTable(t *testing.T, db *testdb.DB) {
	t.Helper()
	const n = 25000
	db.Exec(t, "CREATE TABLE big (id INT PRIMARY KEY, b VARBINARY(1000) NOT NULL)")
	digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	db.Exec(t, fmt.Sprintf("INSERT INTO big SELECT 1 + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d, RANDOM_BYTES(800) FROM %s a, %s b, %s c, %s e, %s f WHERE 1 + a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d <= %d", digits, digits, digits, digits, digits, n))
}

// running counts the statements the server runs in database name for
// clients other than the caller (the dump's SELECT).
func running(t *testing.T, admin *sql.DB, name string) int {
	t.Helper()
	var n int
	err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND = 'Query' AND ID <> CONNECTION_ID()", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// decode returns the SQL text of a dump stream.
func decode(t *testing.T, b []byte) string {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// get streams one request; the caller reads and closes the body.
func get(t *testing.T, hc *http.Client, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token1)
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// freshClient returns a client with its own connections.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestServer_Dump: a served dump is contract 2, streamed as
// application/zstd, and decodes to the same SQL as bf-dump's (dump.Write
// into a buffer, which is all bf-dump does), header clock aside (issue 5).
func TestServer_Dump(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	for _, since := range []string{"", "2025-01-01T00:00:00Z"} {
		t.Run("since="+since, func(t *testing.T) {
			path := "/api/backfill/dump/users"
			if since != "" {
				path += "?since=" + since
			}
			r := do(t, nil, "GET", s.url, path, "Bearer "+token1)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/zstd" {
				t.Errorf("Content-Type %q, want application/zstd", ct)
			}
			if cd := r.header.Get("Content-Disposition"); cd != "attachment; filename=users.sql.zst" {
				t.Errorf("Content-Disposition %q", cd)
			}
			h, rows, err := dumpfmt.Verify(bytes.NewReader(r.body))
			if err != nil {
				t.Fatalf("served stream: %v", err)
			}
			wantRows, wantMode := int64(3), "full"
			if since != "" {
				wantRows, wantMode = 1, "delta"
			}
			if rows != wantRows || h.Table != "users" || h.Mode != wantMode {
				t.Errorf("served %d rows of %q mode %q, want %d rows, mode %s", rows, h.Table, h.Mode, wantRows, wantMode)
			}

			var direct bytes.Buffer
			if _, err := dump.Write(context.Background(), &direct,
				dump.Source{DB: s.db.DB, Database: s.db.Name, Config: s.cfg},
				dump.Options{Table: "users", Since: since}); err != nil {
				t.Fatal(err)
			}
			served, want := decode(t, r.body), decode(t, direct.Bytes())
			if strings.Contains(served, "alice@corp.example") {
				t.Errorf("the served dump holds a sanitized column's original value")
			}
			sh, sbody, _ := strings.Cut(served, "\n")
			wh, wbody, _ := strings.Cut(want, "\n")
			if sbody != wbody {
				t.Errorf("served SQL differs from dump.Write's:\nserved:\n%s\nbf-dump:\n%s", sbody, wbody)
			}
			clock := regexp.MustCompile(` generated_at=\S+`)
			if a, b := clock.ReplaceAllString(sh, ""), clock.ReplaceAllString(wh, ""); a != b {
				t.Errorf("header %q, bf-dump's %q", sh, wh)
			}
		})
	}
	s.stop(t)
	var dumps []map[string]any
	for _, rec := range s.log.records(t) {
		if rec["route"] == "dump" {
			dumps = append(dumps, rec)
		}
	}
	if len(dumps) != 2 || dumps[0]["rows"] != float64(3) || dumps[1]["rows"] != float64(1) || dumps[0]["table"] != "users" {
		t.Errorf("dump log lines %v", dumps)
	}
}

// TestServer_DumpRefusals: unknown and hostile table names are 404 from a
// schema lookup, never SQL; unreviewed columns under unreviewed = "refuse"
// are 403.
func TestServer_DumpRefusals(t *testing.T) {
	s := startServer(t, baseConfig, []string{"CREATE TABLE people (id INT PRIMARY KEY, phone VARCHAR(40))", "INSERT INTO people VALUES (1, '+1 555 0100')"})
	refuse := serve(t, s.db, strings.Replace(baseConfig, "[server]\n", "[server]\nunreviewed = \"refuse\"\n", 1))
	tests := []struct {
		name, path string
		status     int
		errHas     string
		hint       string
		base       *server
	}{
		{name: "unknown", path: "/api/backfill/dump/nope", status: 404, errHas: `table "nope" does not exist in database "` + s.db.Name + `"`},
		{name: "dot-dot", path: "/api/backfill/dump/..", status: 404, errHas: `table ".." does not exist`},
		{name: "encoded dot-dot", path: "/api/backfill/dump/%2e%2e", status: 404, errHas: `table ".." does not exist`},
		{name: "encoded slash", path: "/api/backfill/dump/..%2Fmanifest", status: 404, errHas: `table "../manifest" does not exist`},
		{name: "decoded once", path: "/api/backfill/dump/users%2520", status: 404, errHas: `table "users%20" does not exist`},
		{name: "backticks", path: "/api/backfill/dump/users%60%3B%20DROP%20TABLE%20posts%3B%20--%20", status: 404, errHas: "does not exist"},
		{name: "quote", path: "/api/backfill/dump/users'%20OR%20'1'='1", status: 404, errHas: "does not exist"},
		{name: "case", path: "/api/backfill/dump/USERS", status: 404, errHas: `table "USERS" does not exist`, hint: `did you mean \"users\"?`},
		{name: "unreviewed refused", path: "/api/backfill/dump/people", status: 403, errHas: `column "phone" looks sensitive`, base: refuse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := s
			if tt.base != nil {
				base = tt.base
			}
			r := do(t, nil, "GET", base.url, tt.path, "Bearer "+token1)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if msg := r.errorText(t); !strings.Contains(msg, tt.errHas) {
				t.Errorf("error %q does not say %q", msg, tt.errHas)
			}
			if tt.hint != "" && !strings.Contains(string(r.body), tt.hint) {
				t.Errorf("body %s lacks the hint %q", r.body, tt.hint)
			}
		})
	}
	var n int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM posts").Scan(&n); err != nil || n != 2 {
		t.Errorf("posts: %d rows, %v", n, err)
	}
}

// readSome reads at least n bytes of the body.
func readSome(t *testing.T, body io.Reader, n int) {
	t.Helper()
	if _, err := io.ReadFull(body, make([]byte, n)); err != nil {
		t.Fatalf("read the first %d bytes: %v", n, err)
	}
}

// waitFor polls cond every 50ms for up to d and reports how long it took.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServer_DumpAbort: a dump that fails after its first byte (here: it
// outlives dump_timeout while its client has stopped reading) aborts the
// response at once, even with the write blocked; the client gets a cut
// stream without end marker, which dumpfmt rejects, the log says aborted
// with the reason, and the query is gone. Over HTTP/1.1 (a connection
// closed before the last chunk) and over HTTP/2 with TLS (a reset stream)
// (issue 5).
func TestServer_DumpAbort(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	db.Exec(t, schemaSQL...)
	bigTable(t, db)
	admin, err := testdb.Get()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, pool := selfSigned(t)
	cfgText := strings.Replace(baseConfig, "[server]\n", "[server]\ndump_timeout = \"3s\"\n", 1)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run(proto, func(t *testing.T) {
			var s *server
			hc := freshClient()
			if proto == "HTTP/2.0" {
				s = serve(t, db, cfgText, withTLS(tlsConfig(t, certPEM, keyPEM)))
				hc = clientTrusting(pool)
			} else {
				s = serve(t, db, cfgText)
			}
			resp := get(t, hc, s.url+"/api/backfill/dump/big")
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != proto {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("%s %d: %s", resp.Proto, resp.StatusCode, b)
			}
			var got bytes.Buffer
			if _, err := io.CopyN(&got, resp.Body, 64<<10); err != nil {
				t.Fatal(err)
			}
			// Read nothing more until the server has given up.
			aborted := func() bool { return strings.Contains(s.log.String(), `"aborted":true`) }
			if took, ok := waitFor(20*time.Second, aborted); !ok {
				t.Fatalf("no abort %s after the first 64 KiB:\n%s", took, s.log.String())
			}
			_, err := io.Copy(&got, resp.Body)
			if err == nil {
				t.Fatalf("the body ended cleanly after %d bytes; want a cut", got.Len())
			}
			t.Logf("client read error after %d bytes: %v", got.Len(), err)
			_, rows, verr := dumpfmt.Verify(&got)
			if !errors.Is(verr, dumpfmt.ErrIncomplete) && !errors.Is(verr, dumpfmt.ErrCorrupt) {
				t.Errorf("Verify() = %v after %d rows; want an incomplete or cut stream", verr, rows)
			}
			if _, ok := waitFor(5*time.Second, func() bool { return running(t, admin.Admin, db.Name) == 0 }); !ok {
				t.Errorf("the aborted dump's query still runs")
			}
			s.stop(t)
			var rec map[string]any
			for _, r := range s.log.records(t) {
				if r["route"] == "dump" {
					rec = r
				}
			}
			if rec == nil || rec["aborted"] != true || rec["level"] != "ERROR" || rec["status"] != float64(200) ||
				!strings.Contains(fmt.Sprint(rec["error"]), `the dump of "big" took longer than dump_timeout (3s)`) {
				t.Errorf("log line %v", rec)
			}
		})
	}
}

// TestServer_ClientDisconnect: a client that goes away mid-dump cancels
// the query; the server's process list shows it gone within a second or
// two and the connection is not kept busy (issue 5).
func TestServer_ClientDisconnect(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	db.Exec(t, schemaSQL...)
	bigTable(t, db)
	s := serve(t, db, baseConfig)
	srv, err := testdb.Get()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	resp := get(t, &http.Client{Transport: tr}, s.url+"/api/backfill/dump/big")
	readSome(t, resp.Body, 64<<10)
	// The client stopped reading: the dump is blocked on its socket and
	// the SELECT is still running on the server.
	if _, ok := waitFor(5*time.Second, func() bool { return running(t, srv.Admin, db.Name) == 1 }); !ok {
		t.Fatalf("the dump's query is not running (%d queries)", running(t, srv.Admin, db.Name))
	}
	resp.Body.Close() // closes the connection (no keep-alive)
	tr.CloseIdleConnections()
	took, ok := waitFor(5*time.Second, func() bool { return running(t, srv.Admin, db.Name) == 0 })
	if !ok {
		t.Fatalf("the query still runs %s after the client went away", took)
	}
	t.Logf("query gone %s after the client closed the connection", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the query took %s to go, want under 2s", took)
	}
	if _, ok := waitFor(5*time.Second, func() bool { return db.Stats().InUse == 0 }); !ok {
		t.Errorf("pool still has %d connections in use", db.Stats().InUse)
	}
	s.stop(t)
	for _, r := range s.log.records(t) {
		if r["route"] == "dump" && (r["aborted"] != true || !strings.Contains(fmt.Sprint(r["error"]), "client went away")) {
			t.Errorf("log line %v", r)
		}
	}
}

// TestServer_ConcurrencyLimit: beyond max_concurrent_dumps a dump gets 503
// with Retry-After at once; manifests have their own slots; a finished
// dump frees its slot (issue 5).
func TestServer_ConcurrencyLimit(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	db.Exec(t, schemaSQL...)
	bigTable(t, db)
	s := serve(t, db, baseConfig) // max_concurrent_dumps = 2
	var held []*http.Response
	for range 2 {
		resp := get(t, freshClient(), s.url+"/api/backfill/dump/big")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		readSome(t, resp.Body, 1024)
		held = append(held, resp)
	}
	r := do(t, freshClient(), "GET", s.url, "/api/backfill/dump/users", "Bearer "+token1)
	if r.status != 503 {
		t.Fatalf("third dump: status %d, want 503: %s", r.status, r.body)
	}
	if ra := r.header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5", ra)
	}
	if msg := r.errorText(t); !strings.Contains(msg, "too many dumps running (max_concurrent_dumps = 2); retry after 5 seconds") {
		t.Errorf("error %q", msg)
	}
	// The client maps it to a typed error carrying the wait.
	_, err := (&httpapi.Client{BaseURL: s.url, Token: token1}).Dump(context.Background(), "users", "")
	if d, ok := httpapi.RetryAfter(err); !ok || d != 5*time.Second || !errors.Is(err, httpapi.ErrBusy) {
		t.Errorf("client error %v: RetryAfter %v %v", err, d, ok)
	}
	if r := do(t, freshClient(), "GET", s.url, "/api/backfill/manifest", "Bearer "+token1); r.status != 200 {
		t.Errorf("manifest while dumps are full: status %d", r.status)
	}
	for _, resp := range held {
		resp.Body.Close()
	}
	if _, ok := waitFor(5*time.Second, func() bool {
		return do(t, freshClient(), "GET", s.url, "/api/backfill/dump/users", "Bearer "+token1).status == 200
	}); !ok {
		t.Errorf("slots not freed after the clients went away")
	}
}

// TestServe_ShutdownGrace: on a signal, a running dump may finish within
// shutdown_timeout and Serve returns nil; one that does not is cancelled,
// its client gets a cut stream, and Serve says so (issue 5).
func TestServe_ShutdownGrace(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	db.Exec(t, schemaSQL...)
	bigTable(t, db)

	t.Run("finishes", func(t *testing.T) {
		// A long grace: under -race on a busy machine the 20 MB take a while.
		s := serve(t, db, strings.Replace(baseConfig, "[server]\n", "[server]\nshutdown_timeout = \"3m\"\n", 1))
		resp := get(t, freshClient(), s.url+"/api/backfill/dump/big")
		defer resp.Body.Close()
		readSome(t, resp.Body, 1024)
		stopped := make(chan error, 1)
		go func() { stopped <- s.stop(t) }()
		time.Sleep(300 * time.Millisecond) // shutdown has begun
		if _, err := http.Get(s.url + "/healthz"); err == nil {
			t.Errorf("a new connection was accepted during shutdown")
		}
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("the running dump was cut: %v", err)
		}
		if len(rest) == 0 {
			t.Fatal("nothing after the first KiB")
		}
		if err := <-stopped; err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		s := serve(t, db, strings.Replace(baseConfig, "[server]\n", "[server]\nshutdown_timeout = \"500ms\"\n", 1))
		resp := get(t, freshClient(), s.url+"/api/backfill/dump/big")
		defer resp.Body.Close()
		readSome(t, resp.Body, 1024)
		err := s.stop(t) // the client reads nothing more: the dump cannot finish
		if !errors.Is(err, httpapi.ErrShutdownTimeout) {
			t.Errorf("Serve() = %v, want ErrShutdownTimeout", err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("the cancelled dump's body ended cleanly")
		}
		if !strings.Contains(s.log.String(), `"aborted":true,"error":"cancelled by shutdown: shutdown_timeout passed after`) {
			t.Errorf("no aborted dump in the log:\n%s", s.log.String())
		}
	})
	t.Run("cancelled before the first row", func(t *testing.T) {
		// Another session's write lock holds the dump's SELECT.
		lock, err := db.DB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		lockCtx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := lock.ExecContext(lockCtx, "LOCK TABLES big WRITE"); err != nil {
			t.Fatal(err)
		}
		defer lock.ExecContext(context.Background(), "UNLOCK TABLES")
		s := serve(t, db, strings.Replace(baseConfig, "[server]\n", "[server]\nshutdown_timeout = \"500ms\"\n", 1))
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequest("GET", s.url+"/api/backfill/dump/big", nil)
			req.Header.Set("Authorization", "Bearer "+token1)
			if resp, err := freshClient().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		if _, ok := waitFor(10*time.Second, func() bool {
			var n int
			_ = db.DB.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE '%lock%' AND INFO LIKE 'SELECT%big%'", db.Name).Scan(&n)
			return n > 0
		}); !ok {
			rows, _ := db.DB.Query("SELECT IFNULL(STATE,''), IFNULL(INFO,'') FROM information_schema.PROCESSLIST")
			for rows != nil && rows.Next() {
				var a, b string
				rows.Scan(&a, &b)
				t.Logf("%s | %.100s", a, b)
			}
			t.Fatalf("the dump's SELECT never waited for the lock; log:\n%s", s.log.String())
		}
		if err := s.stop(t); !errors.Is(err, httpapi.ErrShutdownTimeout) {
			t.Errorf("Serve() = %v, want ErrShutdownTimeout", err)
		}
		<-done
		log := s.log.String()
		if !strings.Contains(log, `"status":503`) || !strings.Contains(log, `cancelled by shutdown: shutdown_timeout passed"`) || strings.Contains(log, "client went away") {
			t.Errorf("the cancelled dump is not logged as cancelled by shutdown:\n%s", log)
		}
	})
}

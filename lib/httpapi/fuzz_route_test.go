package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/testdb"
)

// routeServer serves schemaSQL with baseConfig on a loopback port for tb.
func routeServer(tb testing.TB) (addr string, db *testdb.DB) {
	tb.Helper()
	db = testdb.New(tb)
	db.Exec(tb, schemaSQL...)
	cfg, err := config.Parse("backfill.toml", []byte(baseConfig))
	if err != nil {
		tb.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	srv, err := httpapi.New(httpapi.Options{DB: db.DB, Database: db.Name, Config: cfg})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), db
}

// rawGet sends "METHOD target HTTP/1.1" exactly as given and returns the
// status and body.
func rawGet(tb testing.TB, addr, method, target string) (int, http.Header, []byte) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n\r\n", method, target, token1)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("%s %q: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %q: read body: %v", method, target, err)
	}
	return resp.StatusCode, resp.Header, body
}

// escapeAll percent-encodes every byte that is not a letter or a digit, so
// that the server's single decoding gives back exactly name.
func escapeAll(name []byte) string {
	var b strings.Builder
	for _, c := range name {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// checkAnswer asserts what every answer must be: never a 5xx, errors as
// {"error": ...} JSON, no secret in the body.
func checkAnswer(tb testing.TB, what string, status int, h http.Header, body []byte) {
	tb.Helper()
	if status >= 500 {
		tb.Fatalf("%s: status %d: %s", what, status, body)
	}
	for _, s := range []string{token1, token2, "pepper-pepper-pepper"} {
		if strings.Contains(string(body), s) {
			tb.Fatalf("%s: the answer holds a secret: %s", what, body)
		}
	}
	if status < 400 {
		return
	}
	if h.Get("Content-Type") != "application/json" {
		// net/http answers a malformed request line itself, in text.
		if status != http.StatusBadRequest {
			tb.Fatalf("%s: status %d with %q, want a JSON error", what, status, h.Get("Content-Type"))
		}
		return
	}
	var v struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Error == "" {
		tb.Fatalf("%s: status %d with a body that is not {\"error\": ...}: %q", what, status, body)
	}
}

// FuzzServer_Route sends bf-serve arbitrary table names (percent-encoded,
// so the server decodes exactly those bytes), arbitrary request targets
// and arbitrary since values (issue 10). No answer is a 5xx; a dump is
// served only for a table of the schema that is not excluded, never for a
// name that merely resembles one (../, %2e%2e, quotes, backticks, NUL,
// another database); errors are JSON; no secret is ever echoed. The schema
// is checked afterwards: nothing was dropped or written.
func FuzzServer_Route(f *testing.F) {
	for _, s := range []struct {
		name, target, since string
	}{
		{"users", "/api/backfill/manifest", "2025-01-01T00:00:00Z"},
		{"secrets", "/api/backfill/dump/posts", ""},
		{"../users", "/api/backfill/dump/../manifest", "2025-01-01T00:00:00+01:00"},
		{"%2e%2e", "/api/backfill/dump/%2e%2e%2fusers", "2025-01-01' OR '1'='1"},
		{"users`; DROP TABLE posts; --", "/api/backfill/dump/users%60;%20DROP%20TABLE%20posts", "2025-01-01T00:00:00Z; DROP TABLE posts"},
		{"users' OR '1'='1", "/api/backfill/dump/users%27", "0000-00-00T00:00:00Z"},
		{"users\x00", "/api/backfill/dump/users%00", "\x00"},
		{"information_schema.tables", "/api/backfill/dump/mysql.user", "9999-12-31T23:59:59.999999999Z"},
		{"USERS", "/api/backfill//dump/users", "-0001-01-01T00:00:00Z"},
		{"users ", "/api/backfill/dump/users?since=x&since=y", ""},
		{"\xff\xfe", "/api/backfill/dump/%ff", "2025-02-30T00:00:00Z"},
		{strings.Repeat("a", 70), "//api/backfill/manifest", strings.Repeat("9", 300)},
	} {
		f.Add([]byte(s.name), s.target, s.since)
	}
	addr, db := routeServer(f)
	tables := []string{"users", "posts"}
	f.Cleanup(func() {
		// Whatever was sent, nothing was dropped or written.
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != 3 {
			f.Errorf("after the fuzzing: users has %d rows (%v), want 3", n, err)
		}
		if err := db.QueryRow("SELECT COUNT(*) FROM posts").Scan(&n); err != nil || n != 2 {
			f.Errorf("after the fuzzing: posts has %d rows (%v), want 2", n, err)
		}
	})
	f.Fuzz(func(t *testing.T, name []byte, target, since string) {
		// 1. A table name, delivered exactly.
		status, h, body := rawGet(t, addr, "GET", "/api/backfill/dump/"+escapeAll(name))
		what := fmt.Sprintf("dump of %q", name)
		checkAnswer(t, what, status, h, body)
		switch {
		case slices.Contains(tables, string(name)):
			if status != http.StatusOK {
				t.Fatalf("%s: status %d, want 200: %s", what, status, body)
			}
		case string(name) == "secrets":
			if status != http.StatusForbidden {
				t.Fatalf("%s: status %d, want 403", what, status)
			}
		case status != http.StatusNotFound && status != http.StatusBadRequest:
			t.Fatalf("%s: status %d, want 404 or 400: %s", what, status, body)
		}

		// 2. A request target as written, when it can be sent at all.
		if target != "" && target[0] == '/' && strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r >= 0x7f }) < 0 {
			status, h, body := rawGet(t, addr, "GET", target)
			what := fmt.Sprintf("GET %q", target)
			checkAnswer(t, what, status, h, body)
			if status == http.StatusOK {
				u, err := url.ParseRequestURI(target)
				if err != nil {
					t.Fatalf("%s: 200 for a target that does not parse: %v", what, err)
				}
				p := u.EscapedPath()
				ok := p == "/healthz" || p == "/api/backfill/manifest"
				if rest, found := strings.CutPrefix(p, "/api/backfill/dump/"); found {
					tbl, err := url.PathUnescape(rest)
					ok = err == nil && slices.Contains(tables, tbl)
				}
				if !ok {
					t.Fatalf("%s: 200 for something that is neither a route nor a table", what)
				}
			}
		}

		// 3. A since value on the manifest.
		status, h, body = rawGet(t, addr, "GET", "/api/backfill/manifest?since="+url.QueryEscape(since))
		checkAnswer(t, fmt.Sprintf("manifest since %q", since), status, h, body)
		if status != http.StatusOK && status != http.StatusBadRequest {
			t.Fatalf("manifest since %q: status %d, want 200 or 400", since, status)
		}
	})
}

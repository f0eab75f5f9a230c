package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
)

// TestServer_Statuses checks every status of contract 3 with its JSON body
// against a real server and database (issue 5).
func TestServer_Statuses(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	bearer := "Bearer " + token1
	tests := []struct {
		name      string
		method    string
		path      string
		auth      string
		status    int
		errorHas  string            // substring of {"error"}; "" for success
		header    map[string]string // response headers that must be set
		wantTable string            // a manifest must list this table
		rawPath   bool              // sent over a bare TCP connection
	}{
		{name: "healthz without token", method: "GET", path: "/healthz", status: 200},
		{name: "healthz POST", method: "POST", path: "/healthz", status: 405, errorHas: "POST is not allowed", header: map[string]string{"Allow": "GET"}},
		{name: "manifest", method: "GET", path: "/api/backfill/manifest", auth: bearer, status: 200, wantTable: "users"},
		{name: "manifest second token", method: "GET", path: "/api/backfill/manifest", auth: "Bearer " + token2, status: 200, wantTable: "posts"},
		{name: "manifest since", method: "GET", path: "/api/backfill/manifest?since=2025-01-01T00:00:00Z", auth: bearer, status: 200, wantTable: "users"},
		{name: "no token", method: "GET", path: "/api/backfill/manifest", status: 401, errorHas: "missing token", header: map[string]string{"WWW-Authenticate": `Bearer realm="backfill"`}},
		{name: "wrong token", method: "GET", path: "/api/backfill/manifest", auth: "Bearer " + strings.ToUpper(token1), status: 401, errorHas: "invalid token"},
		{name: "token prefix", method: "GET", path: "/api/backfill/manifest", auth: "Bearer " + token1[:20], status: 401, errorHas: "invalid token"},
		{name: "basic auth", method: "GET", path: "/api/backfill/manifest", auth: "Basic " + token1, status: 401, errorHas: "missing token"},
		{name: "token on unknown route", method: "GET", path: "/nope", status: 401, errorHas: "missing token"},
		{name: "bad since", method: "GET", path: "/api/backfill/manifest?since=yesterday", auth: bearer, status: 400, errorHas: `since "yesterday" is not an RFC 3339 time`},
		{name: "unknown parameter", method: "GET", path: "/api/backfill/manifest?sinse=2025-01-01T00:00:00Z", auth: bearer, status: 400, errorHas: `unknown query parameter "sinse"`},
		{name: "since twice", method: "GET", path: "/api/backfill/manifest?since=2025-01-01T00:00:00Z&since=2025-01-01T00:00:00Z", auth: bearer, status: 400, errorHas: "more than once"},
		{name: "manifest POST", method: "POST", path: "/api/backfill/manifest", auth: bearer, status: 405, errorHas: "GET only", header: map[string]string{"Allow": "GET"}},
		{name: "manifest DELETE", method: "DELETE", path: "/api/backfill/manifest", auth: bearer, status: 405, errorHas: "GET only"},
		{name: "unknown route", method: "GET", path: "/nope", auth: bearer, status: 404, errorHas: "no route"},
		{name: "wrong prefix", method: "GET", path: "/api/other/manifest", auth: bearer, status: 404, errorHas: "/api/backfill/manifest"},
		{name: "manifest trailing slash", method: "GET", path: "/api/backfill/manifest/", auth: bearer, status: 404, errorHas: "no route"},
		{name: "dump without table", method: "GET", path: "/api/backfill/dump/", auth: bearer, status: 404, errorHas: "no route"},
		{name: "dump two segments", method: "GET", path: "/api/backfill/dump/users/x", auth: bearer, status: 404, errorHas: "no route"},
		{name: "dump dot-dot route", method: "GET", path: "/api/backfill/dump/../manifest", auth: bearer, status: 404, errorHas: "no route"},
		{name: "dump encoded dot-dot slash", method: "GET", path: "/api/backfill/dump/%2e%2e/manifest", auth: bearer, status: 404, errorHas: "no route"},
		{name: "dump excluded", method: "GET", path: "/api/backfill/dump/secrets", auth: bearer, status: 403, errorHas: `table "secrets" is excluded`},
		{name: "dump excluded bad token", method: "GET", path: "/api/backfill/dump/secrets", auth: "Bearer x", status: 401, errorHas: "invalid token"},
		{name: "dump NUL", method: "GET", path: "/api/backfill/dump/users%00", auth: bearer, status: 400, errorHas: "NUL"},
		{name: "dump too long", method: "GET", path: "/api/backfill/dump/" + strings.Repeat("a", 65), auth: bearer, status: 400, errorHas: "65 characters"},
		{name: "dump backtick", method: "GET", path: "/api/backfill/dump/ab%60c", auth: bearer, status: 404, errorHas: "does not exist", rawPath: true},
		{name: "dump bad since", method: "GET", path: "/api/backfill/dump/users?since=2025-13-01", auth: bearer, status: 400, errorHas: "RFC 3339"},
		{name: "dump POST", method: "POST", path: "/api/backfill/dump/users", auth: bearer, status: 405, errorHas: "GET only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *response
			if tt.rawPath {
				r = raw(t, s.url, tt.method, tt.path, tt.auth)
			} else {
				r = do(t, nil, tt.method, s.url, tt.path, tt.auth)
			}
			if r.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tt.method, tt.path, r.status, tt.status, r.body)
			}
			for k, v := range tt.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if tt.errorHas != "" {
				if msg := r.errorText(t); !strings.Contains(msg, tt.errorHas) {
					t.Errorf("error %q does not contain %q", msg, tt.errorHas)
				}
				return
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q, want application/json", ct)
			}
			if tt.wantTable == "" {
				var v map[string]string
				if err := json.Unmarshal(r.body, &v); err != nil || v["status"] != "ok" {
					t.Fatalf("body %s, want {\"status\":\"ok\"}", r.body)
				}
				return
			}
			m, err := manifest.Decode(strings.NewReader(string(r.body)), "response")
			if err != nil {
				t.Fatal(err)
			}
			if m.Database != s.db.Name {
				t.Errorf("manifest database %q, want %q", m.Database, s.db.Name)
			}
			if _, ok := m.Table(tt.wantTable); !ok {
				t.Errorf("manifest lacks table %q", tt.wantTable)
			}
			if _, ok := m.Table("secrets"); ok {
				t.Errorf("manifest lists the excluded table secrets")
			}
			// The same fingerprints bf-manifest gives for the same
			// database and configuration.
			local, err := manifest.Build(t.Context(), s.db.DB, s.db.Name, s.cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tb := range m.Tables {
				want, _ := local.Table(tb.Name)
				if want == nil || len(tb.Masking) != 16 || tb.Masking != want.Masking {
					t.Errorf("table %q: masking %q, want bf-manifest's %v", tb.Name, tb.Masking, want)
				}
			}
			if strings.Contains(tt.path, "since=") {
				u, _ := m.Table("users")
				if u.DeltaRows == nil || *u.DeltaRows != 1 {
					t.Errorf("users delta_rows = %v, want 1 (bob, updated 2025-06-01)", u.DeltaRows)
				}
			}
		})
	}
}

// TestServer_500 checks that a failure says what failed without secrets:
// a sanitize rule whose column was dropped after the start.
func TestServer_500(t *testing.T) {
	s := startServer(t, baseConfig+"name = { type = \"name\" }\n", nil)
	s.db.Exec(t, "ALTER TABLE users DROP COLUMN name")
	r := do(t, nil, "GET", s.url, "/api/backfill/manifest", "Bearer "+token1)
	if r.status != 500 {
		t.Fatalf("status %d, want 500; body %s", r.status, r.body)
	}
	msg := r.errorText(t)
	for _, want := range []string{"build the manifest", "does not match the source database", `column "name" does not exist in table "users"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "pepper") || strings.Contains(msg, token1) {
		t.Errorf("error %q leaks a secret", msg)
	}
}

// TestServer_500Dump: a dump whose SELECT fails says what failed once, not
// "dump "users": dump "users": ...".
func TestServer_500Dump(t *testing.T) {
	s := startServer(t, baseConfig+"name = { type = \"sql\", expr = \"no_such_function(name)\" }\n", nil)
	r := do(t, nil, "GET", s.url, "/api/backfill/dump/users", "Bearer "+token1)
	if r.status != 500 {
		t.Fatalf("status %d, want 500; body %s", r.status, r.body)
	}
	msg := r.errorText(t)
	if n := strings.Count(msg, `dump "users"`); n != 1 || !strings.Contains(msg, "no_such_function") {
		t.Errorf("error %q: want the table named once and the failing function", msg)
	}
}

// TestServer_HealthzDatabaseDown: /healthz says 503 when the database does
// not answer, without naming its address.
func TestServer_HealthzDatabaseDown(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	s.db.DB.Close() // the pool is gone: every ping fails
	r := do(t, nil, "GET", s.url, "/healthz", "")
	if r.status != 503 {
		t.Fatalf("status %d, want 503", r.status)
	}
	if msg := r.errorText(t); msg != "the source database does not answer" {
		t.Errorf("error %q", msg)
	}
}

// TestServer_AccessLog: one line per request with the documented fields,
// never a token, whatever the client puts where.
func TestServer_AccessLog(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	do(t, nil, "GET", s.url, "/api/backfill/manifest", "Bearer "+token1)
	do(t, nil, "GET", s.url, "/api/backfill/manifest", "Bearer "+token2+"x")
	do(t, nil, "GET", s.url, "/api/backfill/dump/secrets", "Bearer "+token2)
	do(t, nil, "GET", s.url, "/"+token1, "Bearer "+token1)
	do(t, nil, "GET", s.url, "/api/backfill/dump/"+token2, "Bearer "+token1)
	do(t, nil, "GET", s.url, "/api/backfill/manifest?since="+token1, "Bearer "+token1)
	s.stop(t)

	logs := s.log.String()
	for _, tok := range []string{token1, token2} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log contains a token:\n%s", logs)
		}
	}
	var reqs []map[string]any
	for _, rec := range s.log.records(t) {
		if rec["msg"] == "request" {
			reqs = append(reqs, rec)
		}
	}
	if len(reqs) != 6 {
		t.Fatalf("%d request lines, want 6:\n%s", len(reqs), logs)
	}
	first := reqs[0]
	for _, k := range []string{"time", "level", "remote", "method", "route", "status", "bytes", "duration_ms"} {
		if _, ok := first[k]; !ok {
			t.Errorf("request line lacks %q: %v", k, first)
		}
	}
	if first["route"] != "manifest" || first["status"] != float64(200) || first["level"] != "INFO" {
		t.Errorf("first line %v", first)
	}
	if reqs[1]["status"] != float64(401) || reqs[1]["level"] != "WARN" || reqs[1]["route"] != "manifest" {
		t.Errorf("401 line %v", reqs[1])
	}
	if reqs[2]["table"] != "secrets" || reqs[2]["status"] != float64(403) {
		t.Errorf("403 line %v", reqs[2])
	}
	if reqs[3]["path"] != "/xxxxx" || reqs[3]["status"] != float64(404) {
		t.Errorf("unknown route line %v", reqs[3])
	}
	for _, rec := range reqs {
		for k := range rec {
			if strings.EqualFold(k, "authorization") || strings.EqualFold(k, "headers") {
				t.Errorf("request line has %q", k)
			}
		}
	}
}

// TestServe_Shutdown: a signal (ctx) stops the server cleanly when nothing
// runs, logging "shutting down".
func TestServe_Shutdown(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	do(t, nil, "GET", s.url, "/healthz", "")
	if err := s.stop(t); err != nil {
		t.Fatalf("Serve() = %v, want nil after a clean shutdown", err)
	}
	if !strings.Contains(s.log.String(), `"msg":"shutting down"`) {
		t.Errorf("no shutting down line:\n%s", s.log.String())
	}
	if _, err := http.Get(s.url + "/healthz"); err == nil {
		t.Errorf("the server still answers after shutdown")
	}
}

// TestCheckTokens: bf-serve refuses missing, short and unusable tokens
// without ever printing one.
func TestCheckTokens(t *testing.T) {
	long := "L0ng-enough-token-0123456789abcdef"
	tests := []struct {
		name   string
		auth   config.Auth
		errHas []string
	}{
		{name: "none", errHas: []string{"no token configured"}},
		{name: "short", auth: config.Auth{Token: "short-secret-token"}, errHas: []string{"18 characters long; at least 32"}},
		{name: "short in list", auth: config.Auth{Token: long, Tokens: []string{long + "2", "tiny-secret"}}, errHas: []string{"token 2 of [auth] tokens is 11 characters"}},
		{name: "space", auth: config.Auth{Token: "with space 0123456789abcdef0123456789"}, errHas: []string{"spaces or control characters"}},
		{name: "ok", auth: config.Auth{Token: long, Tokens: []string{long + "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Auth = tt.auth
			err := httpapi.CheckTokens(&cfg)
			if len(tt.errHas) == 0 {
				if err != nil {
					t.Fatalf("CheckTokens() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckTokens() = nil, want an error")
			}
			var ce interface{ ConfigError() }
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a configuration error (exit status 2)", err)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for _, tok := range append([]string{tt.auth.Token}, tt.auth.Tokens...) {
				if tok != "" && strings.Contains(err.Error(), tok) {
					t.Errorf("error %q contains a token", err)
				}
			}
		})
	}
}

// TestServe_TLS serves HTTPS with a self-signed certificate made here: a
// client that trusts it gets the manifest; one that does not gets an error
// saying why.
func TestServe_TLS(t *testing.T) {
	certPEM, keyPEM, pool := selfSigned(t)
	s := startServer(t, baseConfig, nil, withTLS(tlsConfig(t, certPEM, keyPEM)))
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("url %s", s.url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	trusting := &httpapi.Client{BaseURL: s.url, Token: token1, HTTP: clientTrusting(pool)}
	m, err := trusting.Manifest(ctx, "")
	if err != nil {
		t.Fatalf("Manifest() over TLS: %v", err)
	}
	if m.Database != s.db.Name {
		t.Errorf("database %q", m.Database)
	}

	// A client with the system's roots only does not trust it.
	_, err = (&httpapi.Client{BaseURL: s.url, Token: token1}).Manifest(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "TLS: the server's certificate is signed by an authority this machine does not trust") {
		t.Errorf("untrusted certificate: err = %v", err)
	}
	plain := &httpapi.Client{BaseURL: strings.Replace(s.url, "https://", "http://", 1), Token: token1}
	_, err = plain.Manifest(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "the server speaks HTTPS") {
		t.Errorf("http:// to an HTTPS server: err = %v", err)
	}
	for _, e := range []error{err} {
		if e != nil && strings.Contains(e.Error(), token1) {
			t.Errorf("error %q contains the token", e)
		}
	}
}

package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/httpapi"
)

func TestClient_URL(t *testing.T) {
	tests := []struct {
		name     string
		c        httpapi.Client
		route    string
		want     string
		errHas   string
		insecure bool
	}{
		{name: "default prefix", c: httpapi.Client{BaseURL: "https://app.example.com"}, route: "/manifest", want: "https://app.example.com/api/backfill/manifest"},
		{name: "base path", c: httpapi.Client{BaseURL: "https://app.example.com/sub/", Prefix: "/bf/"}, route: "/manifest", want: "https://app.example.com/sub/bf/manifest"},
		{name: "root prefix", c: httpapi.Client{BaseURL: "https://h", Prefix: "/"}, route: "/manifest", want: "https://h/manifest"},
		{name: "table escaped as one segment", c: httpapi.Client{BaseURL: "https://h"}, route: "/dump/a/b ../`c`", want: "https://h/api/backfill/dump/a%2Fb%20..%2F%60c%60"},
		{name: "loopback http", c: httpapi.Client{BaseURL: "http://127.0.0.1:8080"}, route: "/manifest", want: "http://127.0.0.1:8080/api/backfill/manifest"},
		{name: "localhost http", c: httpapi.Client{BaseURL: "http://localhost:8080"}, route: "/manifest", want: "http://localhost:8080/api/backfill/manifest"},
		{name: "ipv6 loopback http", c: httpapi.Client{BaseURL: "http://[::1]:8080"}, route: "/manifest", want: "http://[::1]:8080/api/backfill/manifest"},
		{name: "remote http refused", c: httpapi.Client{BaseURL: "http://app.example.com"}, route: "/manifest", errHas: "refusing to send the token in clear text to app.example.com"},
		{name: "remote http insecure", c: httpapi.Client{BaseURL: "http://10.1.2.3:8080", Insecure: true}, route: "/manifest", want: "http://10.1.2.3:8080/api/backfill/manifest"},
		{name: "userinfo", c: httpapi.Client{BaseURL: "https://u:pw-secret@h"}, route: "/manifest", errHas: "contains user:password@"},
		{name: "no scheme", c: httpapi.Client{BaseURL: "app.example.com"}, route: "/manifest", errHas: "not an http:// or https:// URL"},
		{name: "ftp", c: httpapi.Client{BaseURL: "ftp://h"}, route: "/manifest", errHas: "not an http:// or https:// URL"},
		{name: "empty", c: httpapi.Client{}, route: "/manifest", errHas: "no server URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := tt.c.URL(tt.route, nil)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("URL() error = %v, want one containing %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "pw-secret") {
					t.Errorf("error %q shows the URL's password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("URL() = %s, want %s", got, tt.want)
			}
		})
	}
}

// noToken fails the test if err's text or hints contain a token.
func noToken(t *testing.T, err error) {
	t.Helper()
	text := err.Error() + "\n" + strings.Join(cli.Hints(err), "\n")
	for _, tok := range []string{token1, token2, "wrong-token-wrong-token-wrong-token-00"} {
		if strings.Contains(text, tok) {
			t.Errorf("error shows a token: %s", text)
		}
	}
}

// TestClient_Errors maps every failure to an error that says what to do,
// against the real server and against things that are not bf-serve.
func TestClient_Errors(t *testing.T) {
	s := startServer(t, baseConfig, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><html><body>Welcome to our shop</body></html>")
	}))
	defer html.Close()
	html404 := httptest.NewServer(http.NotFoundHandler())
	defer html404.Close()
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "upstream busy", http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	redirect := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/api/backfill/manifest", http.StatusMovedPermanently))
	defer redirect.Close()

	tests := []struct {
		name   string
		c      httpapi.Client
		dump   string // dump this table instead of fetching the manifest
		is     error
		errHas []string
		hint   string
	}{
		{name: "wrong token", c: httpapi.Client{BaseURL: s.url, Token: "wrong-token-wrong-token-wrong-token-00"}, is: httpapi.ErrUnauthorized,
			errHas: []string{"401 Unauthorized", "the token does not match the server's", s.url + "/api/backfill/manifest"}, hint: "BACKFILL_TOKEN"},
		{name: "no token", c: httpapi.Client{BaseURL: s.url}, errHas: []string{"no token"}, hint: "BACKFILL_TOKEN"},
		{name: "wrong prefix", c: httpapi.Client{BaseURL: s.url, Prefix: "/backfill", Token: token1}, is: httpapi.ErrNotFound,
			errHas: []string{"404 Not Found", s.url + "/backfill/manifest", "this bf-serve serves /api/backfill/manifest"}, hint: "route_prefix"},
		{name: "excluded table", c: httpapi.Client{BaseURL: s.url, Token: token1}, dump: "secrets", is: httpapi.ErrForbidden,
			errHas: []string{`dump "secrets"`, "403 Forbidden", "excluded"}, hint: "exclude_tables"},
		{name: "bad since", c: httpapi.Client{BaseURL: s.url, Token: token2}, dump: "users?", is: httpapi.ErrBadRequest,
			errHas: []string{"400 Bad Request"}},
		{name: "connection refused", c: httpapi.Client{BaseURL: closed, Token: token1},
			errHas: []string{"connection refused: nothing listens at " + strings.TrimPrefix(closed, "http://")}, hint: "is bf-serve running"},
		{name: "html page", c: httpapi.Client{BaseURL: html.URL, Token: token1}, is: httpapi.ErrNotFound,
			errHas: []string{"expected application/json, got text/html", "HTML page"}, hint: "route_prefix"},
		{name: "plain 404", c: httpapi.Client{BaseURL: html404.URL, Token: token1}, is: httpapi.ErrNotFound,
			errHas: []string{"404 Not Found", "this is not a bf-serve route"}, hint: "is bf-serve running at"},
		{name: "proxy 503", c: httpapi.Client{BaseURL: busy.URL, Token: token1}, is: httpapi.ErrBusy,
			errHas: []string{"503 Service Unavailable", "upstream busy"}},
		{name: "redirect", c: httpapi.Client{BaseURL: redirect.URL, Token: token1}, is: httpapi.ErrNotFound,
			errHas: []string{"redirects to \"https://elsewhere.example/api/backfill/manifest\""}},
		{name: "tls to plain server", c: httpapi.Client{BaseURL: strings.Replace(s.url, "http:", "https:", 1), Token: token1},
			errHas: []string{"TLS handshake failed: the server does not speak TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.dump != "" {
				table, since, _ := strings.Cut(tt.dump, "?")
				if strings.HasSuffix(tt.dump, "?") {
					since = "not-a-time"
				}
				var rc io.ReadCloser
				rc, err = tt.c.Dump(ctx, table, since)
				if rc != nil {
					rc.Close()
				}
			} else {
				_, err = tt.c.Manifest(ctx, "")
			}
			if err == nil {
				t.Fatal("no error")
			}
			noToken(t, err)
			t.Logf("%v\n  hints: %q", err, cli.Hints(err))
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if tt.hint != "" && !strings.Contains(strings.Join(cli.Hints(err), "\n"), tt.hint) {
				t.Errorf("hints %q do not mention %q", cli.Hints(err), tt.hint)
			}
			if tt.is == httpapi.ErrBusy {
				if d, ok := httpapi.RetryAfter(err); !ok || d != 7*time.Second {
					t.Errorf("RetryAfter() = %v, %v; want 7s, true", d, ok)
				}
			}
		})
	}
}

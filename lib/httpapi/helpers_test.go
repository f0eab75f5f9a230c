package httpapi_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/internal/testio"
	"github.com/backfill/backfill/lib/testdb"
)

// Tokens used by the tests; they must never show up in a log or an error.
const (
	token1 = "tok1-0123456789abcdef0123456789abcdef"
	token2 = "tok2-fedcba9876543210fedcba9876543210"
)

// schemaSQL is the small "production" database of most tests.
var schemaSQL = []string{
	"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, name VARCHAR(50), created_at DATETIME, updated_at DATETIME)",
	"INSERT INTO users VALUES (1,'alice@corp.example','Alice','2024-01-01','2024-01-02'),(2,'bob@x.example','Bob','2024-01-01','2025-06-01'),(3,'carol@x.example',NULL,'2023-01-01','2023-01-01')",
	"CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL, body TEXT, FOREIGN KEY (user_id) REFERENCES users (id))",
	"INSERT INTO posts VALUES (1,1,'hello'),(2,2,'world')",
	"CREATE TABLE secrets (id INT PRIMARY KEY, s VARCHAR(10))",
	"INSERT INTO secrets VALUES (1,'psst')",
}

const baseConfig = `
exclude_tables = ["secrets"]
[auth]
token = "` + token1 + `"
tokens = ["` + token2 + `"]
[server]
max_concurrent_dumps = 2
salt = "pepper-pepper-pepper"
[sanitize.users]
email = { type = "email" }
`

// logBuffer collects the server's log lines safely.
type logBuffer struct{ testio.SyncBuffer }

// lines returns the JSON log records.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// server is a bf-serve HTTP server running in the test on a loopback port
// against a real database.
type server struct {
	db     *testdb.DB
	cfg    *config.Config
	srv    *httpapi.Server
	url    string // scheme://host:port
	log    *logBuffer
	cancel context.CancelFunc
	done   chan error
}

type serverOpt func(*httpapi.Options)

func withTLS(c *tls.Config) serverOpt { return func(o *httpapi.Options) { o.TLS = c } }

// startServer creates a database with schemaSQL (plus extra statements),
// and serves it with the configuration text.
func startServer(t *testing.T, cfgText string, extra []string, opts ...serverOpt) *server {
	t.Helper()
	db := testdb.New(t)
	db.Exec(t, schemaSQL...)
	db.Exec(t, extra...)
	return serve(t, db, cfgText, opts...)
}

func serve(t *testing.T, db *testdb.DB, cfgText string, opts ...serverOpt) *server {
	t.Helper()
	logs := &logBuffer{}
	s := serveConfig(t, db, mustConfig(t, cfgText), slog.New(slog.NewJSONHandler(logs, nil)), opts...)
	s.log = logs
	return s
}

// mustConfig parses and validates a backfill.toml text.
func mustConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("backfill.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serveConfig runs a server for db with cfg on a loopback port until the
// test ends.
func serveConfig(t *testing.T, db *testdb.DB, cfg *config.Config, logger *slog.Logger, opts ...serverOpt) *server {
	t.Helper()
	o := httpapi.Options{
		DB:       db.DB,
		Database: db.Name,
		Config:   cfg,
		Logger:   logger,
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := httpapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{db: db, cfg: cfg, srv: srv, cancel: cancel, done: make(chan error, 1)}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	s.url = scheme + "://" + ln.Addr().String()
	go func() { s.done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the server down (once) and returns Serve's error.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
			return err
		}
		return nil
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop within 60s")
		return nil
	}
}

// response is what get returns.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorText decodes the {"error": ...} body, failing if it is not one.
func (r *response) errorText(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response Content-Type = %q, want application/json; body %q", ct, r.body)
	}
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	msg, _ := v["error"].(string)
	_, hints := v["hints"]
	if msg == "" || len(v) > 2 || (len(v) == 2 && !hints) {
		t.Fatalf("error body %q is not {\"error\": \"...\"} (with optional \"hints\")", r.body)
	}
	return msg
}

// do sends one request; the path goes out as written (the client neither
// cleans ".." nor re-encodes "%2e").
func do(t *testing.T, hc *http.Client, method, url, rawPath, auth string) *response {
	t.Helper()
	req, err := http.NewRequest(method, url+rawPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawPath, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for an
// hour, and returns it as PEM with its key, and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "bf-serve test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certPEM, keyPEM, pool
}

func tlsConfig(t *testing.T, certPEM, keyPEM []byte) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// clientTrusting returns an HTTP client whose only root is pool.
func clientTrusting(pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

// raw sends a request line exactly as written over a bare connection, for
// paths net/url refuses to build.
func raw(t *testing.T, base, method, path, auth string) *response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}
}

package bfserve_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/cli/bfserve"
	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/internal/testio"
	"github.com/backfill/backfill/lib/testdb"
)

const token = "bfserve-test-token-0123456789abcdef"

// env returns a program environment whose variables come from vars.
func env(args []string, vars map[string]string, stderr *testio.SyncBuffer) cli.Env {
	return cli.Env{
		Args:   args,
		Stdin:  strings.NewReader(""),
		Stdout: &bytes.Buffer{},
		Stderr: stderr,
		Getenv: func(k string) string { return vars[k] },
	}
}

// waitAddr waits for bf-serve's --addr-file.
func waitAddr(t *testing.T, path string, done <-chan struct{}, stderr *testio.SyncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-done:
			t.Fatalf("bf-serve stopped before listening:\n%s", stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no address file after 30s:\n%s", stderr)
	return ""
}

// TestRun_TLS starts bf-serve with a self-signed certificate and key made
// here (tls_cert, tls_key) and fetches the manifest over HTTPS (issue 5).
func TestRun_TLS(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t, "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100))")
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "backfill.toml")
	cfgText := "[server]\ntls_cert = \"" + certFile + "\"\ntls_key = \"" + keyFile + "\"\n"
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	stderr := &testio.SyncBuffer{}
	e := env([]string{"--config", cfgFile, "--listen", "127.0.0.1:0", "--addr-file", addrFile},
		map[string]string{"BACKFILL_TOKEN": token, "BACKFILL_SOURCE_DSN": db.DSN()}, stderr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var runErr error
	go func() { defer close(done); runErr = bfserve.Run(ctx, e) }()
	addr := waitAddr(t, addrFile, done, stderr)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	c := &httpapi.Client{BaseURL: "https://" + addr, Token: token, HTTP: &http.Client{Transport: tr}}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	m, err := c.Manifest(rctx, "")
	if err != nil {
		t.Fatalf("Manifest() over HTTPS: %v\n%s", err, stderr)
	}
	if m.Database != db.Name || len(m.Tables) != 1 {
		t.Errorf("manifest of %q with %d tables", m.Database, len(m.Tables))
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTPS speaks %s, want HTTP/2", resp.Proto)
	}

	cancel()
	<-done
	var ee *cli.ExitError
	if !asExit(runErr, &ee) || ee.Code != 0 {
		t.Fatalf("Run() = %v, want exit status 0 after a clean shutdown", runErr)
	}
	logs := stderr.String()
	for _, want := range []string{"msg=listening addr=" + addr + " url=https://" + addr + "/api/backfill tls=true database=" + db.Name, `msg="shutting down"`, "route=manifest status=200"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, token) {
		t.Errorf("the log contains the token:\n%s", logs)
	}
}

// TestMain_SIGTERM: SIGTERM stops bf-serve gracefully with exit status 0
// (SIGINT is covered by the testscripts).
func TestMain_SIGTERM(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	stderr := &testio.SyncBuffer{}
	e := env([]string{"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--config", filepath.Join(dir, "none.toml")},
		map[string]string{"BACKFILL_TOKEN": token, "BACKFILL_SOURCE_DSN": db.DSN()}, stderr)
	if err := os.WriteFile(filepath.Join(dir, "none.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	code := -1
	go func() { defer close(done); code = cli.Run("bf-serve", e, bfserve.Run) }()
	waitAddr(t, addrFile, done, stderr)
	// cli.Run has installed its handler before bf-serve wrote the address.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("bf-serve did not stop after SIGTERM:\n%s", stderr)
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), `msg="shutting down" running=0 shutdown_timeout=30s reason="interrupted by SIGTERM"`) {
		t.Errorf("no shutdown line:\n%s", stderr)
	}
}

func asExit(err error, ee **cli.ExitError) bool {
	e, ok := err.(*cli.ExitError)
	*ee = e
	return ok
}

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
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
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

// TestRun_SelectOnly: everything bf-serve does (start-up checks, manifest,
// dumps, health) works for a user with only SELECT and SHOW VIEW, as on a
// read replica (issue 5).
func TestRun_SelectOnly(t *testing.T) {
	db := testdb.New(t)
	db.Exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, created_at DATETIME, updated_at DATETIME)",
		"INSERT INTO users VALUES (1, 'a@x.example', '2025-01-01', '2025-01-01'), (2, 'b@x.example', '2025-01-01', '2025-01-01')",
		"CREATE VIEW v AS SELECT id FROM users")
	srv, err := testdb.Get()
	if err != nil {
		t.Fatal(err)
	}
	user := "ro_" + db.Name[len("bf_t_"):]
	pw := "ro-pw-" + user
	t.Cleanup(func() { _, _ = srv.Admin.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	for _, q := range []string{
		"CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'",
		"GRANT SELECT, SHOW VIEW ON `" + db.Name + "`.* TO '" + user + "'@'%'",
	} {
		if _, err := srv.Admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := mysql.ParseDSN(db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, pw

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "backfill.toml")
	if err := os.WriteFile(cfgFile, []byte("[server]\nsalt = \"s4lt-s4lt-s4lt\"\n[sanitize.users]\nemail = { type = \"email\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "addr")
	stderr := &testio.SyncBuffer{}
	e := env([]string{"--config", cfgFile, "--listen", "127.0.0.1:0", "--addr-file", addrFile, "--dsn", cfg.FormatDSN()},
		map[string]string{"BACKFILL_TOKEN": token}, stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = bfserve.Run(ctx, e) }()
	addr := waitAddr(t, addrFile, done, stderr)

	c := &httpapi.Client{BaseURL: "http://" + addr, Token: token}
	if _, err := c.Manifest(ctx, "2024-01-01T00:00:00Z"); err != nil {
		t.Fatalf("manifest as a SELECT-only user: %v\n%s", err, stderr)
	}
	body, err := c.Dump(ctx, "users", "")
	if err != nil {
		t.Fatalf("dump as a SELECT-only user: %v\n%s", err, stderr)
	}
	_, rows, err := dumpfmt.Verify(body)
	body.Close()
	if err != nil || rows != 2 {
		t.Fatalf("dump as a SELECT-only user: %d rows, %v\n%s", rows, err, stderr)
	}
	cancel()
	<-done
	if strings.Contains(stderr.String(), pw) || strings.Contains(stderr.String(), token) {
		t.Errorf("the log shows a secret:\n%s", stderr)
	}
}

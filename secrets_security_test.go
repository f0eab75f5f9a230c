package backfill_test

// Secrets (issue 10): the bearer token, the sanitization salt and DSN
// passwords never show up where people and other programs can read them:
// logs, error messages, the command lines of any process (ps), the
// server's process list (SQL text), the state file, the cache directory.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/faults"
	"github.com/backfill/backfill/lib/mysqldb"
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// watcher polls every process's command line and the database server's
// process list for secrets while a test runs.
type watcher struct {
	mu      sync.Mutex
	found   []string
	polls   int
	stop    chan struct{}
	stopped chan struct{}
}

func watch(t *testing.T, r *rig, secrets ...string) *watcher {
	w := &watcher{stop: make(chan struct{}), stopped: make(chan struct{})}
	admin := r.src.Server().Admin
	go func() {
		defer close(w.stopped)
		for {
			ps, _ := faults.Cmdlines()
			infos, _ := runSQL(admin, "SELECT COALESCE(INFO,'') FROM INFORMATION_SCHEMA.PROCESSLIST WHERE ID <> CONNECTION_ID()")
			w.mu.Lock()
			w.polls++
			for _, sec := range secrets {
				for _, p := range ps {
					if p.PID != os.Getpid() && strings.Contains(strings.Join(p.Args, " "), sec) {
						w.found = append(w.found, fmt.Sprintf("pid %d: %q", p.PID, p.Args))
					}
				}
				if strings.Contains(infos, sec) {
					w.found = append(w.found, "the server's process list: "+infos)
				}
			}
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *watcher) end(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.stopped
	t.Logf("polled every command line and the process list %d times", w.polls)
	for _, f := range w.found {
		t.Errorf("a secret was visible: %s", f)
	}
}

// noSecret fails the test when text holds one of secrets.
func noSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q:\n%s", where, s, text)
		}
	}
}

// noSecretInFiles walks dir, decompressing dump streams, and fails the test
// when a file holds one of secrets.
func noSecretInFiles(t *testing.T, dir string, secrets ...string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			if dec, err := zstd.NewReader(bytes.NewReader(data)); err == nil {
				if plain, err := io.ReadAll(dec); err == nil {
					data = append(data, plain...)
				}
				dec.Close()
			}
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds the secret %q", p, s)
			}
		}
		return nil
	})
	return n
}

// TestSecurity_TokenAndSaltNeverShown runs a whole pull (bf-serve,
// bf-pull: bf-status, bf-fetch, bf-schemadiff, bf-import) with a token and
// a salt, plus the ways a token goes wrong (wrong token, token file, token
// in the URL, too short a token), while every process's command line and the
// server's process list are watched; then it searches every output and
// every file the tools wrote.
func TestSecurity_TokenAndSaltNeverShown(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.faultTables(30000)
	salt := "salt-" + randomHex(12)
	wrong := "wrong-token-" + randomHex(16)
	r.setenv("BACKFILL_SALT=" + salt)
	if err := os.WriteFile(r.path("backfill.toml"), []byte("[sanitize.big]\na = { type = \"email\" }\nb = { type = \"hash\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := []string{testToken, salt, wrong}
	w := watch(t, r, secrets...)
	s := r.serve()
	r.setenv("BACKFILL_SOURCE_URL=" + s.url())
	var outputs []string
	keep := func(res result) result { outputs = append(outputs, res.stdout, res.stderr); return res }

	keep(r.mustRun("sh", filepath.Join(repoRoot, "scripts", "bf-pull"), "--full"))
	keep(r.mustRun("bf-status"))
	keep(r.mustRun("bf-fetch", "dump", "big", "-o", "big.sql.zst"))
	keep(r.mustRun("bf-dump", "--table", "big", "--explain"))

	// A wrong token: 401, and neither token in the message.
	r.setenv("BACKFILL_TOKEN=" + wrong)
	if res := keep(r.run("bf-fetch", "manifest")); res.code != 1 || !strings.Contains(res.stderr, "token") {
		t.Errorf("bf-fetch with a wrong token: exit %d\n%s", res.code, res.stderr)
	}
	// The token from a file.
	if err := os.WriteFile(r.path("token.txt"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep(r.mustRun("bf-fetch", "--token-file", "token.txt", "manifest"))
	if err := os.WriteFile(r.path("wrong.txt"), []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep(r.run("bf-fetch", "--token-file", "wrong.txt", "dump", "big", "-o", "x.sql.zst"))
	r.setenv("BACKFILL_TOKEN=" + testToken)

	// The token where it does not belong: in the query string, the path,
	// a since value. The answers and the access log must not repeat it.
	for _, path := range []string{"/api/backfill/manifest?token=" + testToken, "/api/backfill/manifest?since=" + testToken,
		"/api/backfill/dump/" + testToken, "/api/backfill/" + testToken, "/api/backfill/dump/big?since=" + salt} {
		req, _ := http.NewRequest("GET", s.url()+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("GET %s: status %d, want 4xx", path, resp.StatusCode)
		}
		noSecret(t, "the answer to GET "+path, string(body), secrets...)
	}
	// A request with the wrong token in the header.
	req, _ := http.NewRequest("GET", s.url()+"/api/backfill/manifest", nil)
	req.Header.Set("Authorization", "Bearer "+wrong)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		noSecret(t, "the 401 answer", string(body), secrets...)
	}

	// bf-serve refuses a short token without printing it.
	short := "short-" + randomHex(4)
	r.setenv("BACKFILL_TOKEN=" + short)
	if res := keep(r.run("bf-serve", "--listen", "127.0.0.1:0")); res.code != 2 {
		t.Errorf("bf-serve with a short token: exit %d, want 2\n%s", res.code, res.stderr)
	} else {
		noSecret(t, "bf-serve's refusal", res.stderr, short)
	}
	r.setenv("BACKFILL_TOKEN=" + testToken)

	if err := s.stop(); err != nil {
		t.Errorf("bf-serve: %v", err)
	}
	w.end(t)
	for _, o := range outputs {
		noSecret(t, "a tool's output", o, secrets...)
	}
	noSecret(t, "bf-serve's log", s.log(), secrets...)
	if !strings.Contains(s.log(), "status=401") {
		t.Errorf("bf-serve's log has no 401 line:\n%s", s.log())
	}
	// Every file: the state file, the cache (manifest.json, meta.json, the
	// dumps, decompressed), HOME. token.txt holds the token on purpose;
	// backfill.toml holds no secret here.
	os.Remove(r.path("token.txt"))
	os.Remove(r.path("wrong.txt"))
	os.Remove(s.logPath)
	n := noSecretInFiles(t, r.dir, secrets...)
	if _, err := os.Stat(r.path(".backfill/state.json")); err != nil {
		t.Errorf("no state file to search: %v", err)
	}
	t.Logf("searched %d files", n)
}

// TestSecurity_DSNPasswordNeverShown gives every tool a DSN with a real
// password (a user created for the test) and makes each fail in the ways
// that quote connection details: a wrong password, an unreachable server, a
// malformed DSN, a missing privilege, an unknown table. No output holds the
// password, right or wrong.
func TestSecurity_DSNPasswordNeverShown(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.faultTables(10)
	admin := r.src.Server().Admin
	user := "bf_pw_" + randomHex(4)
	pw := "Pw-" + randomHex(10)
	wrongPW := "Wrong-" + randomHex(10)
	if _, err := admin.Exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	for _, g := range []string{"GRANT SELECT, SHOW VIEW ON `" + r.src.Name + "`.* TO '" + user + "'@'%'",
		"GRANT ALL ON `" + r.dst.Name + "`.* TO '" + user + "'@'%'"} {
		if _, err := admin.Exec(g); err != nil {
			t.Fatal(err)
		}
	}
	dsn := func(db, pass string) string {
		c, err := mysqldb.Config(r.src.DSN())
		if err != nil {
			t.Fatal(err)
		}
		if c.Net == "unix" {
			t.Skip("the test server listens on a unix socket; the user is created for TCP")
		}
		c.User, c.Passwd, c.DBName, c.Params = user, pass, db, nil
		return c.FormatDSN()
	}
	good, bad := dsn(r.src.Name, pw), dsn(r.src.Name, wrongPW)
	localBad := dsn(r.dst.Name, wrongPW)
	unreachable := user + ":" + pw + "@tcp(127.0.0.1:1)/" + r.src.Name + "?timeout=2s"
	malformed := user + ":" + pw + "@tcp(127.0.0.1:3306/" + r.src.Name
	r.mustRun("bf-dump", "--dsn", r.src.DSN(), "--table", "big", "-o", "big.sql.zst")
	man := r.mustRun("bf-manifest", "--dsn", r.src.DSN())
	if err := os.WriteFile(r.path("manifest.json"), []byte(man.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("dsn.toml"), []byte(fmt.Sprintf("[source]\ndsn = %q\n[client]\ndsn = %q\n", good, localBad)), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		env  string // BACKFILL_SOURCE_DSN or BACKFILL_DSN value, "" to leave
		args []string
		code int
	}{
		{"bf-dump unknown table", "BACKFILL_SOURCE_DSN=" + good, []string{"bf-dump", "--table", "nosuch", "-o", "x.sql.zst"}, 1},
		{"bf-dump wrong password", "BACKFILL_SOURCE_DSN=" + bad, []string{"bf-dump", "--table", "big", "-o", "x.sql.zst"}, 1},
		{"bf-dump wrong password by flag", "", []string{"bf-dump", "--dsn", bad, "--table", "big", "-o", "x.sql.zst"}, 1},
		{"bf-dump unreachable", "BACKFILL_SOURCE_DSN=" + unreachable, []string{"bf-dump", "--table", "big", "-o", "x.sql.zst"}, 1},
		{"bf-dump malformed", "BACKFILL_SOURCE_DSN=" + malformed, []string{"bf-dump", "--table", "big", "-o", "x.sql.zst"}, 2},
		{"bf-dump no privilege", "BACKFILL_SOURCE_DSN=" + dsn("mysql", pw), []string{"bf-dump", "--table", "user", "-o", "x.sql.zst"}, 1},
		{"bf-manifest wrong password", "BACKFILL_SOURCE_DSN=" + bad, []string{"bf-manifest"}, 1},
		{"bf-manifest malformed", "BACKFILL_SOURCE_DSN=" + malformed, []string{"bf-manifest"}, 2},
		{"bf-serve wrong password", "BACKFILL_SOURCE_DSN=" + bad, []string{"bf-serve", "--listen", "127.0.0.1:0"}, 1},
		{"bf-serve unreachable", "BACKFILL_SOURCE_DSN=" + unreachable, []string{"bf-serve", "--listen", "127.0.0.1:0"}, 1},
		{"bf-import wrong password", "BACKFILL_DSN=" + localBad, []string{"bf-import", "big.sql.zst"}, 1},
		{"bf-import malformed", "BACKFILL_DSN=" + strings.Replace(malformed, r.src.Name, r.dst.Name, 1), []string{"bf-import", "big.sql.zst"}, 2},
		{"bf-import no such table", "BACKFILL_DSN=" + dsn(r.src.Name, pw), []string{"bf-import", "big.sql.zst"}, 1},
		{"bf-schemadiff wrong password", "BACKFILL_DSN=" + localBad, []string{"bf-schemadiff", "--manifest", "manifest.json"}, 2},
		{"config file", "BACKFILL_SOURCE_DSN=", []string{"bf-dump", "--config", "dsn.toml", "--table", "nosuch", "-o", "x.sql.zst"}, 1},
		{"config file, local", "BACKFILL_DSN=", []string{"bf-import", "--config", "dsn.toml", "big.sql.zst"}, 1},
	}
	saved := append([]string(nil), r.env...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.env = append([]string(nil), saved...)
			if tc.env != "" {
				r.setenv(tc.env)
			}
			res := r.run(tc.args[0], tc.args[1:]...)
			t.Logf("exit %d: %s", res.code, strings.TrimSpace(res.stderr))
			if res.code != tc.code {
				t.Errorf("exit %d, want %d", res.code, tc.code)
			}
			noSecret(t, "the output", res.stdout+res.stderr, pw, wrongPW)
		})
	}
	r.env = saved

	// A running bf-serve whose user loses its privileges answers 500: the
	// answer and the log name no password.
	r.setenv("BACKFILL_SOURCE_DSN=" + good)
	s := r.serve()
	if _, err := admin.Exec("REVOKE SELECT, SHOW VIEW ON `" + r.src.Name + "`.* FROM '" + user + "'@'%'"); err != nil {
		t.Fatal(err)
	}
	// Privileges on a database change for a session at its next USE: end
	// bf-serve's sessions, so that its pool connects again.
	ids, err := runSQL(admin, "SELECT ID FROM INFORMATION_SCHEMA.PROCESSLIST WHERE USER = '"+user+"'")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range strings.Fields(ids) {
		admin.Exec("KILL CONNECTION " + id)
	}
	for _, args := range [][]string{{"manifest"}, {"dump", "big", "-o", "y.sql.zst"}} {
		res := r.run("bf-fetch", append([]string{"--url", s.url(), "--retries", "1"}, args...)...)
		t.Logf("bf-fetch %s after REVOKE: exit %d: %s", args[0], res.code, strings.TrimSpace(res.stderr))
		if res.code != 1 {
			t.Errorf("bf-fetch %s after REVOKE: exit %d, want 1", args[0], res.code)
		}
		noSecret(t, "bf-fetch's output", res.stdout+res.stderr, pw)
	}
	s.stop()
	noSecret(t, "bf-serve's log", s.log(), pw)
	os.Remove(r.path("dsn.toml")) // holds the password on purpose
	if n := noSecretInFiles(t, r.dir, pw, wrongPW); n == 0 {
		t.Errorf("no files searched")
	}
}

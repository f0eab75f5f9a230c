package backfill_test

// Helpers of the reliability and security tests (issue 10) that drive the
// real programs as processes: the testscript harness (TestMain) put every
// bf-* tool on PATH, so exec.Command("bf-serve", ...) runs the real thing,
// and a test can kill it at any moment, read its memory from /proc and see
// its arguments as ps does.

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/faults"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/testdb"
)

// longTests says whether the slow fault, load and security tests run
// (make test-long).
func longTests() bool { return os.Getenv("BACKFILL_LONG") != "" }

func needLong(t *testing.T, what string) {
	t.Helper()
	if !longTests() {
		t.Skip(what + ": slow; make test-long (BACKFILL_LONG=1) runs it")
	}
}

// privateApp starts a private mariadbd holding a database "app", runs stmts
// in it, and returns the server and a pool on app; both end with the test.
func privateApp(t *testing.T, stmts ...string) (*faults.Server, *sql.DB) {
	t.Helper()
	srv, err := faults.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.Admin.Exec("CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	app, err := mysqldb.Open(srv.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	for _, stmt := range stmts {
		if _, err := app.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return srv, app
}

// rig is a source ("production") and a destination ("local") database and
// a working directory, with the environment the tools read.
type rig struct {
	t        *testing.T
	src, dst *testdb.DB
	dir      string
	env      []string
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, src: testdb.New(t), dst: testdb.New(t), dir: t.TempDir()}
	r.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + r.dir,
		"BACKFILL_SOURCE_DSN=" + r.src.DSN(),
		"BACKFILL_DSN=" + r.dst.DSN(),
		"BACKFILL_ENV=local",
		"BACKFILL_TOKEN=" + testToken,
		"BACKFILL_PROGRESS=never",
	}
	return r
}

// setenv adds or replaces a variable of the tools' environment.
func (r *rig) setenv(kv string) {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range r.env {
		if strings.HasPrefix(e, k+"=") {
			r.env[i] = kv
			return
		}
	}
	r.env = append(r.env, kv)
}

func (r *rig) path(name string) string { return filepath.Join(r.dir, name) }

// command returns prog with args, run in the rig's directory and
// environment.
func (r *rig) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	return cmd
}

// result is how a process ended.
type result struct {
	stdout, stderr string
	code           int
	peakRSS        int64 // VmHWM, followed while it ran
	took           time.Duration
}

// run runs prog to its end (at most 10 minutes).
func (r *rig) run(prog string, args ...string) result {
	r.t.Helper()
	return r.runCmd(r.command(prog, args...))
}

func (r *rig) runCmd(cmd *exec.Cmd) result {
	r.t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", cmd.Args[0], err)
	}
	peak := faults.WatchPeak(cmd.Process.Pid)
	timer := time.AfterFunc(10*time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	res := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start), peakRSS: peak()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.code = 128 + int(ws.Signal())
		}
	default:
		r.t.Fatalf("%s: %v", cmd.Args[0], err)
	}
	return res
}

// mustRun runs prog and fails the test unless it exits 0.
func (r *rig) mustRun(prog string, args ...string) result {
	r.t.Helper()
	res := r.run(prog, args...)
	if res.code != 0 {
		r.t.Fatalf("%s %s: exit %d\n%s", prog, strings.Join(args, " "), res.code, res.stderr)
	}
	return res
}

// served is a bf-serve running in the background.
type served struct {
	r       *rig
	cmd     *exec.Cmd
	addr    string
	logPath string
	exit    chan error
}

// serve starts bf-serve on a free loopback port and waits until it
// listens.
func (r *rig) serve(args ...string) *served {
	r.t.Helper()
	f, err := os.CreateTemp(r.dir, "serve-*.log")
	if err != nil {
		r.t.Fatal(err)
	}
	addrFile := f.Name() + ".addr"
	args = append([]string{"--listen", "127.0.0.1:0", "--addr-file", addrFile}, args...)
	cmd := r.command("bf-serve", args...)
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	f.Close()
	s := &served{r: r, cmd: cmd, logPath: f.Name(), exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()
	r.t.Cleanup(s.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			s.addr = strings.TrimSpace(string(b))
			return s
		}
		select {
		case err := <-s.exit:
			s.exit <- err
			r.t.Fatalf("bf-serve exited before listening (%v):\n%s", err, s.log())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("bf-serve did not listen within 30s:\n%s", s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *served) url() string { return "http://" + s.addr }

// log is what bf-serve wrote on stderr so far.
func (s *served) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// kill ends bf-serve with SIGKILL (a crash: no shutdown, no cleanup) and
// waits for it.
func (s *served) kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	s.exit <- nil
}

// stop ends bf-serve with SIGINT and returns its exit error.
func (s *served) stop() error {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.exit:
		s.exit <- err
		return err
	case <-time.After(60 * time.Second):
		s.kill()
		return errors.New("bf-serve did not stop within 60s of SIGINT")
	}
}

// sum is tableSum of a table of db, as "ROWS DIGEST".
func sum(t *testing.T, db *testdb.DB, table string) string {
	t.Helper()
	s, n, err := tableSum(db.DB, table, nil)
	if err != nil {
		t.Fatalf("checksum %s.%s: %v", db.Name, table, err)
	}
	return fmt.Sprintf("%d %s", n, s)
}

// sums is sum of each table.
func sums(t *testing.T, db *testdb.DB, tables ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, tb := range tables {
		m[tb] = sum(t, db, tb)
	}
	return m
}

// sameSums fails the test when a table's sum differs from want.
func sameSums(t *testing.T, what string, db *testdb.DB, want map[string]string) {
	t.Helper()
	for tb, w := range want {
		if got := sum(t, db, tb); got != w {
			t.Errorf("%s: table %s is %s, want %s", what, tb, got, w)
		}
	}
}

// verifyFile reports whether path holds a complete dump stream.
func verifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = dumpfmt.Verify(f)
	return err
}

// checkDir asserts that every TABLE.sql.zst in dir is complete: a file
// without its end marker never takes the final name.
func checkDir(t *testing.T, dir string) (complete, parts []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".sql.zst"):
			if err := verifyFile(p); err != nil {
				t.Errorf("%s has the final name but is not a complete stream: %v", e.Name(), err)
			}
			complete = append(complete, e.Name())
		case strings.HasSuffix(e.Name(), ".part"):
			parts = append(parts, e.Name())
		}
	}
	return complete, parts
}

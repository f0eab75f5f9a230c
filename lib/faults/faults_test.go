package faults_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/faults"
	"github.com/backfill/backfill/lib/testdb"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Shutdown()
	os.Exit(code)
}

// body is what the test server sends: 1 MiB, so that a cut lands mid-body.
var body = bytes.Repeat([]byte("0123456789abcdef"), 1<<16)

func newUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func get(t *testing.T, addr string) ([]byte, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestProxy_Forwards(t *testing.T) {
	p, err := faults.NewProxy(newUpstream(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got, err := get(t, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes through the proxy, want %d", len(got), len(body))
	}
	if p.Accepted() != 1 || p.Cuts() != 0 {
		t.Errorf("Accepted()=%d Cuts()=%d, want 1 and 0", p.Accepted(), p.Cuts())
	}
}

func TestProxy_Cut(t *testing.T) {
	for _, reset := range []bool{false, true} {
		for _, n := range []int64{1, 100, 300, 64 << 10, 1<<20 - 1} {
			p, err := faults.NewProxy(newUpstream(t))
			if err != nil {
				t.Fatal(err)
			}
			p.CutAfter(n, reset)
			got, err := get(t, p.Addr())
			if err == nil {
				t.Errorf("cut after %d (reset %v): read %d bytes without an error", n, reset, len(got))
			}
			if len(got) >= len(body) {
				t.Errorf("cut after %d (reset %v): the whole body arrived", n, reset)
			}
			if p.Cuts() != 1 {
				t.Errorf("cut after %d: Cuts()=%d, want 1", n, p.Cuts())
			}
			p.Close()
		}
	}
}

func TestProxy_Stall(t *testing.T) {
	p, err := faults.NewProxy(newUpstream(t))
	if err != nil {
		t.Fatal(err)
	}
	p.StallAfter(1000)
	c := &http.Client{Timeout: 500 * time.Millisecond}
	start := time.Now()
	resp, err := c.Get("http://" + p.Addr() + "/")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a stalled response was read whole")
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("the stalled request failed after %v, before the client's timeout", d)
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close() hangs with a stalled connection")
	}
}

func TestLimitWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &faults.LimitWriter{W: &buf, N: 10}
	if n, err := w.Write([]byte("12345")); n != 5 || err != nil {
		t.Fatalf("Write(5 bytes) = %d, %v", n, err)
	}
	n, err := w.Write([]byte("6789abcdef"))
	if n != 5 || !errors.Is(err, syscall.ENOSPC) || !faults.IsNoSpace(err) {
		t.Fatalf("Write past the limit = %d, %v; want 5, ENOSPC", n, err)
	}
	if n, err := w.Write([]byte("x")); n != 0 || !errors.Is(err, faults.ErrNoSpace) {
		t.Fatalf("Write when full = %d, %v; want 0, ENOSPC", n, err)
	}
	if got := buf.String(); got != "123456789a" || w.Written() != 10 {
		t.Errorf("wrote %q (%d), want the first 10 bytes", got, w.Written())
	}
}

func TestRSS(t *testing.T) {
	cur, peak, err := faults.RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cur <= 0 || peak < cur {
		t.Errorf("RSS() = %d, %d; want 0 < cur <= peak", cur, peak)
	}
	// A child that grows to about 16 MiB: its peak is seen, and it is
	// not this process's.
	cmd := exec.Command("sh", "-c", "x=$(head -c 16777216 /dev/zero | tr '\\0' a); sleep 0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childPeak := faults.WatchPeak(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := childPeak(); got < 16<<20 || got > 256<<20 {
		t.Errorf("WatchPeak(sh holding 16 MiB) = %d MiB", got>>20)
	}
}

func TestCmdlines(t *testing.T) {
	cmd := exec.Command("sleep", "30.5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ps, err := faults.Cmdlines()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ps, func(p faults.Process) bool { return p.PID == cmd.Process.Pid })
	if i < 0 || !slices.Equal(ps[i].Args, []string{"sleep", "30.5"}) {
		t.Fatalf("Cmdlines() has no [sleep 30.5] for pid %d", cmd.Process.Pid)
	}
}

func TestCounters(t *testing.T) {
	db := testdb.New(t)
	db.DB.SetMaxOpenConns(1)
	before, err := faults.ReadCounters(t.Context(), db.DB, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before["Handler_write"]; !ok {
		t.Fatalf("no Handler_write among %v", before)
	}
	db.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	after, err := faults.ReadCounters(t.Context(), db.DB, true)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Join(before.Moved(after), "\n")
	for _, want := range []string{"Com_create_table", "Com_insert", "Handler_write"} {
		if !strings.Contains(moved, want+":") {
			t.Errorf("%s did not move after CREATE TABLE and INSERT; moved:\n%s", want, moved)
		}
	}
	n, err := faults.Connections(t.Context(), db.Server().Admin, "")
	if err != nil || n < 1 {
		t.Errorf("Connections() = %d, %v; want at least this test's pool", n, err)
	}
}

func TestServer_KillAndRestart(t *testing.T) {
	if os.Getenv("BACKFILL_LONG") == "" {
		t.Skip("starts a private mariadbd (about 10 s); set BACKFILL_LONG=1")
	}
	s, err := faults.StartServer("--max-allowed-packet=64M")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Admin.Exec("CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.Exec("CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.Exec("INSERT INTO d.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Admin.Ping(); err == nil {
		t.Fatal("the killed server still answers")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var n, packet int64
	if err := s.Admin.QueryRow("SELECT COUNT(*), @@max_allowed_packet FROM d.t").Scan(&n, &packet); err != nil {
		t.Fatal(err)
	}
	if n != 1 || packet != 64<<20 {
		t.Errorf("after a crash and restart: %d rows, max_allowed_packet %d; want 1 and 64M", n, packet)
	}
}

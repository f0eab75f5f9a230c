package progress_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backfill/backfill/lib/internal/testio"
	"github.com/backfill/backfill/lib/progress"
)

// clock is a fake time source that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// golden compares got with testdata/name; BACKFILL_UPDATE=1 rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("BACKFILL_UPDATE") != "" {
		if err := os.WriteFile(path, got, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (BACKFILL_UPDATE=1 go test ./lib/progress writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// TestLines_Golden pins the non-terminal output of a parallel download
// (issue 6): lines come in plan order whatever order the tables finish in,
// a failed table does not hold back the lines after it, warnings print at
// once.
func TestLines_Golden(t *testing.T) {
	var buf bytes.Buffer
	c := newClock()
	l := progress.NewLines(&buf, "bf-fetch")
	l.Now = c.Now
	l.Plan([]progress.Table{{"customers", 1000}, {"orders", 50000}, {"order_items", 120000}, {"audit_log", 7}, {"tags", 3}})

	cust := l.Begin("customers")
	orders := l.Begin("orders")
	items := l.Begin("order_items")
	c.Advance(300 * time.Millisecond)
	items.Update(1<<20, 4000)
	items.Done(3<<20+12345, 120512) // finishes first, printed third
	c.Advance(1200 * time.Millisecond)
	l.Warnf("orders: connection reset by peer; retrying in 1s (attempt 2 of 5)")
	orders.Restart()
	l.Kept("tags", 3, 210) // finished, but after audit_log
	c.Advance(700 * time.Millisecond)
	cust.Done(48213, 1000)
	orders.Done(2<<20, 49876)
	audit := l.Begin("audit_log")
	audit.Fail(errors.New("server closed the connection"))
	l.Close()
	l.Printf("5 tables: 3 fetched, 1 kept, 1 failed")
	golden(t, "lines.golden", buf.Bytes())
}

// TestLines_Interrupted: tables still running when Close is called print
// nothing, the finished ones after them still print, in order.
func TestLines_Interrupted(t *testing.T) {
	var buf bytes.Buffer
	l := progress.NewLines(&buf, "bf-fetch")
	l.Now = newClock().Now
	l.Plan([]progress.Table{{"a", 1}, {"b", 1}, {"c", 1}})
	l.Begin("a") // never finishes
	l.Begin("c").Done(10, 1)
	l.Kept("b", 1, 20)
	if buf.Len() != 0 {
		t.Fatalf("printed before a finished: %q", buf.String())
	}
	l.Close()
	want := "bf-fetch: b: 1 row, 20 B, complete from an earlier run\nbf-fetch: c: 1 row, 10 B in 0ms (- B/s)\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("Close() mismatch (-want +got):\n%s", diff)
	}
}

// TestBars_Render draws into a buffer, as --progress always does when
// stderr is not a terminal: live bars with rows, bytes, rate and ETA are
// redrawn in place with cursor movements, and each finished table leaves
// its line.
func TestBars_Render(t *testing.T) {
	var buf testio.SyncBuffer
	b := progress.NewBars(&buf, "bf-fetch", 100)
	b.Plan([]progress.Table{{"customers", 1000}, {"orders", 4000}})
	cust := b.Begin("customers")
	orders := b.Begin("orders")
	cust.Update(12<<10, 250)
	orders.Update(40<<10, 1000)
	time.Sleep(4 * progress.RefreshRate)
	cust.Done(48<<10, 1000)
	b.Warnf("orders: connection refused; retrying in 1s (attempt 2 of 5)")
	orders.Restart()
	orders.Update(80<<10, 2000)
	time.Sleep(3 * progress.RefreshRate)
	orders.Done(160<<10, 4000)
	b.Close()
	b.Printf("2 tables: 2 fetched")
	out := buf.String()
	for _, re := range []string{
		`\x1b\[\d+A`, // cursor up: redrawn in place
		`customers +\[`,
		`orders +\[`,
		`total +\[`,
		`250/1000 rows +12\.0 KiB +[0-9.]+ [KM]iB/s +ETA `,
		`1000/4000 rows +40\.0 KiB`,
		`bf-fetch: customers: 1000 rows, 48\.0 KiB in [0-9.]+s \(`,
		`bf-fetch: warning: orders: connection refused; retrying in 1s`,
		`bf-fetch: orders: 4000 rows, 160\.0 KiB in `,
		`bf-fetch: 2 tables: 2 fetched\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %q:\n%q", re, out)
		}
	}
	if strings.Count(out, "bf-fetch: customers: 1000 rows") != 1 {
		t.Errorf("the finished line of customers is not printed exactly once:\n%q", out)
	}
}

// TestBars_CloseWithRunning: an interrupted download closes with bars
// still running; Close returns and later lines go straight out.
func TestBars_CloseWithRunning(t *testing.T) {
	var buf testio.SyncBuffer
	b := progress.NewBars(&buf, "bf-fetch", 0)
	b.Plan([]progress.Table{{"a", 10}})
	tr := b.Begin("a")
	tr.Update(100, 5)
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	tr.Fail(errors.New("interrupted")) // after Close: must not block
	b.Printf("interrupted")
	if !strings.HasSuffix(buf.String(), "bf-fetch: interrupted\n") {
		t.Errorf("output = %q", buf.String())
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{progress.Bytes(0), "0 B"},
		{progress.Bytes(1023), "1023 B"},
		{progress.Bytes(1024), "1.00 KiB"},
		{progress.Bytes(48213), "47.1 KiB"},
		{progress.Bytes(3<<30 + 400<<20), "3.39 GiB"},
		{progress.Rows(1), "1 row"},
		{progress.Rows(0), "0 rows"},
		{progress.Duration(300 * time.Millisecond), "0.3s"},
		{progress.Duration(40 * time.Millisecond), "40ms"},
		{progress.Duration(42 * time.Second), "42s"},
		{progress.Duration(125 * time.Second), "2m05s"},
		{progress.Duration(62 * time.Minute), "1h02m"},
		{progress.Rate(2<<20, 2*time.Second), "1.00 MiB/s"},
		{progress.Rate(10, 0), "- B/s"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestBars_LastLine: a table finishing just before Close still gets its
// line, and the bars are gone from the last frame.
func TestBars_LastLine(t *testing.T) {
	var buf testio.SyncBuffer
	b := progress.NewBars(&buf, "bf-fetch", 80)
	b.Plan([]progress.Table{{"users", 3}})
	tr := b.Begin("users")
	tr.Update(100, 3)
	tr.Done(100, 3)
	b.Close()
	b.Printf("done")
	out := buf.String()
	if !strings.Contains(out, "bf-fetch: users: 3 rows, 100 B in ") {
		t.Errorf("no line for users in %q", out)
	}
	if !strings.HasSuffix(out, "bf-fetch: done\n") {
		t.Errorf("output does not end with the summary: %q", out)
	}
}

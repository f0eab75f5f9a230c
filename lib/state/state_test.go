package state

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a settable fake clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)}
	s := Open(filepath.Join(t.TempDir(), ".backfill", "state.json"))
	s.Now = c.now
	return s, c
}

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exit 0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestStore_BeginFinish(t *testing.T) {
	s, c := newStore(t)
	p, err := s.Begin(Start{Mode: Full, Source: "http://a/api/backfill", Target: "root@tcp(127.0.0.1:3306)/app", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 1 || p.Status != Running || p.StartedAt != "2026-03-15T10:30:00Z" {
		t.Fatalf("Begin() = %+v", p)
	}
	if err := s.SetStep(1, "import"); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(45 * time.Second)
	got, err := s.Finish(1, Outcome{Status: Complete, Rows: 1250, Tables: []string{"users", "orders"}, Checkpoint: "2026-03-15T10:29:58.123456Z"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Pull{
		ID: 1, Mode: Full, Status: Complete, Rows: 1250, Tables: []string{"users", "orders"},
		Source: "http://a/api/backfill", Target: "root@tcp(127.0.0.1:3306)/app",
		Checkpoint: "2026-03-15T10:29:58.123456Z", StartedAt: "2026-03-15T10:30:00Z",
		FinishedAt: "2026-03-15T10:30:45Z", DurationSeconds: 45,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Finish() mismatch (-want +got):\n%s", diff)
	}
	// What is on disk is the same, and valid JSON with the documented keys.
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["version"] != float64(1) || raw["next_id"] != float64(2) {
		t.Errorf("state file header = %v", raw)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.Pulls[0]); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.Finish(1, Outcome{Status: Failed}); err == nil || !strings.Contains(err.Error(), "already complete") {
		t.Errorf("second Finish() = %v, want already complete", err)
	}
	if _, err := s.Finish(7, Outcome{Status: Failed}); !errors.Is(err, ErrNoPull) {
		t.Errorf("Finish(7) = %v, want ErrNoPull", err)
	}
	// The directory holds nothing but the file and its lock: no temp files.
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"state.json", "state.json.lock"}, names); diff != "" {
		t.Errorf("directory mismatch (-want +got):\n%s", diff)
	}
}

func TestStore_FinishChecks(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Begin(Start{Mode: Full, PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Outcome{
		{Status: Complete},
		{Status: Complete, Checkpoint: "yesterday"},
		{Status: "done"},
	} {
		if _, err := s.Finish(1, o); err == nil {
			t.Errorf("Finish(%+v) succeeded", o)
		}
	}
	if _, err := s.Begin(Start{Mode: Delta, PID: os.Getpid()}); err == nil {
		t.Error("Begin(delta without since) succeeded")
	}
}

func TestStore_BusyWhileAlive(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Begin(Start{Mode: Full, PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Begin(Start{Mode: Full, PID: os.Getpid()})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Other.ID != 1 {
		t.Fatalf("second Begin() = %v, want *BusyError about pull 1", err)
	}
	if len(busy.Hints()) == 0 {
		t.Error("BusyError has no hint")
	}
	if _, err := s.Finish(1, Outcome{Status: Failed, Step: "download", Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(Start{Mode: Full, PID: os.Getpid()}); err != nil {
		t.Errorf("Begin() after the first finished: %v", err)
	}
}

func TestStore_DeadProcessIsInterrupted(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Begin(Start{Mode: Full, PID: deadPID(t)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStep(1, "import"); err != nil {
		t.Fatal(err)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Pulls[0]; p.Status != Interrupted || p.Step != "import" {
		t.Errorf("Load() shows %s at %q, want interrupted at import", p.Status, p.Step)
	}
	// The next pull may start, and the dead one is rewritten as interrupted.
	if _, err := s.Begin(Start{Mode: Full, PID: os.Getpid()}); err != nil {
		t.Fatalf("Begin() after a dead pull: %v", err)
	}
	data, _ := os.ReadFile(s.Path)
	var raw File
	json.Unmarshal(data, &raw)
	if raw.Pulls[0].Status != Interrupted || raw.Pulls[1].Status != Running {
		t.Errorf("on disk: %s, %s; want interrupted, running", raw.Pulls[0].Status, raw.Pulls[1].Status)
	}
}

func TestProcessAlive(t *testing.T) {
	me := os.Getpid()
	start := ProcessStart(me)
	if !ProcessAlive(me, start) {
		t.Errorf("ProcessAlive(self, %q) = false", start)
	}
	if ProcessAlive(deadPID(t), "") {
		t.Error("ProcessAlive(dead) = true")
	}
	if ProcessAlive(0, "") || ProcessAlive(-1, "") {
		t.Error("ProcessAlive(<=0) = true")
	}
	if start != "" && ProcessAlive(me, start+"1") {
		t.Error("ProcessAlive(self, other start) = true: a reused pid would look alive")
	}
}

func TestStore_ConcurrentUpdates(t *testing.T) {
	s, _ := newStore(t)
	s.Alive = func(int, string) bool { return false }
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			s2 := *s // a separate handle, as a separate process would have
			if _, err := s2.Begin(Start{Mode: Full, PID: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range f.Pulls {
		seen[p.ID] = true
	}
	if len(f.Pulls) != 20 || len(seen) != 20 || f.NextID != 21 {
		t.Errorf("%d entries with %d distinct ids, next_id %d; want 20, 20, 21", len(f.Pulls), len(seen), f.NextID)
	}
}

func TestStore_KeepsRecentPulls(t *testing.T) {
	s, _ := newStore(t)
	s.Alive = func(int, string) bool { return false }
	// An old history of KeepPulls+4 entries, then one more pull.
	err := s.Update(func(f *File) error {
		for range KeepPulls + 4 {
			f.Pulls = append(f.Pulls, &Pull{ID: f.NextID, Mode: Full, Status: Failed})
			f.NextID++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(Start{Mode: Full, PID: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pulls) != KeepPulls || f.Pulls[0].ID != 6 || f.NextID != KeepPulls+6 {
		t.Errorf("%d entries from id %d, next %d", len(f.Pulls), f.Pulls[0].ID, f.NextID)
	}
	if got := f.Recent(3); got[0].ID != KeepPulls+5 || got[2].ID != KeepPulls+3 {
		t.Errorf("Recent(3) = ids %d..%d", got[0].ID, got[2].ID)
	}
}

func TestStore_Unreadable(t *testing.T) {
	s, _ := newStore(t)
	os.MkdirAll(filepath.Dir(s.Path), 0o755)
	for _, body := range []string{"{not json", `{"version": 2, "pulls": []}`} {
		os.WriteFile(s.Path, []byte(body), 0o644)
		if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), s.Path) {
			t.Errorf("Load(%q) = %v, want an error naming the file", body, err)
		}
		if _, err := s.Begin(Start{Mode: Full, PID: 1}); err == nil {
			t.Errorf("Begin() over %q succeeded", body)
		}
		if data, _ := os.ReadFile(s.Path); string(data) != body {
			t.Errorf("the unreadable file was overwritten")
		}
	}
}

func TestFile_Checkpoint(t *testing.T) {
	const src, dst = "http://prod/api/backfill", "root@tcp(127.0.0.1:3306)/app"
	pull := func(status, checkpoint string, only ...string) *Pull {
		return &Pull{Status: status, Checkpoint: checkpoint, Only: only, Source: src, Target: dst}
	}
	tests := []struct {
		name  string
		pulls []*Pull
		only  []string
		want  string
	}{
		{"no pulls", nil, nil, ""},
		{"one full", []*Pull{pull(Complete, "2026-01-01T00:00:00Z")}, nil, "2026-01-01T00:00:00Z"},
		{"failed does not move it", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Failed, ""),
			pull(Interrupted, ""),
		}, nil, "2026-01-01T00:00:00Z"},
		{"a later complete pull moves it", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Complete, "2026-01-02T00:00:00.5Z"),
		}, nil, "2026-01-02T00:00:00.5Z"},
		{"the latest pull wins, even with an older checkpoint (a cached full download re-imported)", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Complete, "2026-01-02T00:00:00Z"),
			pull(Complete, "2026-01-01T00:00:00Z"),
		}, nil, "2026-01-01T00:00:00Z"},
		{"a --tables pull does not move the all-tables checkpoint", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Complete, "2026-01-05T00:00:00Z", "users"),
		}, nil, "2026-01-01T00:00:00Z"},
		{"unless it went back in time", []*Pull{
			pull(Complete, "2026-01-03T00:00:00Z"),
			pull(Complete, "2026-01-02T00:00:00Z", "users"),
		}, nil, "2026-01-02T00:00:00Z"},
		{"a --tables pull before the latest pull of every table does not count", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z", "users"),
			pull(Complete, "2026-01-03T00:00:00Z"),
		}, nil, "2026-01-03T00:00:00Z"},
		{"but moves its own tables", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Complete, "2026-01-05T00:00:00Z", "users"),
		}, []string{"users"}, "2026-01-05T00:00:00Z"},
		{"the oldest table decides", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			pull(Complete, "2026-01-05T00:00:00Z", "users"),
		}, []string{"users", "orders"}, "2026-01-01T00:00:00Z"},
		{"a table never pulled means full", []*Pull{
			pull(Complete, "2026-01-05T00:00:00Z", "users"),
		}, []string{"users", "orders"}, ""},
		{"no all-tables pull means full", []*Pull{
			pull(Complete, "2026-01-05T00:00:00Z", "users"),
		}, nil, ""},
		{"other source or target ignored", []*Pull{
			pull(Complete, "2026-01-01T00:00:00Z"),
			{Status: Complete, Checkpoint: "2026-02-01T00:00:00Z", Source: "http://other/api/backfill", Target: dst},
			{Status: Complete, Checkpoint: "2026-02-01T00:00:00Z", Source: src, Target: "root@tcp(127.0.0.1:3306)/other"},
		}, nil, "2026-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &File{Pulls: tt.pulls}
			if got := f.Checkpoint(tt.only, src, dst); got != tt.want {
				t.Errorf("Checkpoint(%v) = %q, want %q", tt.only, got, tt.want)
			}
		})
	}
}

func TestFile_MaskingChanged(t *testing.T) {
	const src, dst = "http://prod/api/backfill", "root@tcp(127.0.0.1:3306)/app"
	pull := func(masking map[string]string, only ...string) *Pull {
		return &Pull{Status: Complete, Checkpoint: "2026-01-01T00:00:00Z", Only: only, Source: src, Target: dst, Masking: masking}
	}
	current := map[string]string{"users": "aaaa", "orders": "bbbb", "posts": "cccc"}
	same := map[string]string{"users": "aaaa", "orders": "bbbb", "posts": "cccc"}
	tests := []struct {
		name                string
		pulls               []*Pull
		only                []string
		current             map[string]string
		changed, unrecorded []string
	}{
		{"unchanged", []*Pull{pull(same)}, nil, current, nil, nil},
		{"no pulls", nil, nil, current, nil, nil},
		{"one table changed", []*Pull{pull(map[string]string{"users": "xxxx", "orders": "bbbb", "posts": "cccc"})}, nil, current, []string{"users"}, nil},
		{"sorted", []*Pull{pull(map[string]string{"users": "x", "orders": "x", "posts": "cccc"})}, nil, current, []string{"orders", "users"}, nil},
		{"only the requested tables", []*Pull{pull(map[string]string{"users": "xxxx", "orders": "bbbb", "posts": "cccc"})}, []string{"orders"}, current, nil, nil},
		{"recorded by an older bf-status", []*Pull{pull(nil)}, []string{"users"}, current, nil, []string{"users"}},
		{"a table new since", []*Pull{pull(map[string]string{"users": "aaaa", "orders": "bbbb"})}, nil, current, nil, []string{"posts"}},
		{"an older bf-serve: nothing to compare", []*Pull{pull(map[string]string{"users": "xxxx"})}, nil, map[string]string{"users": "", "orders": ""}, nil, nil},
		{"the latest pull of the table decides", []*Pull{
			pull(map[string]string{"users": "xxxx", "orders": "bbbb", "posts": "cccc"}),
			pull(map[string]string{"users": "aaaa"}, "users"),
		}, nil, current, nil, nil},
		{"a later pull of other tables does not", []*Pull{
			pull(map[string]string{"users": "xxxx", "orders": "bbbb", "posts": "cccc"}),
			pull(map[string]string{"orders": "bbbb"}, "orders"),
		}, nil, current, []string{"users"}, nil},
		{"failed pulls and other targets do not count", []*Pull{
			pull(same),
			{Status: Failed, Masking: map[string]string{"users": "xxxx"}, Source: src, Target: dst},
			{Status: Complete, Checkpoint: "2026-02-01T00:00:00Z", Masking: map[string]string{"users": "xxxx"}, Source: src, Target: "root@tcp(127.0.0.1:3306)/other"},
		}, nil, current, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &File{Pulls: tt.pulls}
			changed, unrecorded := f.MaskingChanged(tt.only, src, dst, tt.current)
			if !cmp.Equal(changed, tt.changed) || !cmp.Equal(unrecorded, tt.unrecorded) {
				t.Errorf("MaskingChanged(%v) = %v, %v; want %v, %v", tt.only, changed, unrecorded, tt.changed, tt.unrecorded)
			}
		})
	}
}

// TestStore_FinishMasking: a complete pull records its fingerprints, and
// they survive the file.
func TestStore_FinishMasking(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Begin(Start{Mode: Full, PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"users": "0123456789abcdef"}
	if _, err := s.Finish(1, Outcome{Status: Complete, Tables: []string{"users"}, Checkpoint: "2026-03-15T10:29:58Z", Masking: m}); err != nil {
		t.Fatal(err)
	}
	f, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := f.Pull(1); !cmp.Equal(p.Masking, m) {
		t.Errorf("recorded masking %v, want %v", p.Masking, m)
	}
}

// Package state keeps the client's history of pulls: the state file
// ([client] state_file, default .backfill/state.json) that scripts/bf-pull
// writes through bf-status and that bf-status prints.
//
// # The file
//
// The state file is JSON, written atomically (lib/safefile: temporary file,
// fsync, rename) under an exclusive lock on FILE.lock, so that a crash never
// leaves half a file and two pulls never lose each other's entries:
//
//	{
//	  "version": 1,
//	  "next_id": 3,
//	  "pulls": [ {"id": 1, "mode": "full", "status": "complete", ...}, ... ]
//	}
//
// Each [Pull] records its mode, its status (running, complete, failed or
// interrupted, with the step and table it stopped at), the rows and tables
// it imported, when it started and how long it took, the since it asked for
// and, once complete, its checkpoint: the manifest's generated_at, which is
// the source server's clock, never this machine's, and the masking
// fingerprint of each table it imported (the manifest's "masking").
//
// # Running pulls
//
// A running entry carries the process id of the pull (the shell running
// scripts/bf-pull) and that process's start time. [Store.Begin] refuses a
// second pull while that process lives: this is the lock against concurrent
// pulls. A running entry whose process is gone (killed, machine rebooted) is
// reported as interrupted, never as running forever, and is rewritten as
// interrupted by the next Begin.
//
// # Checkpoints
//
// [File.Checkpoint] is the since of the next delta pull. A pull of every
// table sets the checkpoint of every table; a pull with --tables sets only
// the checkpoints of its tables. The latest complete pull decides, not the
// newest checkpoint: the local rows are those of the last import. Only complete pulls count, and only those
// from the same source into the same local database, so that switching
// either never produces a delta against data that was never pulled.
//
// [File.MaskingChanged] compares the masking fingerprints those same pulls
// recorded with the server's current ones: where they differ, a delta would
// mix two maskings, and the next pull must be full.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/backfill/backfill/lib/safefile"
)

// Version is the state file format this package reads and writes.
const Version = 1

// KeepPulls is how many entries the file keeps; older ones are dropped.
// Losing an old checkpoint is safe: the next pull is then a full one.
const KeepPulls = 200

// Statuses of a pull.
const (
	Running     = "running"
	Complete    = "complete"
	Failed      = "failed"
	Interrupted = "interrupted"
)

// Modes of a pull.
const (
	Full  = "full"
	Delta = "delta"
)

// File is the state file's content.
type File struct {
	Version int     `json:"version"`
	NextID  int     `json:"next_id"`
	Pulls   []*Pull `json:"pulls"` // oldest first
}

// Pull is one entry of the history. Keys are never renamed within
// version 1; new keys may be added.
type Pull struct {
	ID     int    `json:"id"`
	Mode   string `json:"mode"`   // full or delta
	Status string `json:"status"` // running, complete, failed or interrupted
	// Step is the step a running pull is in, or the one a failed or
	// interrupted pull stopped at: download, schemadiff, import, record.
	Step string `json:"step,omitempty"`
	// Table is the table the failure is about, when one is.
	Table string `json:"table,omitempty"`
	// Error is the failure's message.
	Error string `json:"error,omitempty"`
	// Rows is the number of rows imported (complete pulls).
	Rows int64 `json:"rows"`
	// Tables are the tables imported (complete pulls).
	Tables []string `json:"tables"`
	// Only is the --tables restriction; empty means every table.
	Only []string `json:"only,omitempty"`
	// Source is the server's URL (with the route prefix), Target the local
	// database (DSN without password).
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	// Since is the delta's since ("" for a full pull).
	Since string `json:"since,omitempty"`
	// Checkpoint is the manifest's generated_at (the source server's
	// clock), set when the pull completed: the since of the next delta.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Masking maps each table of a complete pull to its masking
	// fingerprint in the pull's manifest (lib/sanitize.Plan.Fingerprint): how
	// the server masked the rows imported. Absent when the manifest had
	// none (an older bf-serve) and in entries of an older bf-status.
	Masking map[string]string `json:"masking,omitempty"`
	// StartedAt and FinishedAt are RFC 3339 UTC times of this machine.
	StartedAt       string  `json:"started_at"`
	FinishedAt      string  `json:"finished_at,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	// PID and PIDStart identify the process of a running pull.
	PID      int    `json:"pid,omitempty"`
	PIDStart string `json:"pid_start,omitempty"`
}

// Covers reports whether the pull brought table (every table when it had
// no --tables restriction).
func (p *Pull) Covers(table string) bool {
	return len(p.Only) == 0 || slices.Contains(p.Only, table)
}

// Store is a state file on disk.
type Store struct {
	Path string
	// Now is the clock of started_at and finished_at; nil means time.Now.
	Now func() time.Time
	// Alive reports whether the process of a running entry still runs;
	// nil means ProcessAlive.
	Alive func(pid int, start string) bool
}

// Open returns the store at path. Nothing is read or created yet.
func Open(path string) *Store { return &Store{Path: path} }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) alive(pid int, start string) bool {
	if s.Alive != nil {
		return s.Alive(pid, start)
	}
	return ProcessAlive(pid, start)
}

// Load reads the file; a missing file is an empty history. Running
// entries whose process is gone come back as interrupted.
func (s *Store) Load() (*File, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	s.settle(f)
	return f, nil
}

func (s *Store) read() (*File, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{Version: Version, NextID: 1, Pulls: []*Pull{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("state file %s: not a backfill state file: %w", s.Path, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("state file %s has version %d; this program reads version %d", s.Path, f.Version, Version)
	}
	if f.NextID < 1 {
		f.NextID = 1
	}
	for _, p := range f.Pulls {
		if p.ID >= f.NextID {
			f.NextID = p.ID + 1
		}
	}
	return &f, nil
}

// settle marks running entries whose process is gone as interrupted.
func (s *Store) settle(f *File) (changed bool) {
	for _, p := range f.Pulls {
		if p.Status == Running && !s.alive(p.PID, p.PIDStart) {
			p.Status = Interrupted
			if p.Error == "" {
				p.Error = "the pull's process ended without recording an outcome"
			}
			changed = true
		}
	}
	return changed
}

// Update locks the file, reads it, lets fn change it and writes it back
// atomically. Nothing is written when fn fails.
func (s *Store) Update(fn func(*File) error) error {
	if dir := filepath.Dir(s.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("state file: %w", err)
		}
	}
	unlock, err := lock(s.Path + ".lock")
	if err != nil {
		return fmt.Errorf("state file %s: lock: %w", s.Path, err)
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	if n := len(f.Pulls); n > KeepPulls {
		f.Pulls = append([]*Pull{}, f.Pulls[n-KeepPulls:]...)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.WriteFile(s.Path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// BusyError is Begin's refusal while another pull runs.
type BusyError struct{ Other *Pull }

func (e *BusyError) Error() string {
	return fmt.Sprintf("another pull (id %d, process %d) is running since %s", e.Other.ID, e.Other.PID, e.Other.StartedAt)
}

// Hints says what to do.
func (e *BusyError) Hints() []string {
	return []string{"wait for it to finish, or stop it (Ctrl-C, or kill " + fmt.Sprint(e.Other.PID) + ") and pull again"}
}

// Start describes a pull that begins.
type Start struct {
	Mode   string
	Since  string
	Only   []string
	Source string
	Target string
	PID    int
}

// Begin records a running pull and returns it. It fails with a
// *BusyError while another pull's process is alive.
func (s *Store) Begin(st Start) (*Pull, error) {
	if st.Mode != Full && st.Mode != Delta {
		return nil, fmt.Errorf("mode %q: want %s or %s", st.Mode, Full, Delta)
	}
	if st.Mode == Delta && st.Since == "" {
		return nil, errors.New("a delta pull needs a since")
	}
	var p *Pull
	err := s.Update(func(f *File) error {
		s.settle(f)
		for _, o := range f.Pulls {
			if o.Status == Running {
				return &BusyError{Other: o}
			}
		}
		p = &Pull{
			ID:        f.NextID,
			Mode:      st.Mode,
			Status:    Running,
			Tables:    []string{},
			Only:      st.Only,
			Source:    st.Source,
			Target:    st.Target,
			Since:     st.Since,
			StartedAt: stamp(s.now()),
			PID:       st.PID,
			PIDStart:  ProcessStart(st.PID),
		}
		f.NextID++
		f.Pulls = append(f.Pulls, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ErrNoPull is wrapped when an id names no entry.
var ErrNoPull = errors.New("no such pull")

func find(f *File, id int) (*Pull, error) {
	for _, p := range f.Pulls {
		if p.ID == id {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pull %d: %w", id, ErrNoPull)
}

// SetStep records the step a running pull has reached, so that a crash
// shows where it stopped.
func (s *Store) SetStep(id int, step string) error {
	return s.Update(func(f *File) error {
		p, err := find(f, id)
		if err != nil {
			return err
		}
		if p.Status != Running {
			return fmt.Errorf("pull %d is %s, not running", id, p.Status)
		}
		p.Step = step
		return nil
	})
}

// Outcome is how a pull ended.
type Outcome struct {
	Status     string // complete, failed or interrupted
	Step       string // where a failed or interrupted pull stopped ("" keeps the recorded step)
	Table      string
	Error      string
	Rows       int64
	Tables     []string
	Checkpoint string // required for complete
	// Masking is the masking fingerprint of each table of a complete
	// pull, from its manifest; nil when the manifest had none.
	Masking map[string]string
}

// Finish records the outcome of a running pull and returns the entry.
func (s *Store) Finish(id int, o Outcome) (*Pull, error) {
	switch o.Status {
	case Complete:
		if o.Checkpoint == "" {
			return nil, errors.New("a complete pull needs its checkpoint (the manifest's generated_at)")
		}
		if _, err := time.Parse(time.RFC3339Nano, o.Checkpoint); err != nil {
			return nil, fmt.Errorf("checkpoint %q is not an RFC 3339 time", o.Checkpoint)
		}
	case Failed, Interrupted:
	default:
		return nil, fmt.Errorf("status %q: want %s, %s or %s", o.Status, Complete, Failed, Interrupted)
	}
	var out *Pull
	err := s.Update(func(f *File) error {
		p, err := find(f, id)
		if err != nil {
			return err
		}
		if p.Status != Running {
			return fmt.Errorf("pull %d is already %s", id, p.Status)
		}
		now := s.now()
		p.Status = o.Status
		if o.Step != "" {
			p.Step = o.Step
		}
		if o.Status == Complete {
			p.Step = ""
		}
		p.Table, p.Error = o.Table, o.Error
		p.Rows = o.Rows
		p.Tables = append([]string{}, o.Tables...)
		p.Checkpoint = o.Checkpoint
		p.Masking = o.Masking
		p.FinishedAt = stamp(now)
		if t, err := time.Parse(time.RFC3339Nano, p.StartedAt); err == nil {
			p.DurationSeconds = now.Sub(t).Seconds()
		}
		p.PID, p.PIDStart = 0, ""
		out = p
		return nil
	})
	return out, err
}

// Recent returns the last n pulls, newest first.
func (f *File) Recent(n int) []*Pull {
	var out []*Pull
	for i := len(f.Pulls) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, f.Pulls[i])
	}
	return out
}

// Pull returns the entry with this id.
func (f *File) Pull(id int) (*Pull, error) { return find(f, id) }

// Checkpoint returns the since of the next delta pull of the tables in
// only (every table when only is empty) from source into target, or ""
// when there is none and the pull must be full. A table's checkpoint is
// that of the latest complete pull that covered it, even when an earlier
// one had a newer checkpoint: a later full pull of a cached download puts
// the table back to that download's snapshot, and the changes since then
// must come again. The result is the oldest over the tables, so no table
// misses a change. An empty source or target matches any.
func (f *File) Checkpoint(only []string, source, target string) string {
	counts := func(p *Pull) (time.Time, bool) { return p.counts(source, target) }
	var oldest string
	var oldestT time.Time
	keep := func(cp string, t time.Time) {
		if oldest == "" || t.Before(oldestT) {
			oldest, oldestT = cp, t
		}
	}
	if len(only) == 0 {
		// The latest pull of every table, and the --tables pulls after it
		// (each set its own tables' checkpoints).
		for i := len(f.Pulls) - 1; i >= 0; i-- {
			p := f.Pulls[i]
			t, ok := counts(p)
			if !ok {
				continue
			}
			keep(p.Checkpoint, t)
			if len(p.Only) == 0 {
				return oldest
			}
		}
		return ""
	}
	for _, table := range only {
		found := false
		for i := len(f.Pulls) - 1; i >= 0 && !found; i-- {
			p := f.Pulls[i]
			if t, ok := counts(p); ok && p.Covers(table) {
				keep(p.Checkpoint, t)
				found = true
			}
		}
		if !found {
			return ""
		}
	}
	return oldest
}

// counts returns a complete pull's checkpoint time, ok false for the
// entries that do not count for a pull from source into target.
func (p *Pull) counts(source, target string) (time.Time, bool) {
	if p.Status != Complete || p.Checkpoint == "" ||
		(source != "" && p.Source != source) || (target != "" && p.Target != target) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, p.Checkpoint)
	return t, err == nil
}

// MaskingChanged compares the masking fingerprints of the server's current
// manifest (current: table to fingerprint) with those recorded by the
// complete pulls the local rows of each table come from: for every table
// in only (every table of current when only is empty), the latest complete
// pull from source into target that covered it, as for [File.Checkpoint].
// changed lists the tables whose fingerprint differs: a delta would leave
// their unchanged rows masked the old way (or not at all, for a new rule).
// unrecorded lists those whose pull recorded none (an older bf-status, or a
// table new since): nothing tells whether their masking changed. Tables
// without a current fingerprint (an older bf-serve) or without a pull are
// in neither list. Both lists are in the order of only, else sorted.
func (f *File) MaskingChanged(only []string, source, target string, current map[string]string) (changed, unrecorded []string) {
	tables := only
	if len(tables) == 0 {
		tables = slices.Sorted(maps.Keys(current))
	}
	for _, table := range tables {
		want := current[table]
		if want == "" {
			continue
		}
		for i := len(f.Pulls) - 1; i >= 0; i-- {
			p := f.Pulls[i]
			if _, ok := p.counts(source, target); !ok || !p.Covers(table) {
				continue
			}
			switch got, ok := p.Masking[table]; {
			case !ok:
				unrecorded = append(unrecorded, table)
			case got != want:
				changed = append(changed, table)
			}
			break
		}
	}
	return changed, unrecorded
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

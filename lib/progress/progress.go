// Package progress shows what a multi-table download is doing, on standard
// error, in one of three ways:
//
//   - [Bars] for a terminal: one live bar per table being downloaded and a
//     total bar (bytes, rows, rate, ETA), drawn by github.com/vbauerster/mpb/v8;
//     finished tables scroll up as plain lines above the bars.
//   - [Lines] for everything else (CI, cron, 2>log): one whole line per
//     finished table, in the planned table order whatever order the parallel
//     downloads finish in, so the output is deterministic and lines never
//     interleave.
//   - [Nop] for -q.
//
// Rows are counted from the stream as it is verified; the row totals that
// ETAs are computed from are the manifest's estimates (INFORMATION_SCHEMA
// numbers, often off by a few percent), so an ETA is a guide, not a promise.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Table is one table of the plan: its name and the manifest's row estimate
// (0 when unknown).
type Table struct {
	Name    string
	EstRows int64
}

// Reporter receives the events of a download. Every method is safe for
// concurrent use.
type Reporter interface {
	// Plan announces the tables in output order, before any Begin.
	Plan(tables []Table)
	// Begin starts tracking a table whose download begins.
	Begin(name string) Tracker
	// Kept records a table a previous run already downloaded completely.
	Kept(name string, rows, bytes int64)
	// Warnf prints a warning line ("prog: warning: ...").
	Warnf(format string, args ...any)
	// Printf prints an informational line ("prog: ...").
	Printf(format string, args ...any)
	// Close stops drawing and flushes what is left. Lines printed after
	// Close go straight to the output.
	Close()
}

// Tracker follows one table's download.
type Tracker interface {
	// Update reports the bytes received and rows verified so far in the
	// current attempt.
	Update(bytes, rows int64)
	// Restart says the attempt failed and a new one begins from zero.
	Restart()
	// Done says the table is complete: rows verified, bytes stored.
	Done(bytes, rows int64)
	// Fail says the table will not complete in this run.
	Fail(err error)
}

// Nop reports nothing (-q). Errors still reach the user through the
// command's error.
type Nop struct{}

// Plan does nothing.
func (Nop) Plan([]Table) {}

// Begin returns a tracker that does nothing.
func (Nop) Begin(string) Tracker { return nopTracker{} }

// Kept does nothing.
func (Nop) Kept(string, int64, int64) {}

// Warnf does nothing: -q is silent except for errors.
func (Nop) Warnf(string, ...any) {}

// Printf does nothing.
func (Nop) Printf(string, ...any) {}

// Close does nothing.
func (Nop) Close() {}

type nopTracker struct{}

func (nopTracker) Update(int64, int64) {}
func (nopTracker) Restart()            {}
func (nopTracker) Done(int64, int64)   {}
func (nopTracker) Fail(error)          {}

// Lines writes one line per finished table, in plan order. A line waits
// until every table planned before it has finished (or failed), which is
// what makes parallel output deterministic.
type Lines struct {
	// Now is the clock (tests inject a fake one); nil means time.Now.
	Now func() time.Time

	w    io.Writer
	prog string

	mu    sync.Mutex
	order []string
	pos   map[string]int
	lines []*string // per planned table: nil until finished; "" when finished without a line
	next  int       // first planned table whose line is not printed yet
}

// NewLines returns a line reporter writing to w with prog as the prefix.
func NewLines(w io.Writer, prog string) *Lines {
	return &Lines{w: w, prog: prog, pos: map[string]int{}}
}

func (l *Lines) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Plan fixes the output order.
func (l *Lines) Plan(tables []Table) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range tables {
		if _, dup := l.pos[t.Name]; dup {
			continue
		}
		l.pos[t.Name] = len(l.order)
		l.order = append(l.order, t.Name)
		l.lines = append(l.lines, nil)
	}
}

// Begin starts the clock of one table.
func (l *Lines) Begin(name string) Tracker {
	return &lineTracker{l: l, name: name, start: l.now()}
}

// Kept prints (in order) that the table is complete from an earlier run.
func (l *Lines) Kept(name string, rows, bytes int64) {
	l.finish(name, fmt.Sprintf("%s: %s, %s, complete from an earlier run", name, Rows(rows), Bytes(bytes)))
}

// Warnf prints a warning at once.
func (l *Lines) Warnf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: warning: %s\n", l.prog, fmt.Sprintf(format, args...))
}

// Printf prints an informational line at once.
func (l *Lines) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s\n", l.prog, fmt.Sprintf(format, args...))
}

// Close prints the lines still held back (tables after one that never
// finished, as after an interruption), in order.
func (l *Lines) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ; l.next < len(l.lines); l.next++ {
		if s := l.lines[l.next]; s != nil && *s != "" {
			fmt.Fprintf(l.w, "%s: %s\n", l.prog, *s)
		}
	}
}

// finish records a finished table's line ("" for none) and prints every
// line that is now due.
func (l *Lines) finish(name, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.pos[name]
	if !ok {
		if line != "" {
			fmt.Fprintf(l.w, "%s: %s\n", l.prog, line)
		}
		return
	}
	l.lines[i] = &line
	for ; l.next < len(l.lines) && l.lines[l.next] != nil; l.next++ {
		if s := *l.lines[l.next]; s != "" {
			fmt.Fprintf(l.w, "%s: %s\n", l.prog, s)
		}
	}
}

type lineTracker struct {
	l     *Lines
	name  string
	start time.Time
}

func (t *lineTracker) Update(int64, int64) {}
func (t *lineTracker) Restart()            {}

func (t *lineTracker) Done(bytes, rows int64) {
	d := t.l.now().Sub(t.start)
	t.l.finish(t.name, fmt.Sprintf("%s: %s, %s in %s (%s)", t.name, Rows(rows), Bytes(bytes), Duration(d), Rate(bytes, d)))
}

func (t *lineTracker) Fail(error) { t.l.finish(t.name, "") }

// Rows formats a row count: "1 row", "12345 rows".
func Rows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// Bytes formats a size in binary units: "512 B", "45.1 KiB", "3.40 GiB".
func Bytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.2f %s", v, units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Rate formats bytes per second over d: "1.20 MiB/s"; "-" when d is zero.
func Rate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "- B/s"
	}
	return Bytes(int64(float64(bytes)/d.Seconds())) + "/s"
}

// Duration formats an elapsed time or an ETA: "40ms", "0.3s", "12s",
// "2m05s", "1h02m".
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

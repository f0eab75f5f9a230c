package progress

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// RefreshRate is how often the bars are redrawn (at most ~10 times a
// second, STYLE §9.6).
const RefreshRate = 100 * time.Millisecond

// Bars draws live progress bars with mpb: one per table being downloaded
// (rows against the manifest's estimate, bytes, rate, ETA) and a total bar
// below them. A finished table's bar is replaced by the same line [Lines]
// prints, above the remaining bars.
type Bars struct {
	// Now is the clock of the rates and ETAs; nil means time.Now.
	Now func() time.Time

	w     io.Writer
	prog  string
	width int

	once    sync.Once
	p       *mpb.Progress
	redraw  chan any      // a redraw request; mpb redraws on each
	stopped chan struct{} // closed by Close: the ticker stops

	mu        sync.Mutex
	est       map[string]int64
	nameWidth int
	start     time.Time
	total     *mpb.Bar
	totalEst  int64 // estimated rows of the tables not kept
	doneRows  int64 // rows of finished tables
	doneBytes int64
	active    map[*barTracker]bool
	closed    bool
}

// NewBars returns a bar reporter drawing on w, which is treated as a
// terminal of the given width (0 means 80). The caller decides whether w
// is a terminal (--progress auto|always).
func NewBars(w io.Writer, prog string, width int) *Bars {
	if width <= 0 {
		width = 80
	}
	return &Bars{w: w, prog: prog, width: width, est: map[string]int64{}, active: map[*barTracker]bool{}}
}

func (b *Bars) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// progress starts the mpb container on first use.
func (b *Bars) progress() *mpb.Progress {
	b.once.Do(func() {
		b.start = b.now()
		// The writer is wrapped so that mpb does not query the terminal
		// itself (a pseudo-terminal may report a width of 0); ForceTTY
		// keeps the cursor movements that redraw in place.
		// Redraws come from a ticker and, at once, from Begin: a bar
		// appears when its table starts, not up to RefreshRate later (a
		// table fetched in less time would never have shown its bar).
		b.redraw, b.stopped = make(chan any, 1), make(chan struct{})
		b.p = mpb.New(
			mpb.WithOutput(struct{ io.Writer }{b.w}),
			mpb.ForceTTY(),
			mpb.WithManualRefresh(b.redraw),
			mpb.WithWidth(b.width),
		)
		go func() {
			t := time.NewTicker(RefreshRate)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					b.requestRedraw()
				case <-b.stopped:
					return
				}
			}
		}()
	})
	return b.p
}

// requestRedraw asks mpb for a redraw unless one is already pending.
func (b *Bars) requestRedraw() {
	select {
	case b.redraw <- nil:
	default:
	}
}

// Plan records the estimates and starts the total bar.
func (b *Bars) Plan(tables []Table) {
	p := b.progress()
	b.mu.Lock()
	for _, t := range tables {
		b.est[t.Name] = t.EstRows
		b.totalEst += t.EstRows
		b.nameWidth = max(b.nameWidth, min(len(t.Name), 24))
	}
	b.nameWidth = max(b.nameWidth, len("total"))
	start := b.total == nil && !b.closed
	est, w := b.totalEst, b.nameWidth
	b.mu.Unlock()
	if !start {
		return
	}
	// mpb calls the decorators (which take b.mu) from its own goroutines:
	// never call into mpb while holding b.mu.
	// Created with total 0, a bar never completes on its own (mpb compares
	// with the creation total); SetTotal(n, false) only moves the display.
	// Estimates are estimates: the bars end when the downloads do.
	bar := p.New(0, mpb.BarStyle(),
		mpb.BarPriority(math.MaxInt32),
		mpb.BarWidth(20),
		mpb.BarFillerClearOnAbort(),
		mpb.PrependDecorators(decor.OnAbort(decor.Name("total", decor.WC{W: w + 1, C: decor.DindentRight}), "")),
		mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
			if s.Aborted {
				return ""
			}
			return b.totalStats()
		})),
	)
	bar.SetTotal(max(est, 1), false)
	b.mu.Lock()
	b.total = bar
	b.mu.Unlock()
}

// totalStats is the text after the total bar.
func (b *Bars) totalStats() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	rows, bytes := b.doneRows, b.doneBytes
	for t := range b.active {
		r, by := t.counts()
		rows += r
		bytes += by
	}
	elapsed := b.now().Sub(b.start)
	return fmt.Sprintf(" %d/%d rows  %s  %s  ETA %s", rows, max(b.totalEst, rows), Bytes(bytes), Rate(bytes, elapsed), eta(elapsed, rows, b.totalEst))
}

// updateTotal moves the total bar. The caller must not hold b.mu: mpb
// calls the decorators, which take it, from its own goroutines.
func (b *Bars) updateTotal() {
	b.mu.Lock()
	bar, rows, est := b.total, b.doneRows, b.totalEst
	for t := range b.active {
		r, _ := t.counts()
		rows += r
	}
	b.mu.Unlock()
	if bar == nil {
		return
	}
	bar.SetTotal(max(est, rows), false)
	bar.SetCurrent(rows)
}

// Begin adds a bar for one table.
func (b *Bars) Begin(name string) Tracker {
	p := b.progress()
	b.mu.Lock()
	now := b.now()
	t := &barTracker{b: b, name: name, est: b.est[name], began: now, start: now, drawn: make(chan struct{})}
	closed, w := b.closed, b.nameWidth
	b.mu.Unlock()
	if closed {
		return t
	}
	label := name
	if len(label) > 24 {
		label = label[:23] + "…"
	}
	// A removed bar draws an empty line, which mpb leaves out, so that a
	// finished table is only its line.
	t.bar = p.New(0, mpb.BarStyle(),
		mpb.BarWidth(20),
		mpb.BarFillerClearOnAbort(),
		mpb.PrependDecorators(decor.OnAbort(decor.Name(label, decor.WC{W: max(w, len(label)) + 1, C: decor.DindentRight}), "")),
		mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
			if s.Aborted {
				return ""
			}
			t.drawOnce.Do(func() { close(t.drawn) })
			return t.stats()
		})),
	)
	t.bar.SetTotal(max(t.est, 1), false)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		t.bar.Abort(true)
		return t
	}
	b.active[t] = true
	b.mu.Unlock()
	// Every table shows its bar at least once, however fast it is: the
	// redraw is asked for now and waited for (briefly: the ticker draws it
	// anyway on a machine too busy to answer).
	b.requestRedraw()
	select {
	case <-t.drawn:
	case <-time.After(2 * RefreshRate):
	}
	return t
}

// Kept prints the kept table above the bars and takes it out of the total.
func (b *Bars) Kept(name string, rows, bytes int64) {
	b.mu.Lock()
	b.totalEst -= b.est[name]
	b.mu.Unlock()
	b.updateTotal()
	b.line(fmt.Sprintf("%s: %s: %s, %s, complete from an earlier run\n", b.prog, name, Rows(rows), Bytes(bytes)))
}

// Warnf prints a warning above the bars.
func (b *Bars) Warnf(format string, args ...any) {
	b.line(fmt.Sprintf("%s: warning: %s\n", b.prog, fmt.Sprintf(format, args...)))
}

// Printf prints a line above the bars.
func (b *Bars) Printf(format string, args ...any) {
	b.line(fmt.Sprintf("%s: %s\n", b.prog, fmt.Sprintf(format, args...)))
}

// line prints one whole line: above the bars while they are drawn, else
// directly.
func (b *Bars) line(s string) {
	b.mu.Lock()
	p, closed := b.p, b.closed
	b.mu.Unlock()
	if p != nil && !closed {
		if _, err := p.Write([]byte(s)); err == nil {
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	io.WriteString(b.w, s)
}

// Close removes every bar (the caller prints the summary line) and waits
// for the last redraw, which also prints the lines written since the one
// before: mpb holds them until its next refresh.
func (b *Bars) Close() {
	b.mu.Lock()
	if b.closed || b.p == nil {
		b.closed = true
		b.mu.Unlock()
		return
	}
	b.closed = true
	var bars []*mpb.Bar
	for t := range b.active {
		bars = append(bars, t.bar)
	}
	b.active = map[*barTracker]bool{}
	if b.total != nil {
		bars = append(bars, b.total)
	}
	p := b.p
	b.mu.Unlock()
	for _, bar := range bars {
		bar.Abort(true)
	}
	time.Sleep(RefreshRate * 3 / 2)
	close(b.stopped)
	p.Wait()
}

type barTracker struct {
	b     *Bars
	name  string
	est   int64
	bar   *mpb.Bar
	began time.Time // first attempt: the finished line's duration
	start time.Time // current attempt: the live rate and ETA

	drawn    chan struct{} // closed when the bar was first drawn
	drawOnce sync.Once

	mu          sync.Mutex
	rows, bytes int64
}

func (t *barTracker) counts() (rows, bytes int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rows, t.bytes
}

// stats is the text after a table's bar.
func (t *barTracker) stats() string {
	rows, bytes := t.counts()
	elapsed := t.b.now().Sub(t.start)
	est := "?"
	if t.est > 0 {
		est = fmt.Sprint(max(t.est, rows)) // estimates are estimates
	}
	return fmt.Sprintf(" %d/%s rows  %s  %s  ETA %s", rows, est, Bytes(bytes), Rate(bytes, elapsed), eta(elapsed, rows, t.est))
}

func (t *barTracker) Update(bytes, rows int64) {
	t.mu.Lock()
	t.rows, t.bytes = rows, bytes
	t.mu.Unlock()
	if t.bar != nil {
		t.bar.SetTotal(max(t.est, rows, 1), false)
		t.bar.SetCurrent(rows)
	}
	t.b.updateTotal()
}

func (t *barTracker) Restart() {
	t.mu.Lock()
	t.rows, t.bytes = 0, 0
	t.start = t.b.now()
	t.mu.Unlock()
	if t.bar != nil {
		t.bar.SetCurrent(0)
	}
}

func (t *barTracker) Done(bytes, rows int64) {
	d := t.b.now().Sub(t.began)
	t.end(rows, bytes, true)
	t.b.line(fmt.Sprintf("%s: %s: %s, %s in %s (%s)\n", t.b.prog, t.name, Rows(rows), Bytes(bytes), Duration(d), Rate(bytes, d)))
}

func (t *barTracker) Fail(error) { t.end(0, 0, false) }

// end removes the bar and moves its counts into the finished totals.
func (t *barTracker) end(rows, bytes int64, ok bool) {
	t.b.mu.Lock()
	active := t.b.active[t]
	delete(t.b.active, t)
	if ok {
		t.b.doneRows += rows
		t.b.doneBytes += bytes
		t.b.totalEst += rows - t.est // the estimate becomes the count
	} else {
		t.b.totalEst -= t.est // a failed table no longer counts
	}
	t.b.mu.Unlock()
	if active {
		t.bar.Abort(true)
	}
	t.b.updateTotal()
}

// eta extrapolates the time left from the rows done so far.
func eta(elapsed time.Duration, done, total int64) string {
	if done <= 0 || total <= done {
		return "-"
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	return Duration(left)
}

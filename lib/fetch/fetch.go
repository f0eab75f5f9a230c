package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/progress"
	"github.com/backfill/backfill/lib/safefile"
)

// Source is where manifests and dump streams come from; *httpapi.Client is
// the implementation (one owner of the wire contract).
type Source interface {
	Manifest(ctx context.Context, since string) (*manifest.Manifest, error)
	Dump(ctx context.Context, table, since string) (io.ReadCloser, error)
}

var _ Source = (*httpapi.Client)(nil)

// Retry bounds the retries of one request.
type Retry struct {
	// Attempts is how many times a request is tried when it fails to
	// connect, is cut or stalls (at least 1).
	Attempts int
	// Backoff is the pause after the first failure; it doubles after each
	// further one, up to MaxBackoff, with ±20% jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// BusyFor is how long a request keeps waiting for a slot on a server
	// that answers 503 (each wait is the server's Retry-After, else the
	// backoff). 503s do not use up Attempts: they mean "later", not
	// "broken".
	BusyFor time.Duration
}

// DefaultRetry is the policy bf-fetch uses: 5 attempts over about 15 s, and
// up to 10 minutes of waiting for a busy server.
var DefaultRetry = Retry{Attempts: 5, Backoff: time.Second, MaxBackoff: 30 * time.Second, BusyFor: 10 * time.Minute}

// Fetcher downloads from one source.
type Fetcher struct {
	Source Source
	// SourceURL names the source in meta.json (never with credentials).
	SourceURL string
	// Timeout bounds each request's wait for its response and every stall
	// of its body ([client] timeout); 0 means no limit.
	Timeout time.Duration
	// Retry is the retry policy; the zero value means DefaultRetry.
	Retry Retry
	// Progress receives per-table events and warnings; nil means none.
	Progress progress.Reporter
	// Now is the clock of meta.json; nil means time.Now.
	Now func() time.Time
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) progress() progress.Reporter {
	if f.Progress == nil {
		return progress.Nop{}
	}
	return f.Progress
}

func (f *Fetcher) retry() Retry {
	r := f.Retry
	if r == (Retry{}) {
		return DefaultRetry
	}
	r.Attempts = max(r.Attempts, 1)
	return r
}

// Result is what one verified download holds.
type Result struct {
	Header dumpfmt.Header
	Rows   int64 // rows counted in the stream (equal to its end marker's)
	Bytes  int64 // compressed bytes stored
}

// Manifest fetches the manifest, retrying like a dump.
func (f *Fetcher) Manifest(ctx context.Context, since string) (*manifest.Manifest, error) {
	var m *manifest.Manifest
	err := f.withRetry(ctx, nil, func(ctx context.Context) error {
		actx, done := f.watch(ctx)
		defer done()
		var err error
		m, err = f.Source.Manifest(actx, since)
		return f.cause(actx, err)
	})
	return m, err
}

// Dump downloads one table to w, verifying it on the way. Once the stream's
// header named the table asked for (a stream of another table never reaches
// w), w receives every byte before it is verified, so a failure leaves w
// with a stream that readers reject (no end marker). A failed attempt is
// retried only while nothing has reached w.
func (f *Fetcher) Dump(ctx context.Context, table, since string, w io.Writer) (Result, error) {
	rep := f.progress()
	rep.Plan([]progress.Table{{Name: table}})
	tr := rep.Begin(table)
	cw := &countWriter{w: w}
	var res Result
	err := f.withRetry(ctx, tr, func(ctx context.Context) error {
		if cw.n > 0 {
			return errNoRetry{fmt.Errorf("dump %q: %d bytes already went to the output; not retrying", table, cw.n)}
		}
		var err error
		res, err = f.attempt(ctx, table, since, cw, tr)
		return err
	})
	if err != nil {
		tr.Fail(err)
		return res, err
	}
	tr.Done(res.Bytes, res.Rows)
	return res, nil
}

// DumpFile downloads one table to path atomically: the file appears only
// once the stream was verified complete; on failure it does not exist (or
// still holds its previous complete version).
func (f *Fetcher) DumpFile(ctx context.Context, table, since, path string) (Result, error) {
	rep := f.progress()
	rep.Plan([]progress.Table{{Name: table}})
	tr := rep.Begin(table)
	res, err := f.download(ctx, table, since, tr, func() (tempFile, error) {
		sf, err := safefile.Create(path, 0o644)
		if err != nil {
			return nil, err
		}
		return safeTemp{sf}, nil
	})
	if err != nil {
		tr.Fail(err)
		return res, err
	}
	tr.Done(res.Bytes, res.Rows)
	return res, nil
}

// tempFile is where one attempt writes: committed only after verification.
type tempFile interface {
	io.Writer
	Commit() error // sync, close, rename into place
	Abort()        // close; what is left on disk depends on the kind
}

type safeTemp struct{ *safefile.File }

// partFile is DIR/TABLE.sql.zst.part, renamed to DIR/TABLE.sql.zst on
// Commit. Abort closes it and leaves it on disk (see the package comment).
type partFile struct {
	f     *os.File
	final string
	done  bool
}

func createPart(final string) (*partFile, error) {
	f, err := os.OpenFile(final+".part", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &partFile{f: f, final: final}, nil
}

func (p *partFile) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *partFile) Commit() error {
	p.done = true
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return fmt.Errorf("write %s: %w", p.f.Name(), err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p.f.Name(), err)
	}
	if err := os.Rename(p.f.Name(), p.final); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(p.final)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (p *partFile) Abort() {
	if !p.done {
		p.done = true
		p.f.Close()
	}
}

// download runs attempts, each into a fresh temporary file from create,
// until one is verified and committed.
func (f *Fetcher) download(ctx context.Context, table, since string, tr progress.Tracker, create func() (tempFile, error)) (Result, error) {
	var res Result
	err := f.withRetry(ctx, tr, func(ctx context.Context) error {
		tf, err := create()
		if err != nil {
			return errNoRetry{fmt.Errorf("dump %q: %w", table, err)}
		}
		defer tf.Abort()
		cw := &countWriter{w: tf}
		res, err = f.attempt(ctx, table, since, cw, tr)
		if err != nil {
			return err
		}
		if err := tf.Commit(); err != nil {
			return errNoRetry{fmt.Errorf("dump %q: %w", table, err)}
		}
		return nil
	})
	return res, err
}

// attempt is one request: the body goes to w and through the verifier.
func (f *Fetcher) attempt(ctx context.Context, table, since string, w *countWriter, tr progress.Tracker) (Result, error) {
	actx, done := f.watch(ctx)
	defer done()
	body, err := f.Source.Dump(actx, table, since)
	if err != nil {
		return Result{}, f.cause(actx, err)
	}
	defer body.Close()
	kick := watchdogOf(actx)
	src := &countReader{r: body, kick: kick}
	// Nothing reaches w before the header was checked: a consumer reading
	// w as it fills (bf-import in a pipe) must never get a whole stream of
	// a table other than the one asked for.
	g := &gate{w: w}
	var wrongTable error
	onHeader := func(h dumpfmt.Header) error {
		if h.Table != table {
			wrongTable = errNoRetry{fmt.Errorf("dump %q: the server sent a dump of table %q", table, h.Table)}
			return wrongTable
		}
		return g.open()
	}
	h, rows, err := verifyCopy(io.TeeReader(src, g), onHeader, func(rows int64) { tr.Update(src.n, rows) })
	if wrongTable != nil {
		return Result{}, wrongTable
	}
	if w.err != nil {
		return Result{}, errNoRetry{fmt.Errorf("dump %q: write: %w", table, w.err)}
	}
	if err != nil {
		return Result{}, f.cause(actx, fmt.Errorf("dump %q: %w", table, err))
	}
	tr.Update(src.n, rows)
	return Result{Header: h, Rows: rows, Bytes: w.n}, nil
}

// verifyCopy reads a whole stream through the dumpfmt reader, calling
// onHeader once the header is read (its error ends the copy) and onRows
// with the running row count after each statement. It returns only after
// the reader accepted the end marker and everything after it was consumed,
// so that every byte of r has been read (and, through a tee, stored) by
// then.
func verifyCopy(r io.Reader, onHeader func(dumpfmt.Header) error, onRows func(int64)) (dumpfmt.Header, int64, error) {
	rd, err := dumpfmt.NewReader(r)
	if err != nil {
		return dumpfmt.Header{}, 0, err
	}
	defer rd.Close()
	if err := onHeader(rd.Header()); err != nil {
		return rd.Header(), 0, err
	}
	var rows int64
	for {
		st, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rd.Header(), rows, err
		}
		if st.Rows > 0 {
			rows += int64(st.Rows)
			onRows(rows)
		}
	}
	if n, err := io.Copy(io.Discard, r); err != nil {
		return rd.Header(), rows, err
	} else if n > 0 {
		return rd.Header(), rows, fmt.Errorf("%d bytes after the end of the stream", n)
	}
	return rd.Header(), rows, nil
}

// gate holds the bytes written to it until it is opened, then passes them
// and everything after on to w. The zstd decoder may read far ahead of the
// header it returns first (a small stream whole), so the check of the
// header has to hold back what was read until then.
type gate struct {
	w      io.Writer
	buf    []byte
	opened bool
}

func (g *gate) Write(p []byte) (int, error) {
	if g.opened {
		return g.w.Write(p)
	}
	g.buf = append(g.buf, p...)
	return len(p), nil
}

// open writes what was held back and lets the rest through.
func (g *gate) open() error {
	g.opened = true
	buf := g.buf
	g.buf = nil
	if len(buf) == 0 {
		return nil
	}
	_, err := g.w.Write(buf)
	return err
}

// errNoRetry marks an error that asking again will not fix.
type errNoRetry struct{ err error }

func (e errNoRetry) Error() string { return e.err.Error() }
func (e errNoRetry) Unwrap() error { return e.err }

// errStall is the cause of an attempt cancelled by the timeout.
type errStall struct{ d time.Duration }

func (e errStall) Error() string {
	return fmt.Sprintf("no data from the server for %s ([client] timeout)", e.d)
}

// watch derives an attempt's context, cancelled when nothing arrives for
// f.Timeout: first the response, then each read of the body (kick resets
// the clock). done releases it.
func (f *Fetcher) watch(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if f.Timeout <= 0 {
		return ctx, func() { cancel(nil) }
	}
	d := f.Timeout
	t := time.AfterFunc(d, func() { cancel(errStall{d}) })
	ctx = context.WithValue(ctx, watchdogKey{}, func() { t.Reset(d) })
	return ctx, func() { t.Stop(); cancel(nil) }
}

type watchdogKey struct{}

func watchdogOf(ctx context.Context) func() {
	if k, ok := ctx.Value(watchdogKey{}).(func()); ok {
		return k
	}
	return func() {}
}

// cause replaces a bare "context canceled" by the reason the attempt's
// context ended (the timeout), keeping err's text otherwise.
func (f *Fetcher) cause(actx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var st errStall
	if c := context.Cause(actx); errors.As(c, &st) && !errors.As(err, &st) {
		return fmt.Errorf("%w (%w)", err, st)
	}
	return err
}

// withRetry runs fn until it succeeds, fails for good, or ctx ends.
func (f *Fetcher) withRetry(ctx context.Context, tr progress.Tracker, fn func(context.Context) error) error {
	pol := f.retry()
	failures := 0
	var busy time.Duration
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		var wait time.Duration
		var note string
		if ra, ok := httpapi.RetryAfter(err); ok {
			wait = ra
			if wait <= 0 {
				wait = backoff(pol, 0)
			}
			wait = jitter(wait)
			if busy+wait > pol.BusyFor {
				return fmt.Errorf("%w; the server stayed busy for %s", err, pol.BusyFor.Round(time.Second))
			}
			busy += wait
			note = "the server is busy"
		} else if retryable(err) {
			failures++
			if failures >= pol.Attempts {
				if pol.Attempts > 1 {
					return fmt.Errorf("%w (gave up after %d attempts)", err, failures)
				}
				return err
			}
			wait = jitter(backoff(pol, failures-1))
			note = fmt.Sprintf("attempt %d of %d failed", failures, pol.Attempts)
		} else {
			return err
		}
		f.progress().Warnf("%v; %s, retrying in %s", err, note, progress.Duration(wait))
		if tr != nil {
			tr.Restart()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

func backoff(p Retry, n int) time.Duration {
	d := p.Backoff
	if d <= 0 {
		d = DefaultRetry.Backoff
	}
	for range n {
		d *= 2
		if p.MaxBackoff > 0 && d >= p.MaxBackoff {
			return p.MaxBackoff
		}
	}
	return d
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// retryable reports whether err is a connection problem that may pass:
// refused, reset, cut short, timed out or stalled. Status answers (401,
// 403, 404, 400, 500), TLS failures, HTML and malformed streams are not.
func retryable(err error) bool {
	var nr errNoRetry
	if errors.As(err, &nr) {
		return false
	}
	var se *httpapi.StatusError
	if errors.As(err, &se) {
		return false
	}
	var st errStall
	var ne net.Error
	switch {
	case errors.As(err, &st):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.Is(err, dumpfmt.ErrIncomplete):
		// The transfer ended without the end marker: cut.
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// countReader counts bytes read and kicks the stall watchdog.
type countReader struct {
	r    io.Reader
	n    int64
	kick func()
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.kick()
	}
	return n, err
}

// countWriter counts bytes written and remembers a write error: a full
// disk is not a connection problem, whatever the reader wraps it in.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/dump"
	"github.com/backfill/backfill/lib/scan"
	"github.com/backfill/backfill/lib/sqltext"
)

// dump streams one table: GET {prefix}/dump/{table}.
func (s *Server) dump(w *recorder, r *http.Request, e *entry, table string) {
	since, ok := s.query(w, r, e)
	if !ok {
		return
	}
	if err := sqltext.CheckIdent(table); err != nil {
		s.fail(w, e, http.StatusBadRequest, "invalid table name: "+err.Error())
		return
	}
	// Cheap refusals come before taking a slot.
	if s.cfg.IsExcluded(table) {
		s.fail(w, e, http.StatusForbidden, fmt.Sprintf("table %q is excluded by exclude_tables in the server's configuration", table))
		return
	}
	release, ok := s.acquire(w, e, s.dumps, "dumps")
	if !ok {
		return
	}
	defer release()
	ctx := r.Context()
	if d := s.cfg.Server.DumpTimeout.Duration; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, fmt.Errorf("the dump of %q took longer than dump_timeout (%s)", table, d))
		defer cancel()
	}
	sw := &stream{ctx: ctx, w: w, rc: http.NewResponseController(w), stall: s.o.StallTimeout, table: table}
	// When the dump's context ends (dump_timeout, client gone, forced
	// shutdown) a write blocked on a client that stopped reading must end
	// too: an expired write deadline fails it at once. The deferred stop
	// runs before the deferred cancel, so a finished dump never trips it.
	stop := context.AfterFunc(ctx, func() { _ = sw.rc.SetWriteDeadline(time.Now()) })
	defer stop()
	rows, err := s.writeDump(ctx, sw, table, since)
	if sw.started {
		e.rows = rows
	}
	if err == nil {
		return
	}
	if sw.started {
		// The status line is gone: abort, so that the client sees a
		// stream without its end marker (ServeHTTP panics with
		// http.ErrAbortHandler after logging).
		e.aborted = true
		e.err = s.scrub(fmt.Sprintf("%s after %d rows: %v", why(ctx, r), rows, err))
		return
	}
	if status, ok := dumpStatus(err); ok {
		s.fail(w, e, status, err.Error(), cli.Hints(err)...)
		return
	}
	if ctx.Err() == context.DeadlineExceeded {
		s.fail(w, e, http.StatusInternalServerError, context.Cause(ctx).Error())
		return
	}
	s.internal(w, r, e, fmt.Sprintf("dump %q", table), err)
}

// why names what ended a dump early. A failed write also cancels the
// request's context, so the dump's own deadline is looked at first.
func why(ctx context.Context, r *http.Request) string {
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return context.Cause(ctx).Error()
	case errors.Is(context.Cause(r.Context()), errForced):
		return errForced.Error()
	case r.Context().Err() != nil:
		return "client went away"
	}
	return "failed"
}

// writeDump runs the producer in-process, streaming into w.
func (s *Server) writeDump(ctx context.Context, w *stream, table, since string) (int64, error) {
	res, err := dump.Write(ctx, w,
		dump.Source{DB: s.o.DB, Database: s.o.Database, Config: s.cfg},
		dump.Options{Table: table, Since: since, Flush: w.Flush, Log: s.warnings})
	return res.Rows, err
}

// dumpStatus maps the producer's refusals, found before the first byte,
// to their statuses.
func dumpStatus(err error) (int, bool) {
	var ue *scan.UnreviewedError
	switch {
	case errors.Is(err, dump.ErrUnknownTable):
		return http.StatusNotFound, true
	case errors.Is(err, dump.ErrExcluded), errors.As(err, &ue):
		return http.StatusForbidden, true
	case errors.Is(err, dump.ErrBadSince):
		return http.StatusBadRequest, true
	}
	return 0, false
}

// warnOnce logs each distinct producer warning (general_log on, an empty
// salt, unreviewed columns) once per process instead of once per dump.
type warnOnce struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

// Warnf implements dump.Logger.
func (w *warnOnce) Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.mu.Lock()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	dup := w.seen[msg]
	if !dup && len(w.seen) < 1000 {
		w.seen[msg] = true
	}
	w.mu.Unlock()
	if !dup {
		w.log.Warn(msg)
	}
}

// stream is the dump's io.Writer: it sends the 200 header on the first
// byte, bounds each write by the stall timeout, and flushes between
// batches.
type stream struct {
	ctx     context.Context
	w       *recorder
	rc      *http.ResponseController
	stall   time.Duration
	table   string
	started bool
}

func (s *stream) start() {
	h := s.w.Header()
	h.Set("Content-Type", "application/zstd")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": s.table + ".sql.zst"}))
	s.w.WriteHeader(http.StatusOK)
	s.started = true
}

func (s *stream) Write(p []byte) (int, error) {
	if s.ctx.Err() != nil {
		// Do not extend the deadline the cancellation set.
		return 0, context.Cause(s.ctx)
	}
	if !s.started {
		s.start()
	}
	// A client that accepts nothing for this long is gone; without a
	// deadline its dump would hold a slot and a database connection
	// until dump_timeout. (Not every ResponseWriter supports deadlines.)
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	return s.w.Write(p)
}

// Flush pushes what the dump wrote so far to the client.
func (s *stream) Flush() error {
	if !s.started {
		return nil
	}
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

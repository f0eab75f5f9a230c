package load

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
)

// run loads every table of the plan, then commits them all (or rolls them
// all back).
func (r *run) run(parent context.Context, start time.Time) (*Result, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)

	next := make(chan int)
	go func() {
		defer close(next)
		for i := range r.plan {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(r.o.Parallel, len(r.plan)) {
		wg.Go(func() {
			for i := range next {
				if err := r.loadOne(ctx, i); err != nil {
					r.fail(err)
					cancel(err)
				}
			}
		})
	}
	wg.Wait()

	r.mu.Lock()
	err := r.firstErr
	r.mu.Unlock()
	if err == nil && parent.Err() != nil {
		err = context.Cause(parent)
	}
	if err == nil {
		// Every stream was verified to its end marker and every row is
		// in: commit, parents first.
		for i, t := range r.tables {
			if t == nil || !t.inTx {
				continue
			}
			if err = t.commit(); err != nil {
				err = &StreamError{Source: t.j.src.Name, Table: t.name(), Err: err}
				break
			}
			r.committed = append(r.committed, r.plan[i].header.Table)
		}
	}
	if err != nil {
		return nil, r.rollback(err, parent)
	}
	res := &Result{Tables: r.results, Seconds: time.Since(start).Seconds()}
	for _, t := range r.results {
		res.Rows += t.Rows
	}
	return res, nil
}

// fail records the first error: the cause. Siblings fail after it only
// because it cancelled them (loadOne reports the cause for those).
func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// rollback ends every open transaction and describes what is left.
func (r *run) rollback(err error, parent context.Context) error {
	n := 0
	unsure := false
	for _, t := range r.tables {
		if t == nil {
			continue
		}
		if t.inTx {
			n++
		}
		if !t.rollback() {
			unsure = true
		}
	}
	for _, t := range r.tables {
		if t != nil {
			t.repairAutoIncrement()
			t.release()
		}
	}
	if parent.Err() != nil && !errors.Is(err, context.Cause(parent)) {
		err = context.Cause(parent)
	}
	if unsure {
		r.o.Warnf("a connection broke during the rollback; the server rolls its transaction back by itself")
	}
	e := &importError{err: err, rolledBack: n, committed: r.committed}
	e.nothing = len(r.committed) == 0
	return e
}

// loadOne loads plan entry i: its rows are in, uncommitted (or committed
// in per-table mode), when it returns nil.
func (r *run) loadOne(ctx context.Context, i int) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	j := r.plan[i]
	t := &tableLoad{r: r, j: j}
	r.mu.Lock()
	r.tables[i] = t
	r.mu.Unlock()

	began := time.Now()
	stopKill := context.AfterFunc(ctx, t.kill)
	defer stopKill()
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && !isStreamError(err) {
			return context.Cause(ctx)
		}
		return &StreamError{Source: j.src.Name, Table: j.header.Table, Err: err}
	}

	// The stream: the reader kept from the header check (standard input),
	// or the file again.
	if j.pre == nil {
		h := j.header
		if err := j.readHeader(ctx); err != nil {
			return wrap(err)
		}
		if j.header.Table != h.Table || j.header.Mode != h.Mode {
			j.closePre()
			return wrap(errors.New("the stream changed since its header was checked"))
		}
	}
	rd, rc := j.pre, j.preRC
	j.pre, j.preRC = nil, nil
	if err := t.begin(ctx); err != nil {
		rd.Close()
		rc.Close()
		return wrap(err)
	}
	if j.action == "replaced" {
		if err := t.clear(ctx); err != nil {
			rd.Close()
			rc.Close()
			return wrap(err)
		}
	}
	rows, err := t.load(ctx, rd, rc)
	if err != nil {
		return wrap(err)
	}
	if r.commitEach {
		if err := t.commit(); err != nil {
			return wrap(err)
		}
		r.mu.Lock()
		r.committed = append(r.committed, j.header.Table)
		r.mu.Unlock()
	}
	r.done(i, TableResult{
		Table:   j.header.Table,
		Source:  j.src.Name,
		Action:  j.action,
		Method:  t.method(),
		Rows:    rows,
		Seconds: time.Since(began).Seconds(),
	})
	return nil
}

func isStreamError(err error) bool {
	var e *dumpfmt.Error
	return errors.As(err, &e)
}

// done records a loaded table and reports every loaded table whose turn
// has come, in plan order.
func (r *run) done(i int, res TableResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[i] = res
	r.loaded[i] = true
	for r.reported < len(r.plan) && r.loaded[r.reported] {
		if r.o.Loaded != nil && r.firstErr == nil {
			r.o.Loaded(r.results[r.reported])
		}
		r.reported++
	}
}

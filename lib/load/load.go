package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

// Mode is how an import treats the streams: dumpfmt.ModeFull or
// dumpfmt.ModeDelta.
type Mode = string

// Method is how rows reach the server in full mode.
type Method string

// The methods. MethodAuto uses LOAD DATA LOCAL INFILE when the server
// allows it (@@local_infile) and SQL otherwise; delta upserts always run
// as SQL.
const (
	MethodAuto     Method = "auto"
	MethodInsert   Method = "insert"
	MethodLoadData Method = "load-data"
)

// Source is one dump stream to import.
type Source struct {
	// Name names the stream in messages and results: the file name, or
	// "standard input".
	Name string
	// Open returns the compressed stream; Import closes it.
	Open func() (io.ReadCloser, error)
	// Once says Open works only once (standard input). Other sources are
	// opened twice: first to check every header before any table is
	// touched, then to load.
	Once bool
}

// Options control Import.
type Options struct {
	// Mode is ModeFull (the default) or ModeDelta; see the package
	// documentation for what each does with full and delta streams.
	Mode Mode
	// Parallel is how many tables load at once (at least 1).
	Parallel int
	// Manifest, when set, lists the tables a stream may claim, and its
	// order is the load order.
	Manifest *manifest.Manifest
	// Method chooses LOAD DATA or SQL for full loads; "" is MethodAuto.
	Method Method
	// Loaded, when set, is called once per table after its rows are in
	// (not yet committed), in load order whatever order the parallel
	// loads finish in, never concurrently.
	Loaded func(TableResult)
	// Warnf, when set, receives warnings.
	Warnf func(format string, args ...any)
}

// TableResult is what happened to one table.
type TableResult struct {
	Table   string  `json:"table"`
	Source  string  `json:"source"`
	Action  string  `json:"action"` // "replaced" or "upserted"
	Method  string  `json:"method"` // "load-data", "insert" or "mixed"
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// Result is the outcome of a successful import.
type Result struct {
	Tables  []TableResult `json:"tables"`
	Rows    int64         `json:"rows"`
	Seconds float64       `json:"seconds"`
}

// ErrRolledBack is wrapped by every error of Import after which no table
// was changed.
var ErrRolledBack = errors.New("nothing was imported")

// ErrPartial is wrapped by Import's error when some tables were committed
// before another failed (only in per-table commit mode, or when a COMMIT
// itself fails).
var ErrPartial = errors.New("the import is partial")

// StreamError is a stream that failed validation (dumpfmt) or names a table
// or column the import cannot take.
type StreamError struct {
	Source string
	Table  string
	Err    error
}

func (e *StreamError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *StreamError) Unwrap() error { return e.Err }

// job is one stream and the local table it loads.
type job struct {
	src    Source
	index  int
	header dumpfmt.Header
	table  *schema.Table
	action string // "replaced" or "upserted"
	pre    *dumpfmt.Reader
	preRC  io.Closer
}

// Import loads every source into the database db is connected to, each
// stream into the table its header names, all or nothing; see the package
// documentation. It needs one connection of db's pool per stream (plus
// one) while it runs.
func Import(ctx context.Context, db *sql.DB, sources []Source, o Options) (*Result, error) {
	start := time.Now()
	if o.Mode == "" {
		o.Mode = dumpfmt.ModeFull
	}
	if o.Mode != dumpfmt.ModeFull && o.Mode != dumpfmt.ModeDelta {
		return nil, fmt.Errorf("load: mode %q: want %s or %s", o.Mode, dumpfmt.ModeFull, dumpfmt.ModeDelta)
	}
	if o.Method == "" {
		o.Method = MethodAuto
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Warnf == nil {
		o.Warnf = func(string, ...any) {}
	}
	if len(sources) == 0 {
		return nil, errors.New("load: no streams to import")
	}

	// 1. Every header before anything else: a garbage file, a foreign
	// stream or a delta in a full import fails before any table is touched.
	jobs := make([]*job, len(sources))
	defer func() {
		for _, j := range jobs {
			if j != nil {
				j.closePre()
			}
		}
	}()
	for i, src := range sources {
		j := &job{src: src, index: i}
		jobs[i] = j
		if err := j.readHeader(ctx); err != nil {
			return nil, rolledBack(err, 0)
		}
		if err := j.checkHeader(o, jobs[:i]); err != nil {
			return nil, rolledBack(err, 0)
		}
		if !src.Once {
			j.closePre()
		}
	}

	// 2. The local schema: every table and column must exist.
	var database sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return nil, rolledBack(mysqldb.Explain(err), 0)
	}
	if !database.Valid {
		return nil, rolledBack(errors.New("the DSN names no database; add /DATABASE after the address"), 0)
	}
	local, err := schema.Load(ctx, db, database.String)
	if err != nil {
		return nil, rolledBack(err, 0)
	}
	for _, j := range jobs {
		t, err := local.Lookup(j.header.Table)
		if err != nil {
			return nil, rolledBack(&StreamError{Source: j.src.Name, Table: j.header.Table, Err: hint.Wrap(err, "create the table (run your migrations); bf-schemadiff compares the schemas")}, 0)
		}
		j.table = t
		if j.action == "upserted" && len(t.PrimaryKey) == 0 && len(t.UniqueKeys) == 0 {
			return nil, rolledBack(&StreamError{Source: j.src.Name, Table: t.Name, Err: hint.Wrap(
				fmt.Errorf("delta stream for table %q, which has no primary or unique key to upsert by", t.Name),
				"import a full dump of the table (bf-fetch dump "+t.Name+" without --since), or give the table a primary key")}, 0)
		}
	}
	plan := planOrder(jobs, o.Manifest, local)

	// 3. Server capabilities and the connection budget.
	srv, err := probe(ctx, db)
	if err != nil {
		return nil, rolledBack(err, 0)
	}
	useLoadData := false
	switch o.Method {
	case MethodAuto:
		useLoadData = srv.localInfile
	case MethodLoadData:
		if !srv.localInfile {
			return nil, rolledBack(hint.Wrap(errors.New("the server refuses LOAD DATA LOCAL INFILE (local_infile is OFF)"),
				"use --method insert, or SET GLOBAL local_infile = 1 on the local server"), 0)
		}
		useLoadData = true
	case MethodInsert:
	default:
		return nil, fmt.Errorf("load: method %q: want %s, %s or %s", o.Method, MethodAuto, MethodInsert, MethodLoadData)
	}
	commitEach := false
	if need, free := len(jobs)+2, freeConnections(srv); need > free {
		commitEach = true
		o.Warnf("%d tables would hold %d connections open until all are loaded, but the server has only %d free (max_connections); committing each table as it loads instead, so a failure keeps the tables already committed",
			len(jobs), need, free)
	}

	// 4. Load, tables in parallel, each in its own transaction.
	r := &run{
		db: db, o: o, plan: plan, useLoadData: useLoadData, commitEach: commitEach,
		loaded: make([]bool, len(plan)), results: make([]TableResult, len(plan)),
		tables: make([]*tableLoad, len(plan)),
	}
	return r.run(ctx, start)
}

func (j *job) closePre() {
	if j.pre != nil {
		j.pre.Close()
		j.pre = nil
	}
	if j.preRC != nil {
		j.preRC.Close()
		j.preRC = nil
	}
}

// readHeader opens the stream and reads its header, keeping it open. A
// pipe may have nothing to read yet: a cancelled ctx stops the wait.
func (j *job) readHeader(ctx context.Context) error {
	type opened struct {
		rc  io.ReadCloser
		rd  *dumpfmt.Reader
		err error
	}
	done := make(chan opened, 1)
	go func() {
		rc, err := j.src.Open()
		if err != nil {
			done <- opened{err: err}
			return
		}
		rd, err := dumpfmt.NewReader(rc)
		if err != nil {
			rc.Close()
			err = &StreamError{Source: j.src.Name, Err: err}
		}
		done <- opened{rc, rd, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			return o.err
		}
		j.pre, j.preRC, j.header = o.rd, o.rc, o.rd.Header()
		return nil
	case <-ctx.Done():
		go func() {
			// Release the stream if it ever arrives.
			if o := <-done; o.err == nil {
				o.rd.Close()
				o.rc.Close()
			}
		}()
		return context.Cause(ctx)
	}
}

func (j *job) checkHeader(o Options, before []*job) error {
	h := j.header
	for _, b := range before {
		if b.header.Table == h.Table {
			return &StreamError{Source: j.src.Name, Table: h.Table, Err: fmt.Errorf("table %q is also in %s: one stream per table", h.Table, b.src.Name)}
		}
	}
	if o.Manifest != nil {
		if _, ok := o.Manifest.Table(h.Table); !ok {
			return &StreamError{Source: j.src.Name, Table: h.Table, Err: hint.Wrap(
				fmt.Errorf("table %q is not in the manifest of database %q", h.Table, o.Manifest.Database),
				"import only the streams of that manifest's tables, or drop --manifest")}
		}
	}
	switch {
	case h.Mode == dumpfmt.ModeFull:
		j.action = "replaced"
	case o.Mode == dumpfmt.ModeDelta:
		j.action = "upserted"
	default:
		return &StreamError{Source: j.src.Name, Table: h.Table, Err: hint.Wrap(
			fmt.Errorf("a delta stream (rows changed since %s) in a full import would replace table %q with those rows alone", h.Since, h.Table),
			"use --mode delta to upsert it")}
	}
	return nil
}

// planOrder returns the jobs in load order: the manifest's order, else the
// local schema's FK-safe order, then anything else by source order. With
// foreign_key_checks off no order is needed for correctness; FK order
// makes the output deterministic and puts parents first.
func planOrder(jobs []*job, m *manifest.Manifest, local *schema.Schema) []*job {
	var order []string
	if m != nil {
		order = m.Names()
	} else {
		order, _ = local.Order()
	}
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	out := slices.Clone(jobs)
	slices.SortStableFunc(out, func(a, b *job) int {
		ra, oka := rank[a.header.Table]
		rb, okb := rank[b.header.Table]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return a.index - b.index
	})
	return out
}

// freeConnections is how many more connections the server accepts; tests
// replace it to exercise per-table commits.
var freeConnections = func(s server) int { return s.freeConns }

type server struct {
	localInfile bool
	freeConns   int
}

func probe(ctx context.Context, db *sql.DB) (server, error) {
	var s server
	var maxConns int
	if err := db.QueryRowContext(ctx, "SELECT @@local_infile, @@max_connections").Scan(&s.localInfile, &maxConns); err != nil {
		return s, mysqldb.Explain(err)
	}
	var name string
	var connected int
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &connected); err != nil {
		return s, mysqldb.Explain(err)
	}
	s.freeConns = maxConns - connected
	return s, nil
}

// rolledBack marks err as an error after which nothing was changed.
func rolledBack(err error, tables int) error {
	return &importError{err: err, rolledBack: tables, nothing: true}
}

// importError is Import's error: the first failure, and what became of the
// tables.
type importError struct {
	err        error
	nothing    bool     // no table changed
	rolledBack int      // tables whose transaction was rolled back
	committed  []string // tables committed before the failure
}

func (e *importError) Error() string {
	var b strings.Builder
	b.WriteString(e.err.Error())
	switch {
	case e.nothing && e.rolledBack > 0:
		fmt.Fprintf(&b, "\nnothing was imported: %s rolled back, every table is as it was", plural(e.rolledBack, "table"))
	case e.nothing:
		b.WriteString("\nnothing was imported: no table was touched")
	default:
		fmt.Fprintf(&b, "\nthe import is partial: committed %s; %s rolled back", strings.Join(quoteAll(e.committed), ", "), plural(e.rolledBack, "table"))
	}
	return b.String()
}

func (e *importError) Unwrap() []error {
	if e.nothing {
		return []error{e.err, ErrRolledBack}
	}
	return []error{e.err, ErrPartial}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = sqltext.QuoteIdent(x)
	}
	return out
}

// run is one import in progress.
type run struct {
	db          *sql.DB
	o           Options
	plan        []*job
	useLoadData bool
	commitEach  bool

	mu        sync.Mutex
	loaded    []bool // by plan index: rows are in (or failed: see failed)
	results   []TableResult
	tables    []*tableLoad // by plan index, once started
	reported  int          // plan entries passed to Loaded so far
	firstErr  error
	committed []string
}

package dump

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backfill/backfill/lib/config"
	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/manifest"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/sanitize"
	"github.com/backfill/backfill/lib/scan"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
	"github.com/backfill/backfill/lib/subset"
)

// The classes of refusal bf-serve maps to HTTP statuses; test with
// errors.Is. Each error also carries a message naming the table and hints.
var (
	ErrUnknownTable = errors.New("unknown table")  // 404
	ErrExcluded     = errors.New("excluded table") // 403
	ErrBadSince     = errors.New("bad since")      // 400
)

// Source is the database a dump reads.
type Source struct {
	DB       *sql.DB        // a pool opened with lib/mysqldb
	Database string         // the schema holding the tables
	Config   *config.Config // rules, exclude_tables, [server] salt, chunk_size, level, unreviewed
}

// Logger receives warnings; *cli.Logger is one.
type Logger interface {
	Warnf(format string, args ...any)
}

// Options says what to dump and how.
type Options struct {
	Table string // required
	// Since, an RFC 3339 time, asks for a delta; "" dumps everything.
	Since string
	// Level is the zstd level; 0 takes [server] level, else
	// dumpfmt.DefaultLevel.
	Level int
	// ChunkRows is the most rows per INSERT; 0 takes [server] chunk_size.
	ChunkRows int
	// MaxStatementBytes is the most bytes per INSERT; 0 takes the format's
	// default.
	MaxStatementBytes int
	// Flush, when set, is called after the compressed stream was pushed to
	// the io.Writer, about once a second and at the end (bf-serve flushes
	// the HTTP response with it).
	Flush func() error
	// Log receives warnings (general_log on, empty salt, unreviewed
	// columns); nil drops them.
	Log Logger
	// Subset narrows the rows (lib/subset fills it).
	Subset Subset
}

// Subset narrows a dump to some rows. Every string is SQL over the table's
// columns, built by lib/subset from identifiers validated against the
// schema and quoted by lib/sqltext: it is spliced into the SELECT as is.
// Values belong in Vars, set with bound parameters and read as @name.
type Subset struct {
	Where   []string // conditions, ANDed together and with the delta condition
	OrderBy string   // an ORDER BY list without the keywords, e.g. "`created_at` DESC, `id` DESC"
	Limit   int64    // the most rows; 0 means no limit
	Vars    []Var    // session variables the conditions read
}

// Var is a session variable a subset condition reads. Name starts with
// "bf_" and holds only lowercase letters, digits and "_".
type Var struct {
	Name  string
	Value string
	About string // for --explain; the value is never shown
}

// Result describes a finished dump.
type Result struct {
	Table       string
	Mode        string // dumpfmt.ModeFull or dumpfmt.ModeDelta
	Since       string // the header's since ("" for a full dump)
	GeneratedAt string
	Rows        int64
	Bytes       int64    // compressed bytes written
	Sanitized   []string // the columns projected through a rule
	Elapsed     time.Duration
	// Direct says the rows were read off the connection's socket
	// (mysqldb.Direct), not through the driver.
	Direct bool
}

// flushEvery is how often the stream is pushed to the consumer.
const flushEvery = time.Second

// Write dumps one table to w. On success the stream is complete, end
// marker included; on failure w has received either nothing or a stream
// without end marker, and the error says why.
func Write(ctx context.Context, w io.Writer, src Source, o Options) (Result, error) {
	start := time.Now()
	res := Result{Table: o.Table}
	q, err := prepare(ctx, src, o)
	if err != nil {
		return res, err
	}
	defer q.end()
	res.Mode, res.Since, res.GeneratedAt = q.header.Mode, q.header.Since, q.header.GeneratedAt
	res.Sanitized = q.plan.Sanitized()

	if stmt, args := q.plan.SetStatement(); stmt != "" {
		if _, err := q.conn.ExecContext(ctx, stmt, args...); err != nil {
			return res, fmt.Errorf("dump %q: set session variables: %w", o.Table, mysqldb.Explain(err))
		}
		defer func() {
			// The salt must not outlive the dump in a pooled session.
			_, _ = q.conn.ExecContext(context.Background(), q.plan.ClearStatement())
		}()
	}

	cw := &countingWriter{w: w}
	fw, err := dumpfmt.NewWriter(cw, q.header, dumpfmt.Options{
		Level:             q.level,
		ChunkRows:         q.chunk,
		MaxStatementBytes: o.MaxStatementBytes,
		Columns:           q.plan.Names(),
	})
	if err != nil {
		return res, fmt.Errorf("dump %q: %w", o.Table, err)
	}
	rows, direct, err := stream(ctx, q, fw, o.Flush)
	res.Rows, res.Bytes, res.Direct = rows, cw.n, direct
	if err != nil {
		_ = fw.Abort()
		return res, err
	}
	if err := fw.Close(); err != nil {
		res.Bytes = cw.n
		return res, fmt.Errorf("dump %q: %w", o.Table, err)
	}
	res.Bytes = cw.n
	if o.Flush != nil {
		if err := o.Flush(); err != nil {
			return res, fmt.Errorf("dump %q: flush: %w", o.Table, err)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// stream runs the SELECT and writes every row. It reads the rows off the
// connection's socket itself where it can (mysqldb.Direct: no TLS, no
// compression), and otherwise the driver's rows directly (sql.Conn.Raw):
// database/sql's Scan would convert every value once more (integers and
// floats back to text, through an allocation each), and even the driver's
// rows box every value, a fifth of the client's CPU on a million-row table.
//
// A dump that fails mid-way abandons the connection instead of closing the
// rows, which would read and drop every remaining row first (minutes on a
// large table after a failure at row 5): database/sql closes a connection
// whose Raw call returned driver.ErrBadConn, and the server ends the
// read-only transaction with it.
func stream(ctx context.Context, q *query, fw *dumpfmt.Writer, flush func() error) (n int64, isDirect bool, err error) {
	err = q.conn.Raw(func(dc any) error {
		direct, err := mysqldb.Direct(ctx, dc)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("dump %q: %w", q.plan.Table.Name, context.Cause(ctx))
			}
			return fmt.Errorf("dump %q: %w", q.plan.Table.Name, mysqldb.Explain(err))
		}
		var src rowSource
		var viaDriver driver.Rows // closed after the last row
		if isDirect = direct != nil; isDirect {
			rows, err := direct.Query(ctx, q.sel, len(q.plan.Columns))
			if err != nil {
				return abandon{q.queryError(err)}
			}
			defer rows.Close()
			src = rows
		} else {
			qc, ok := dc.(driver.QueryerContext)
			if !ok {
				return fmt.Errorf("dump %q: the database driver %T cannot run queries", q.plan.Table.Name, dc)
			}
			rows, err := qc.QueryContext(ctx, q.sel, nil)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("dump %q: %w", q.plan.Table.Name, context.Cause(ctx))
				}
				return q.queryError(err)
			}
			// Closed only after the last row (below): closing early
			// would read every remaining row first.
			if got := len(rows.Columns()); got != len(q.plan.Columns) {
				return abandon{fmt.Errorf("dump %q: the SELECT returned %d columns, want %d", q.plan.Table.Name, got, len(q.plan.Columns))}
			}
			viaDriver = rows
			src = &driverRows{rows: rows, vals: make([]driver.Value, len(q.plan.Columns)), names: q.plan.Names()}
		}
		var rerr error
		if n, rerr = streamRows(ctx, q, src, fw, flush); rerr != nil {
			return abandon{rerr}
		}
		if viaDriver != nil {
			if err := viaDriver.Close(); err != nil {
				return fmt.Errorf("dump %q: %w", q.plan.Table.Name, mysqldb.Explain(err))
			}
		}
		return nil
	})
	if ab, ok := err.(abandon); ok {
		err = ab.error
	}
	return n, isDirect, err
}

// abandon is a failure that leaves the connection in the middle of a
// result: it also matches driver.ErrBadConn, so that Conn.Raw closes the
// connection rather than keep it. stream returns the failure itself.
type abandon struct{ error }

func (a abandon) Unwrap() []error { return []error{a.error, driver.ErrBadConn} }

// rowSource yields a result's rows as the server's text: one value per
// column, nil for NULL, valid until the next call; io.EOF after the last
// row, once the connection is ready for its next command.
type rowSource interface {
	Next(vals [][]byte) error
}

// driverRows is a rowSource over the driver's rows, which hand integers
// and floats over parsed: sqltext.ValueText prints them back.
type driverRows struct {
	rows    driver.Rows
	vals    []driver.Value
	names   []string // the columns, for errors
	scratch []byte
}

func (d *driverRows) Next(vals [][]byte) error {
	if err := d.rows.Next(d.vals); err != nil {
		return err
	}
	d.scratch = d.scratch[:0]
	for i, v := range d.vals {
		var err error
		if vals[i], d.scratch, err = sqltext.ValueText(d.scratch, v); err != nil {
			return fmt.Errorf("column %q: %w", d.names[i], err)
		}
	}
	return nil
}

// streamRows writes every row of rows.
func streamRows(ctx context.Context, q *query, rows rowSource, fw *dumpfmt.Writer, flush func() error) (int64, error) {
	table := q.plan.Table.Name
	cols := q.plan.Columns
	kinds := q.plan.Kinds()
	vals := make([][]byte, len(cols))
	last := time.Now()
	var n int64
	for {
		if err := rows.Next(vals); err != nil {
			if err == io.EOF {
				return n, nil
			}
			// The driver closes the connection when the context ends:
			// report why (the signal, the client gone), not the broken
			// connection.
			if ctx.Err() != nil {
				return n, fmt.Errorf("dump %q: after %d rows: %w", table, n, context.Cause(ctx))
			}
			return n, fmt.Errorf("dump %q: read row %d: %w", table, n+1, mysqldb.Explain(err))
		}
		// Encoded in place, into the statement being built.
		tuple := append(fw.BeginRow(), '(')
		for i, v := range vals {
			if i > 0 {
				tuple = append(tuple, ',')
			}
			if c := &cols[i]; c.MaxLen > 0 && v != nil {
				if err := checkWidth(table, c, v, n+1); err != nil {
					return n, err
				}
			}
			tuple = sqltext.AppendLiteral(tuple, kinds[i], v)
		}
		tuple = append(tuple, ')')
		if err := fw.EndRow(tuple); err != nil {
			return n, fmt.Errorf("dump %q: row %d: %w", table, n+1, err)
		}
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("dump %q: after %d rows: %w", table, n, context.Cause(ctx))
			}
			if flush != nil && time.Since(last) >= flushEvery {
				if err := fw.Flush(); err != nil {
					return n, fmt.Errorf("dump %q: %w", table, err)
				}
				if err := flush(); err != nil {
					return n, fmt.Errorf("dump %q: flush: %w", table, err)
				}
				last = time.Now()
			}
		}
	}
}

// checkWidth fails a key-derived value that does not fit its column.
func checkWidth(table string, c *sanitize.Column, v []byte, row int64) error {
	n := int64(len(v))
	unit := "bytes"
	if !c.Bytes {
		n = int64(utf8.RuneCount(v))
		unit = "characters"
	}
	if n <= c.MaxLen {
		return nil
	}
	return hint.Wrap(
		fmt.Errorf("dump %q: row %d: the %s value derived from the key for UNIQUE column %q is %d %s, but the column holds %d",
			table, row, c.Rule.Type, c.Name, n, unit, c.MaxLen),
		fmt.Sprintf("widen the column, or give %s a \"sql\" rule that fits", c.Key))
}

// query is a prepared dump: the pinned snapshot connection, the plan and
// the SQL.
type query struct {
	conn   *sql.Conn
	end    func()
	plan   *sanitize.Plan
	header dumpfmt.Header
	sel    string
	level  int
	chunk  int
	// subsetExplain is the [limits] predicate laid out for --explain.
	subsetExplain string
}

// prepare checks the request, opens the snapshot, loads the schema and
// compiles the projection. The caller must call q.end.
func prepare(ctx context.Context, src Source, o Options) (*query, error) {
	cfg := src.Config
	if cfg == nil {
		d := config.Defaults()
		cfg = &d
	}
	if o.Table == "" {
		return nil, errors.New("dump: no table given")
	}
	var since time.Time
	if o.Since != "" {
		t, err := manifest.ParseSince(o.Since)
		if err != nil {
			return nil, &tagged{err: err, kind: ErrBadSince}
		}
		since = t
	}
	if cfg.IsExcluded(o.Table) {
		return nil, &tagged{kind: ErrExcluded,
			err:   fmt.Errorf("table %q is excluded by exclude_tables in the configuration: it is never dumped", o.Table),
			hints: []string{"remove it from exclude_tables to dump it"}}
	}
	if src.DB == nil || src.Database == "" {
		return nil, errors.New("dump: no source database")
	}
	// A session setting, not a write: see the package documentation.
	conn, end, err := snapshot(ctx, src.DB)
	if err != nil {
		return nil, fmt.Errorf("dump %q: %w", o.Table, err)
	}
	q := &query{conn: conn, end: end}
	ok := false
	defer func() {
		if !ok {
			end()
		}
	}()

	var generalLog int
	var now string
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.general_log, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')").Scan(&generalLog, &now); err != nil {
		return nil, fmt.Errorf("dump %q: %w", o.Table, mysqldb.Explain(err))
	}
	if generalLog != 0 {
		warnf(o.Log, "the source server has general_log ON: it records every statement with its bound values, the salt and exclude patterns included; turn it off (SET GLOBAL general_log = 0) or rotate the salt afterwards")
	}
	s, err := schema.Load(ctx, conn, src.Database)
	if err != nil {
		return nil, fmt.Errorf("dump %q: %w", o.Table, err)
	}
	t, err := s.Lookup(o.Table)
	if err != nil {
		return nil, &tagged{err: err, kind: ErrUnknownTable}
	}
	// This table's rules first: Compile reports every problem of each
	// rule; CheckConfig then catches rules naming other missing tables.
	plan, err := sanitize.Compile(cfg, t)
	if err != nil {
		return nil, err
	}
	if err := s.CheckConfig(cfg); err != nil {
		return nil, err
	}
	// Row limits: the same predicate for full and delta dumps (issue 4).
	limits, err := subset.New(s, cfg)
	if err != nil {
		return nil, err
	}
	subsetWhere, err := limits.Where(t.Name)
	if err != nil {
		return nil, err
	}
	if subsetWhere != "" {
		o.Subset.Where = append(o.Subset.Where, subsetWhere)
		if q.subsetExplain, err = limits.Explain(t.Name); err != nil {
			return nil, err
		}
	}
	findings, err := scan.Guard(ctx, conn, s, cfg, t.Name)
	if err != nil {
		return nil, err
	}
	if len(findings) > 0 {
		cols := make([]string, len(findings))
		for i, f := range findings {
			cols[i] = fmt.Sprintf("%s (%s)", f.Column, f.Type)
		}
		warnf(o.Log, "table %q: %d columns look sensitive and have no sanitize rule, so they are dumped unchanged: %s; add rules to [sanitize.%s] (the suggested type in parentheses) or mark them reviewed with { type = \"keep\" }",
			t.Name, len(findings), strings.Join(cols, ", "), t.Name)
	}
	if len(plan.Columns) == 0 {
		return nil, fmt.Errorf("dump %q: the table has no stored columns", o.Table)
	}
	if problem := sanitize.SaltProblem(cfg.Server.Salt); plan.NeedsSalt() && problem != "" {
		warnf(o.Log, "table %q: %s", o.Table, problem)
	}
	q.plan = plan
	q.header = dumpfmt.Header{Table: t.Name, Mode: dumpfmt.ModeFull, GeneratedAt: now}

	var where []string
	if o.Since != "" && t.HasDelta() {
		q.header.Mode = dumpfmt.ModeDelta
		q.header.Since = since.Format(time.RFC3339Nano)
		if err := plan.AddVar("bf_since", manifest.SQLTime(since), "the delta's since, "+q.header.Since); err != nil {
			return nil, err
		}
		where = append(where, "(`created_at` >= CAST(@bf_since AS DATETIME(6)) OR `updated_at` >= CAST(@bf_since AS DATETIME(6)))")
	}
	for _, v := range o.Subset.Vars {
		if err := plan.AddVar(v.Name, v.Value, v.About); err != nil {
			return nil, fmt.Errorf("dump %q: subset: %w", o.Table, err)
		}
	}
	for _, c := range o.Subset.Where {
		where = append(where, "("+c+")")
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(plan.SelectList())
	b.WriteString(" FROM ")
	b.WriteString(sqltext.QuoteIdent(t.Name))
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	if o.Subset.OrderBy != "" {
		b.WriteString(" ORDER BY ")
		b.WriteString(o.Subset.OrderBy)
	}
	if o.Subset.Limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", o.Subset.Limit)
	}
	q.sel = b.String()

	q.level = o.Level
	if q.level == 0 {
		q.level = cfg.Server.Level
	}
	q.chunk = o.ChunkRows
	if q.chunk == 0 {
		q.chunk = cfg.Server.ChunkSize
	}
	ok = true
	return q, nil
}

// snapshot opens the read-only consistent snapshot, raises the session's
// net_write_timeout and sets its sql_mode to sqltext.SQLMode: the
// projections mean the same on every server (under MariaDB's ORACLE mode
// CONCAT skips NULLs, so a masked NULL would come out as a value).
func snapshot(ctx context.Context, db *sql.DB) (*sql.Conn, func(), error) {
	conn, end, err := mysqldb.Snapshot(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	// Inside the transaction is fine: a session variable, no write.
	if _, err := conn.ExecContext(ctx, "SET SESSION net_write_timeout = 3600, sql_mode = '"+sqltext.SQLMode+"'"); err != nil {
		end()
		return nil, nil, mysqldb.Explain(err)
	}
	return conn, end, nil
}

// queryError explains a failed SELECT; a rule of type "sql" is the usual
// suspect for a syntax error or an unknown column.
func (q *query) queryError(err error) error {
	table := q.plan.Table.Name
	err = mysqldb.Explain(err)
	if mysqldb.IsError(err, 1054, 1064, 1305, 1582, 1583) {
		var keys []string
		for _, c := range q.plan.Columns {
			if c.Rule != nil && c.Rule.Type == "sql" {
				keys = append(keys, c.Key)
			}
		}
		if len(keys) > 0 {
			return hint.Wrap(fmt.Errorf("dump %q: %w", table, err),
				"check the expr of "+strings.Join(keys, ", ")+" in backfill.toml")
		}
	}
	return fmt.Errorf("dump %q: %w", table, err)
}

// Explain returns the statements a dump of o.Table would run, for
// bf-dump --explain. Bound values appear as placeholders, each described
// by a comment; the salt, patterns and fixed values are never shown.
func Explain(ctx context.Context, src Source, o Options) (string, error) {
	q, err := prepare(ctx, src, o)
	if err != nil {
		return "", err
	}
	defer q.end()
	var b strings.Builder
	fmt.Fprintf(&b, "-- the dump of %s (mode=%s) runs on one connection, inside\n", sqltext.QuoteIdent(q.plan.Table.Name), q.header.Mode)
	b.WriteString("-- START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY, and with\n")
	b.WriteString("-- SET SESSION sql_mode = '" + sqltext.SQLMode + "':\n")
	if stmt, _ := q.plan.SetStatement(); stmt != "" {
		for _, v := range q.plan.Vars {
			fmt.Fprintf(&b, "--   @%s is bound to %s\n", v.Name, v.About)
		}
		b.WriteString(stmt)
		b.WriteString(";\n")
	}
	if q.subsetExplain != "" {
		b.WriteString("-- the [limits] subset predicate in the WHERE below, laid out:\n")
		for _, line := range strings.Split(strings.TrimRight(q.subsetExplain, "\n"), "\n") {
			b.WriteString("--   ")
			b.WriteString(line)
			b.WriteString("\n")
		}
	}
	b.WriteString("-- (before the SELECT, DO 0 with a random comment finds the connection's\n")
	b.WriteString("-- socket, off which bf-dump reads the rows when it carries neither TLS nor\n")
	b.WriteString("-- compression)\n")
	b.WriteString(q.sel)
	b.WriteString(";\n")
	if stmt := q.plan.ClearStatement(); stmt != "" {
		b.WriteString(stmt)
		b.WriteString(";\n")
	}
	return b.String(), nil
}

func warnf(l Logger, format string, args ...any) {
	if l != nil {
		l.Warnf(format, args...)
	}
}

// countingWriter counts the bytes that reached w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tagged is an error of one of the Err* classes, with hints.
type tagged struct {
	err   error
	kind  error
	hints []string
}

func (t *tagged) Error() string   { return t.err.Error() }
func (t *tagged) Unwrap() []error { return []error{t.err, t.kind} }
func (t *tagged) Hints() []string { return t.hints }

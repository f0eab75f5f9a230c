package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/internal/hint"
	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/schema"
	"github.com/backfill/backfill/lib/sqltext"
)

// cleanupTimeout bounds ROLLBACK, COMMIT and the AUTO_INCREMENT repair,
// which must run even after the import's context is cancelled. Rolling back
// a big DELETE can take a while; a second Ctrl-C ends the process anyway.
const cleanupTimeout = 10 * time.Minute

// handlerSeq numbers the driver's reader handlers (a process-wide registry).
var handlerSeq atomic.Int64

// tableLoad is one table's transaction on its own connection.
type tableLoad struct {
	r    *run
	j    *job
	conn *sql.Conn
	id   atomic.Int64 // CONNECTION_ID(), for KILL QUERY
	busy atomic.Bool  // a statement is running on conn
	inTx bool

	autoInc sql.NullInt64 // AUTO_INCREMENT before the import, to restore on rollback

	// Built from the stream's column list and the local schema on the
	// first INSERT.
	// avoidBulk: the table is empty. MariaDB 10.6+ switches a transaction
	// that inserts into an empty table with unique_checks and
	// foreign_key_checks off to "bulk insert" (buffer, sort, build the
	// indexes); measured on the generated activity_log (a million rows in
	// primary-key order, 128 MiB buffer pool) that costs the server 2.5
	// times the CPU of plain inserts (see doc.go). The first statement runs
	// with unique_checks on, which keeps InnoDB off that path; after it the
	// table is no longer empty and the checks go off again.
	avoidBulk bool

	cols     []*schema.Column
	prefix   []byte // INSERT INTO `t` (`a`,`b`) VALUES
	suffix   []byte // " ON DUPLICATE KEY UPDATE ..." for upserts
	convs    []conv
	loadSQL  string
	handler  string
	payload  atomic.Pointer[[]byte] // what the reader handler serves next
	inserts  int                    // statements executed as SQL
	loadData int                    // statements executed as LOAD DATA
}

// batch is one statement ready to execute, produced while the previous one
// runs on the server.
type batch struct {
	loadData bool
	data     []byte // SQL text, or LOAD DATA rows
	rows     int
}

// exec runs one statement on the table's connection, killable (see
// killable).
func (t *tableLoad) exec(ctx context.Context, query string) (res sql.Result, err error) {
	err = t.killable(ctx, func(ctx context.Context) error {
		res, err = t.conn.ExecContext(ctx, query)
		return err
	})
	return res, err
}

// killable runs f, which executes statements on the table's connection,
// with the connection marked busy, so that a cancelled ctx kills the
// running statement (KILL QUERY, see kill) however long it would wait for
// a lock. f gets a context that is never cancelled, on purpose: the driver
// would close the connection, and the server would roll back behind our
// back; instead the killed statement returns, and the import rolls back
// in-band. Every statement from START TRANSACTION to the last row goes
// through here. Once ctx is cancelled, no new statement starts: kill has
// already run by then and would not see it.
func (t *tableLoad) killable(ctx context.Context, f func(context.Context) error) error {
	t.busy.Store(true)
	defer t.busy.Store(false)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return f(context.WithoutCancel(ctx))
}

func (t *tableLoad) name() string { return t.j.header.Table }

// begin pins a connection, sets the stream's session and starts the
// transaction.
func (t *tableLoad) begin(ctx context.Context) error {
	conn, err := t.r.db.Conn(ctx)
	if err != nil {
		return mysqldb.Explain(err)
	}
	t.conn = conn
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return mysqldb.Explain(err)
	}
	t.id.Store(id)
	// MySQL 8 caches INFORMATION_SCHEMA.TABLES.AUTO_INCREMENT; MariaDB has
	// no such variable and reads it live.
	_, _ = conn.ExecContext(ctx, "SET SESSION information_schema_stats_expiry = 0")
	err = conn.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.name()).Scan(&t.autoInc)
	if err != nil {
		return mysqldb.Explain(err)
	}
	// The stream's own session lines (SET NAMES utf8mb4; the time zone,
	// sql_mode, foreign_key_checks=0, unique_checks=0, autocommit=0): the
	// literals mean what they meant when they were written.
	for _, s := range []string{dumpfmt.NamesLine, dumpfmt.SettingsLine, "START TRANSACTION"} {
		if _, err := t.exec(ctx, strings.TrimSuffix(s, ";")); err != nil {
			return mysqldb.Explain(err)
		}
	}
	t.inTx = true
	return nil
}

// clear empties the table inside the transaction for a full load; an empty
// table needs no DELETE, but see avoidBulk. Both statements are the first
// to touch the table, and wait for its metadata lock (another session's
// LOCK TABLES or open transaction): both are killable.
func (t *tableLoad) clear(ctx context.Context) error {
	q := "SELECT 1 FROM " + sqltext.QuoteIdent(t.name()) + " LIMIT 1"
	var one int
	err := t.killable(ctx, func(ctx context.Context) error {
		return t.conn.QueryRowContext(ctx, q).Scan(&one)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		t.avoidBulk = true
		return nil
	case err != nil:
		return mysqldb.Explain(err)
	}
	if _, err := t.exec(ctx, "DELETE FROM "+sqltext.QuoteIdent(t.name())); err != nil {
		return fmt.Errorf("empty the table: %w", mysqldb.Explain(err))
	}
	return ctx.Err()
}

// prepare checks the stream's column list against the local table and
// builds the statement parts.
func (t *tableLoad) prepare(columns []string) error {
	t.cols = make([]*schema.Column, len(columns))
	for i, name := range columns {
		c, err := t.j.table.LookupColumn(name)
		if err != nil {
			return hint.Wrap(err, "the local schema differs from the dump's: bf-schemadiff shows how")
		}
		if c.Generated {
			return hint.Wrap(fmt.Errorf("column %q of table %q is generated locally, but the stream has values for it", name, t.name()),
				"the local schema differs from the dump's: bf-schemadiff shows how")
		}
		t.cols[i] = c
	}
	p := []byte("INSERT INTO ")
	p = sqltext.AppendIdent(p, t.name())
	p = append(p, " ("...)
	for i, c := range t.cols {
		if i > 0 {
			p = append(p, ',')
		}
		p = sqltext.AppendIdent(p, c.Name)
	}
	t.prefix = append(p, ") VALUES "...)
	if t.j.action == "upserted" {
		t.suffix = upsertClause(t.cols, t.j.table.PrimaryKey)
	}
	if t.r.useLoadData && t.j.action == "replaced" {
		t.convs = convsFor(t.cols)
		t.handler = "bf-load-" + strconv.FormatInt(handlerSeq.Add(1), 10)
		t.loadSQL = loadDataSQL(t.handler, t.name(), t.cols, t.convs)
		mysql.RegisterReaderHandler(t.handler, func() io.Reader {
			p := t.payload.Load()
			if p == nil {
				return strings.NewReader("")
			}
			return &byteReader{b: *p}
		})
	}
	return nil
}

// upsertClause builds ON DUPLICATE KEY UPDATE from the parsed column list:
// every column but the primary key takes the new row's value. When the
// stream has only key columns, the clause is a no-op assignment.
func upsertClause(cols []*schema.Column, pk []string) []byte {
	b := []byte(" ON DUPLICATE KEY UPDATE ")
	n := 0
	for _, c := range cols {
		if contains(pk, c.Name) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = sqltext.AppendIdent(b, c.Name)
		b = append(b, "=VALUES("...)
		b = sqltext.AppendIdent(b, c.Name)
		b = append(b, ')')
		n++
	}
	if n == 0 {
		b = sqltext.AppendIdent(b, cols[0].Name)
		b = append(b, '=')
		b = sqltext.AppendIdent(b, cols[0].Name)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// byteReader serves one LOAD DATA payload without copying it.
type byteReader struct {
	b []byte
}

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// load streams every statement of rd into the table. It returns the rows
// loaded; the transaction stays open.
func (t *tableLoad) load(ctx context.Context, rd *dumpfmt.Reader, rc io.Closer) (int64, error) {
	// The producer reads and converts the next statement while the server
	// executes the current one. Two batches circulate: memory stays at a
	// few statements whatever the table's size.
	free := make(chan *batch, 2)
	free <- &batch{}
	free <- &batch{}
	work := make(chan *batch, 1)
	stop := make(chan struct{})
	perr := make(chan error, 1)
	defer close(stop)
	go func() {
		defer rc.Close()
		defer rd.Close()
		defer close(work)
		perr <- t.produce(rd, free, work, stop)
	}()

	var rows int64
	for {
		var b *batch
		var ok bool
		select {
		case b, ok = <-work:
		case <-ctx.Done():
			// The producer may be stuck reading a stalled pipe; it
			// ends when its reader does.
			return rows, context.Cause(ctx)
		}
		if !ok {
			break
		}
		if err := t.run(ctx, b); err != nil {
			return rows, err
		}
		rows += int64(b.rows)
		free <- b
	}
	if err := <-perr; err != nil {
		return rows, err
	}
	if ctx.Err() != nil {
		return rows, context.Cause(ctx)
	}
	return rows, nil
}

// produce reads statements until the verified end marker (io.EOF) and
// turns each INSERT into a batch.
func (t *tableLoad) produce(rd *dumpfmt.Reader, free <-chan *batch, work chan<- *batch, stop <-chan struct{}) error {
	for {
		st, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Kind != dumpfmt.Insert {
			// Settings, COMMIT and restore: the loader runs its own
			// session and transaction (begin, commit).
			continue
		}
		if t.prefix == nil {
			if err := t.prepare(st.Columns); err != nil {
				return err
			}
		}
		var b *batch
		select {
		case b = <-free:
		case <-stop:
			return nil
		}
		if err := t.fill(b, st); err != nil {
			return err
		}
		select {
		case work <- b:
		case <-stop:
			return nil
		}
	}
}

// fill turns one INSERT of the stream into a batch: LOAD DATA rows when
// possible, else the SQL statement rebuilt from its validated parts.
func (t *tableLoad) fill(b *batch, st *dumpfmt.Statement) error {
	b.rows = st.Rows
	if t.loadSQL != "" {
		data, n, err := appendLoadData(b.data[:0], st.Values, t.convs)
		switch {
		case err == nil:
			if n != st.Rows {
				return fmt.Errorf("load data: converted %d rows of a statement that has %d", n, st.Rows)
			}
			b.loadData, b.data = true, data
			return nil
		case !errors.Is(err, errNoLoadData):
			return err
		}
	}
	d := append(b.data[:0], t.prefix...)
	d = append(d, st.Values...)
	d = append(d, t.suffix...)
	b.loadData, b.data = false, d
	return nil
}

// run executes one batch and checks that every row arrived.
func (t *tableLoad) run(ctx context.Context, b *batch) error {
	if t.avoidBulk {
		if _, err := t.exec(ctx, "SET SESSION unique_checks = 1"); err != nil {
			return mysqldb.Explain(err)
		}
		err := t.run1(ctx, b)
		if err == nil {
			_, err = t.exec(ctx, "SET SESSION unique_checks = 0")
			err = mysqldb.Explain(err)
		}
		t.avoidBulk = false
		return err
	}
	return t.run1(ctx, b)
}

func (t *tableLoad) run1(ctx context.Context, b *batch) error {
	if b.loadData {
		t.payload.Store(&b.data)
		res, err := t.exec(ctx, t.loadSQL)
		t.payload.Store(nil)
		if err != nil {
			return mysqldb.Explain(err)
		}
		t.loadData++
		// LOAD DATA LOCAL cannot stop the client mid-file, so the server
		// turns data errors into warnings and skips duplicate keys:
		// check both, and fail as the INSERT would have.
		if err := t.warnings(ctx); err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n != int64(b.rows) {
			return fmt.Errorf("LOAD DATA stored %d of %d rows (a duplicate key in the stream?)", n, b.rows)
		}
		return nil
	}
	// No copy of a statement of up to several MiB: the driver copies the
	// query into its packet buffer and keeps no reference to it, and the
	// batch's buffer is reused only after ExecContext returned.
	res, err := t.exec(ctx, unsafe.String(unsafe.SliceData(b.data), len(b.data)))
	if err != nil {
		return mysqldb.Explain(err)
	}
	t.inserts++
	if t.j.action == "replaced" {
		if n, err := res.RowsAffected(); err == nil && n != int64(b.rows) {
			return fmt.Errorf("INSERT stored %d of %d rows", n, b.rows)
		}
	}
	return nil
}

// warnings returns the first warning or error of the last statement.
func (t *tableLoad) warnings(ctx context.Context) error {
	return t.killable(ctx, func(ctx context.Context) error {
		rows, err := t.conn.QueryContext(ctx, "SHOW WARNINGS LIMIT 10")
		if err != nil {
			return mysqldb.Explain(err)
		}
		defer rows.Close()
		for rows.Next() {
			var level, msg string
			var code int
			if err := rows.Scan(&level, &code, &msg); err != nil {
				return err
			}
			if level != "Note" {
				return fmt.Errorf("Error %d: %s", code, msg)
			}
		}
		return rows.Err()
	})
}

// commit commits the transaction and gives the connection up.
func (t *tableLoad) commit() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := t.conn.ExecContext(ctx, "COMMIT")
	if err == nil {
		t.inTx = false
	}
	t.release()
	return mysqldb.Explain(err)
}

// rollback rolls the transaction back. It returns false when the rollback
// could not be confirmed (the connection broke: the server rolls back on
// its own then).
func (t *tableLoad) rollback() bool {
	if t.conn == nil || !t.inTx {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := t.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		// A KILL QUERY aimed at the last statement may hit the ROLLBACK
		// instead: try once more.
		if _, err := t.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.release()
			return false
		}
	}
	t.inTx = false
	return true
}

// repairAutoIncrement puts back the AUTO_INCREMENT counter, which InnoDB
// does not roll back, so that the table is as it was. It runs after every
// transaction of the import ended: the ALTER TABLE needs metadata locks
// that an open transaction on a table linked by a foreign key would hold.
func (t *tableLoad) repairAutoIncrement() {
	if t.conn == nil || t.inTx || !t.autoInc.Valid {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var now sql.NullInt64
	err := t.conn.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.name()).Scan(&now)
	if err != nil || !now.Valid || now.Int64 == t.autoInc.Int64 {
		return
	}
	// Someone else's lock on the table must not hang the import's exit.
	_, _ = t.conn.ExecContext(ctx, "SET SESSION lock_wait_timeout = 30")
	q := "ALTER TABLE " + sqltext.QuoteIdent(t.name()) + " AUTO_INCREMENT = " + strconv.FormatInt(t.autoInc.Int64, 10)
	if _, err := t.conn.ExecContext(ctx, q); err != nil {
		t.r.o.Warnf("table %q: could not restore AUTO_INCREMENT to %d after the rollback: %v", t.name(), t.autoInc.Int64, err)
	}
}

// release closes the connection for good: its session (foreign_key_checks
// off, the stream's sql_mode) must not go back to the pool.
func (t *tableLoad) release() {
	if t.handler != "" {
		mysql.DeregisterReaderHandler(t.handler)
		t.handler = ""
	}
	if t.conn == nil {
		return
	}
	_ = t.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = t.conn.Close()
	t.conn = nil
}

// kill interrupts the statement running on the table's connection, if any.
// It runs once, when the import's context is cancelled (killable starts no
// statement after that). A KILL QUERY that reaches the server before the
// statement itself does is dropped (the server ignores it on an idle
// connection), so it is sent again every second until the statement has
// returned.
func (t *tableLoad) kill() {
	id := t.id.Load()
	if id == 0 {
		return
	}
	for t.busy.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = t.r.db.ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(id, 10))
		cancel()
		for range 20 {
			if !t.busy.Load() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// method names how the rows reached the server.
func (t *tableLoad) method() string {
	switch {
	case t.loadData > 0 && t.inserts > 0:
		return "mixed"
	case t.loadData > 0:
		return string(MethodLoadData)
	}
	return string(MethodInsert)
}

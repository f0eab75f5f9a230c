package dumpfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/sqltext"
)

// The fixed statements of a v1 stream. Readers accept exactly this text.
const (
	// SaveLine remembers the loading session's settings in user variables.
	SaveLine = "SET @bf_cs_client=@@character_set_client, @bf_cs_results=@@character_set_results, " +
		"@bf_coll=@@collation_connection, @bf_tz=@@time_zone, @bf_mode=@@sql_mode, " +
		"@bf_fk=@@foreign_key_checks, @bf_uc=@@unique_checks, @bf_ac=@@autocommit;"
	// NamesLine makes the session read the stream as UTF-8.
	NamesLine = "SET NAMES utf8mb4;"
	// SettingsLine sets what the literals mean (time zone, sql_mode), turns
	// the checks off for speed, and opens a transaction that only COMMIT ends.
	SettingsLine = "SET time_zone='+00:00', sql_mode='" + sqltext.SQLMode + "', " +
		"foreign_key_checks=0, unique_checks=0, autocommit=0;"
	// CommitLine commits the rows; it comes after the last INSERT.
	CommitLine = "COMMIT;"
	// RestoreLine gives the loading session back its own settings.
	RestoreLine = "SET character_set_client=@bf_cs_client, character_set_results=@bf_cs_results, " +
		"collation_connection=@bf_coll, time_zone=@bf_tz, sql_mode=@bf_mode, " +
		"foreign_key_checks=@bf_fk, unique_checks=@bf_uc, autocommit=@bf_ac;"
)

// Defaults for [Options].
const (
	// DefaultLevel is zstd level 1. The writer runs on the production host
	// (or its replica), where CPU is what matters. Measured on app-like
	// INSERT text (one core, CPU time): level 1 compresses 124 MB/s to
	// 1/3.8, level 3 76 MB/s to 1/4.05, level 6 37 MB/s to 1/4.4, level 19
	// 13 MB/s to 1/4.6; on the generated activity_log (a million sanitized
	// rows) level 1 costs a fifth less CPU and 18 MB less memory than level 3
	// for a stream within 0.1 % of the same size. Higher levels are for slow
	// links: bf-dump --level or [server] level.
	DefaultLevel = 1
	// DefaultChunkRows is the rows per INSERT, DESIGN's chunk_size default.
	DefaultChunkRows = 5000
	// DefaultMaxStatementBytes keeps each INSERT at a quarter of the 16 MiB
	// max_allowed_packet default of MySQL 8 and MariaDB, leaving headroom for
	// servers configured lower (4 MiB was the MySQL 5.7 default).
	DefaultMaxStatementBytes = 4 << 20
)

// Options configures a [Writer].
type Options struct {
	// Level is the zstd level, 1 to 22; 0 means DefaultLevel.
	Level int
	// ChunkRows is the most rows per INSERT statement; 0 means
	// DefaultChunkRows.
	ChunkRows int
	// MaxStatementBytes is the most bytes per INSERT statement (its text up
	// to and including the semicolon); 0 means DefaultMaxStatementBytes. A
	// single row larger than this still goes out, alone.
	MaxStatementBytes int
	// Columns are the table's columns in the order each tuple lists values
	// (generated columns left out). Required.
	Columns []string
	// Concurrency is the number of goroutines compressing; 0 or 1 means
	// compress in the calling goroutine. The dump is bound by the database's
	// row rate, not by compression, so more only helps a fast source.
	Concurrency int
}

// ErrClosed is returned by a Writer used after Close or Abort.
var ErrClosed = errors.New("dump writer is closed")

// errOpenRow refuses to flush or end a stream with a row begun and not
// ended: its statement is incomplete.
var errOpenRow = errors.New("dump writer: a row was begun and not ended; abort the stream")

// Writer writes a dump stream: the header and session settings on creation,
// batched INSERT statements as rows arrive, and the commit, the restore
// line and the end marker on Close.
type Writer struct {
	w    io.Writer
	enc  *zstd.Encoder
	max  int
	rows int64

	chunk  int
	prefix []byte // INSERT INTO `t` (`a`,`b`) VALUES
	stmt   []byte // the INSERT being built; empty when batch == 0
	batch  int    // rows in stmt
	mark   int    // where the row begun by BeginRow starts in stmt
	open   bool   // BeginRow was called and EndRow not yet
	spare  []byte // a row moved on to the next statement
	err    error  // sticky
	closed bool
}

// NewWriter starts a stream on w with header h. It writes the header and
// the session settings into the compressor; nothing may reach w before the
// first Flush or Close.
func NewWriter(w io.Writer, h Header, o Options) (*Writer, error) {
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("dump header: %w", err)
	}
	if len(o.Columns) == 0 {
		return nil, fmt.Errorf("dump of %s: no columns", h.Table)
	}
	level := o.Level
	switch {
	case level == 0:
		level = DefaultLevel
	case level < 1 || level > 22:
		return nil, fmt.Errorf("zstd level %d: want 1 to 22", o.Level)
	}
	chunk := o.ChunkRows
	switch {
	case chunk == 0:
		chunk = DefaultChunkRows
	case chunk < 0:
		return nil, fmt.Errorf("chunk rows %d: want a positive number", chunk)
	}
	maxStmt := o.MaxStatementBytes
	switch {
	case maxStmt == 0:
		maxStmt = DefaultMaxStatementBytes
	case maxStmt < 0:
		return nil, fmt.Errorf("max statement bytes %d: want a positive number", maxStmt)
	}
	conc := max(o.Concurrency, 1)

	prefix := []byte("INSERT INTO ")
	prefix = sqltext.AppendIdent(prefix, h.Table)
	prefix = append(prefix, " ("...)
	for i, c := range o.Columns {
		if err := checkName(c); err != nil {
			return nil, fmt.Errorf("dump of %s: column: %w", h.Table, err)
		}
		if i > 0 {
			prefix = append(prefix, ',')
		}
		prefix = sqltext.AppendIdent(prefix, c)
	}
	prefix = append(prefix, ") VALUES "...)

	enc, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(conc))
	if err != nil {
		return nil, fmt.Errorf("dump of %s: zstd: %w", h.Table, err)
	}
	dw := &Writer{w: w, enc: enc, max: maxStmt, chunk: chunk, prefix: prefix}
	head := appendHeader(nil, &h)
	head = append(head, '\n')
	for _, l := range [...]string{SaveLine, NamesLine, SettingsLine} {
		head = append(head, l...)
		head = append(head, '\n')
	}
	dw.write(head)
	if dw.err != nil {
		dw.release()
		return nil, dw.err
	}
	return dw, nil
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.enc.Write(p); err != nil {
		w.err = fmt.Errorf("write dump stream: %w", err)
	}
}

// WriteRow adds one row: tuple is its values already encoded by
// [sqltext.AppendLiteral], in parentheses, comma-separated, in the order of
// Options.Columns. WriteRow copies tuple; the caller may reuse it.
func (w *Writer) WriteRow(tuple []byte) error {
	return w.EndRow(append(w.BeginRow(), tuple...))
}

// BeginRow starts a row and returns the statement being built, for the
// caller to append the row's tuple to (what WriteRow takes) and hand back
// to EndRow: the row is encoded in place, with no copy. Nothing else may be
// called on w between the two; a row begun and abandoned leaves only Abort
// (Flush and Close refuse to write it).
func (w *Writer) BeginRow() []byte {
	w.open = true
	if w.batch == 0 {
		w.stmt = append(w.stmt[:0], w.prefix...)
	} else {
		w.stmt = append(w.stmt, ',')
	}
	w.mark = len(w.stmt)
	return w.stmt
}

// EndRow adds the row begun by BeginRow: b is what BeginRow returned with
// the tuple appended.
func (w *Writer) EndRow(b []byte) error {
	w.open = false
	// Without the row, the statement is what it was before BeginRow.
	before := w.mark - 1
	if w.batch == 0 {
		before = 0
	}
	if w.err != nil || w.closed || len(b) < w.mark {
		w.stmt = b[:min(before, len(b))]
		switch {
		case w.err != nil:
			return w.err
		case w.closed:
			return ErrClosed
		}
		return fmt.Errorf("row %d: EndRow without BeginRow's buffer", w.rows+1)
	}
	tuple := b[w.mark:]
	if len(tuple) < 2 || tuple[0] != '(' || tuple[len(tuple)-1] != ')' {
		w.stmt = b[:before]
		return fmt.Errorf("row %d: %q is not a parenthesized tuple", w.rows+1, clip(tuple))
	}
	if bytes.IndexByte(tuple, '\n') >= 0 || bytes.IndexByte(tuple, '\r') >= 0 {
		w.stmt = b[:before]
		return fmt.Errorf("row %d: tuple contains a line break", w.rows+1)
	}
	w.stmt = b
	// Start a new statement rather than grow this one past the byte cap
	// (the +1 is the ';'): the row moves on to the next statement.
	if w.batch > 0 && len(b)+1 > w.max {
		w.spare = append(w.spare[:0], tuple...)
		w.stmt = b[:before]
		w.endStatement()
		w.stmt = append(append(w.stmt[:0], w.prefix...), w.spare...)
		if cap(w.spare) > 2*w.max {
			w.spare = nil
		}
	}
	w.batch++
	w.rows++
	if w.batch >= w.chunk {
		w.endStatement()
	}
	return w.err
}

// endStatement hands the INSERT being built to the compressor.
func (w *Writer) endStatement() {
	if w.batch == 0 {
		return
	}
	w.stmt = append(w.stmt, ';', '\n')
	w.write(w.stmt)
	w.batch = 0
	// A huge single row grew the buffer: do not keep it for the whole dump.
	if cap(w.stmt) > 2*w.max+len(w.prefix) {
		w.stmt = nil
	} else {
		w.stmt = w.stmt[:0]
	}
}

// Rows returns the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Flush ends the INSERT being built and pushes everything compressed so far
// to the underlying writer, so that a consumer (an HTTP client) can start on
// it. It does not flush the underlying writer itself.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	if w.open {
		return errOpenRow
	}
	w.endStatement()
	if w.err == nil {
		if err := w.enc.Flush(); err != nil {
			w.err = fmt.Errorf("flush dump stream: %w", err)
		}
	}
	return w.err
}

// Close ends the stream: the last INSERT, COMMIT, the restore line and the
// end marker with the row count, then the end of the zstd frame. It does not
// close the underlying writer. Call Close only when every row was written;
// on any failure call Abort instead, so the stream carries no end marker.
func (w *Writer) Close() error {
	if w.closed {
		if w.err != nil {
			return w.err
		}
		return ErrClosed
	}
	if w.open {
		// No end marker for a stream whose last row is half-written.
		w.release()
		w.err = errOpenRow
		return w.err
	}
	w.endStatement()
	tail := make([]byte, 0, len(CommitLine)+len(RestoreLine)+len(endPrefix)+32)
	tail = append(tail, CommitLine...)
	tail = append(tail, '\n')
	tail = append(tail, RestoreLine...)
	tail = append(tail, '\n')
	tail = appendEnd(tail, w.rows)
	tail = append(tail, '\n')
	w.write(tail)
	if w.err != nil {
		w.release()
		return w.err
	}
	w.closed = true
	if err := w.enc.Close(); err != nil {
		w.err = fmt.Errorf("finish dump stream: %w", err)
		return w.err
	}
	return nil
}

// appendEnd appends the end marker line, without the newline.
func appendEnd(dst []byte, rows int64) []byte {
	dst = append(dst, endPrefix...)
	dst = append(dst, " rows="...)
	return strconv.AppendInt(dst, rows, 10)
}

// Abort releases the compressor without writing COMMIT or the end marker,
// and without writing anything more to the underlying writer: whatever
// already reached it is an incomplete stream every reader rejects. Abort
// after Close does nothing.
func (w *Writer) Abort() error {
	if !w.closed {
		w.release()
	}
	return nil
}

// release drops the compressor's pending data and resources.
func (w *Writer) release() {
	w.closed = true
	w.enc.Reset(io.Discard)
	_ = w.enc.Close() // writes an empty frame to io.Discard
	w.stmt = nil
}

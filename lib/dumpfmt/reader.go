package dumpfmt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/backfill/backfill/lib/sqltext"
)

// The classes of stream errors. Every error a [Reader] returns is an *[Error]
// that wraps one of these; test with errors.Is.
var (
	ErrNotZstd     = errors.New("not a zstd stream")
	ErrNotDump     = errors.New("not a backfill dump")
	ErrVersion     = errors.New("unsupported dump format version")
	ErrHeader      = errors.New("invalid dump header")
	ErrIncomplete  = errors.New("incomplete stream: no end marker; the transfer was cut or the producer failed")
	ErrCorrupt     = errors.New("corrupt compressed data")
	ErrCount       = errors.New("row count mismatch")
	ErrTrailing    = errors.New("data after the end marker")
	ErrStatement   = errors.New("unexpected statement")
	ErrLineTooLong = errors.New("line too long")
)

// Error is a stream that failed validation.
type Error struct {
	Line   int64  // 1-based line of the decompressed text; 0 when not about one line
	Err    error  // the class: one of the Err* variables
	Detail string // what exactly is wrong, for people
	Cause  error  // the underlying error (from the decompressor), or nil
}

// Error returns "line N: class: detail: cause", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the class and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// Kind is the kind of a [Statement].
type Kind int

// The statement kinds, in stream order.
const (
	Settings Kind = iota + 1 // SaveLine, NamesLine, SettingsLine
	Insert                   // one multi-row INSERT
	Commit                   // CommitLine
	Restore                  // RestoreLine
)

// String returns the kind's lowercase name, e.g. "insert".
func (k Kind) String() string {
	switch k {
	case Settings:
		return "settings"
	case Insert:
		return "insert"
	case Commit:
		return "commit"
	case Restore:
		return "restore"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Statement is one statement of a stream. It and the slices in it are valid
// until the next call to Next.
type Statement struct {
	Kind Kind
	Text []byte // the whole line, semicolon included, newline excluded

	// For Insert statements only:
	Table   string   // the header's table
	Columns []string // the column list, the same for every INSERT; do not modify
	Values  []byte   // the tuples: "(..),(..)", without the semicolon
	Rows    int      // the number of tuples
}

// DefaultMaxLineBytes is the longest line a Reader accepts by default.
const DefaultMaxLineBytes = 1 << 30

// ReaderOptions configures a [Reader].
type ReaderOptions struct {
	// MaxLineBytes bounds the memory for one statement; 0 means
	// DefaultMaxLineBytes. A longer line is an error (ErrLineTooLong).
	MaxLineBytes int
}

// maxHeaderBytes bounds the first line, so that a compressed file that is
// not a dump is recognized without reading far.
const maxHeaderBytes = 64 << 10

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// The reader's position in the stream grammar: what the next line must be.
const (
	wantSave = iota
	wantNames
	wantSettings
	wantBody // INSERT or COMMIT
	wantRestore
	wantEnd
	done
)

// Reader reads and validates a dump stream statement by statement. It
// returns io.EOF only after the end marker was read, its row count matched
// the rows seen and nothing followed it; anything else ends in an *[Error].
type Reader struct {
	dec   *zstd.Decoder
	lines lineReader
	h     Header
	state int
	rows  int64
	err   error // sticky
	st    Statement

	prefix  []byte // the canonical INSERT prefix, set by the first INSERT
	columns []string
}

// NewReader reads and validates the header of the stream in r.
func NewReader(r io.Reader) (*Reader, error) {
	return NewReaderOptions(r, ReaderOptions{})
}

// NewReaderOptions is [NewReader] with options.
func NewReaderOptions(r io.Reader, o ReaderOptions) (*Reader, error) {
	maxLine := o.MaxLineBytes
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	src := &recordReader{r: r}
	br := bufio.NewReaderSize(src, 64<<10)
	magic, err := br.Peek(len(zstdMagic))
	if !bytes.Equal(magic, zstdMagic) {
		switch {
		case err != nil && err != io.EOF:
			return nil, &Error{Err: ErrIncomplete, Detail: "reading the stream", Cause: err}
		case len(magic) == 0:
			return nil, &Error{Err: ErrIncomplete, Detail: "the stream is empty"}
		case len(magic) < len(zstdMagic) && bytes.HasPrefix(zstdMagic, magic):
			return nil, &Error{Err: ErrIncomplete, Detail: fmt.Sprintf("the stream is only %d bytes long", len(magic))}
		}
		return nil, &Error{Err: ErrNotZstd, Detail: notZstdDetail(magic)}
	}
	dec, err := zstd.NewReader(br,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(128<<20)) // what the zstd command accepts by default
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	rd := &Reader{dec: dec}
	rd.lines = lineReader{r: dec, src: src, max: maxHeaderBytes}
	line, err := rd.lines.next()
	if err != nil {
		rd.Close()
		var e *Error
		switch {
		case errors.Is(err, ErrLineTooLong):
			return nil, &Error{Err: ErrNotDump, Detail: fmt.Sprintf("the first line is longer than %d bytes", maxHeaderBytes)}
		case errors.As(err, &e) && e.Err == ErrIncomplete && !looksLikeHeader(line):
			// A partial first line that cannot be the start of a header.
			return nil, &Error{Err: ErrNotDump, Detail: fmt.Sprintf("the stream starts with %q", clip(line))}
		}
		return nil, err
	}
	rd.h, err = parseHeader(line)
	if err != nil {
		rd.Close()
		return nil, err
	}
	rd.lines.max = maxLine
	rd.st.Table = rd.h.Table
	return rd, nil
}

// looksLikeHeader reports whether a partial first line could still grow
// into a header.
func looksLikeHeader(b []byte) bool {
	n := min(len(b), len(headerPrefix))
	return bytes.Equal(b[:n], []byte(headerPrefix)[:n])
}

func notZstdDetail(b []byte) string {
	switch {
	case bytes.HasPrefix([]byte(headerPrefix), b) || bytes.HasPrefix(b, []byte("--")) || bytes.HasPrefix(b, []byte("SET")) || bytes.HasPrefix(b, []byte("INSE")):
		return "it looks like uncompressed SQL text; backfill dumps are zstd-compressed (zstd -dc shows the text)"
	}
	return fmt.Sprintf("it starts with bytes % x, not the zstd magic 28 b5 2f fd", b)
}

// Header returns the stream's header.
func (r *Reader) Header() Header { return r.h }

// Rows returns the number of rows in the INSERT statements read so far.
func (r *Reader) Rows() int64 { return r.rows }

// errReaderClosed is returned by Next after Close.
var errReaderClosed = errors.New("dump reader is closed")

// Close releases the decompressor. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
		if r.err == nil {
			r.err = errReaderClosed
		}
	}
	return nil
}

func (r *Reader) fail(err error) (*Statement, error) {
	r.err = err
	return nil, err
}

func (r *Reader) unexpected(line []byte, want string) (*Statement, error) {
	return r.fail(&Error{Line: r.lines.n, Err: ErrStatement, Detail: fmt.Sprintf("%q where the stream must have %s", clip(line), want)})
}

// Next returns the next statement, or io.EOF after a valid end marker.
func (r *Reader) Next() (*Statement, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.state == done {
		return nil, io.EOF
	}
	line, err := r.lines.next()
	if err != nil {
		return r.fail(err)
	}
	st := &r.st
	st.Text = line
	st.Values, st.Rows = nil, 0
	switch r.state {
	case wantSave, wantNames, wantSettings:
		want := [...]string{SaveLine, NamesLine, SettingsLine}[r.state]
		if string(line) != want {
			return r.unexpected(line, "the session settings of a v1 dump ("+clip([]byte(want))+")")
		}
		st.Kind = Settings
		r.state++
		return st, nil
	case wantBody:
		if string(line) == CommitLine {
			st.Kind = Commit
			r.state = wantRestore
			return st, nil
		}
		return r.insert(line)
	case wantRestore:
		if string(line) != RestoreLine {
			return r.unexpected(line, "the restore line after COMMIT")
		}
		st.Kind = Restore
		r.state = wantEnd
		return st, nil
	case wantEnd:
		if err := r.end(line); err != nil {
			return r.fail(err)
		}
		r.state = done
		return nil, io.EOF
	}
	return r.fail(fmt.Errorf("dumpfmt: reader in unknown state %d", r.state))
}

// insert validates one INSERT line.
func (r *Reader) insert(line []byte) (*Statement, error) {
	if r.prefix == nil {
		if err := r.firstInsert(line); err != nil {
			return r.fail(err)
		}
	}
	if !bytes.HasPrefix(line, r.prefix) {
		if bytes.HasPrefix(line, []byte("INSERT INTO ")) {
			want := "INSERT INTO " + sqltext.QuoteIdent(r.h.Table) + " with the same columns as the first INSERT"
			return r.unexpected(line, want)
		}
		if bytes.HasPrefix(line, []byte(endPrefix)) {
			return r.unexpected(line, "COMMIT before the end marker")
		}
		return r.unexpected(line, "an INSERT or COMMIT")
	}
	if line[len(line)-1] != ';' || len(line) == len(r.prefix)+1 {
		return r.fail(&Error{Line: r.lines.n, Err: ErrStatement, Detail: "an INSERT must end with its last tuple and a semicolon"})
	}
	values := line[len(r.prefix) : len(line)-1]
	n, err := countTuples(values, len(r.columns))
	if err != nil {
		return r.fail(&Error{Line: r.lines.n, Err: ErrStatement, Detail: err.Error()})
	}
	r.rows += int64(n)
	st := &r.st
	st.Kind = Insert
	st.Columns = r.columns
	st.Values = values
	st.Rows = n
	return st, nil
}

// firstInsert parses the first INSERT's prefix and remembers it; every INSERT
// of the stream must start with the same bytes.
func (r *Reader) firstInsert(line []byte) error {
	bad := func(msg string) error {
		return &Error{Line: r.lines.n, Err: ErrStatement, Detail: fmt.Sprintf("%q: %s", clip(line), msg)}
	}
	rest, ok := bytes.CutPrefix(line, []byte("INSERT INTO "))
	if !ok {
		if bytes.HasPrefix(line, []byte(endPrefix)) {
			return bad("the end marker must follow COMMIT")
		}
		return bad("want an INSERT or COMMIT")
	}
	table, n, err := parseIdent(rest)
	if err != nil {
		return bad("table name: " + err.Error())
	}
	if table != r.h.Table {
		return bad(fmt.Sprintf("INSERT INTO %s, but the header says table %s", sqltext.QuoteIdent(table), sqltext.QuoteIdent(r.h.Table)))
	}
	rest = rest[n:]
	if rest, ok = bytes.CutPrefix(rest, []byte(" (")); !ok {
		return bad("want a column list after the table name")
	}
	var cols []string
	for {
		c, n, err := parseIdent(rest)
		if err != nil {
			return bad(fmt.Sprintf("column %d: %v", len(cols)+1, err))
		}
		cols = append(cols, c)
		rest = rest[n:]
		if len(rest) > 0 && rest[0] == ',' {
			rest = rest[1:]
			continue
		}
		break
	}
	if !bytes.HasPrefix(rest, []byte(") VALUES ")) {
		return bad("want ) VALUES after the column list")
	}
	prefix := []byte("INSERT INTO ")
	prefix = sqltext.AppendIdent(prefix, table)
	prefix = append(prefix, " ("...)
	for i, c := range cols {
		if i > 0 {
			prefix = append(prefix, ',')
		}
		prefix = sqltext.AppendIdent(prefix, c)
	}
	prefix = append(prefix, ") VALUES "...)
	r.prefix, r.columns = prefix, cols
	return nil
}

// parseIdent parses a backquoted identifier (backticks doubled inside) at
// the start of b.
func parseIdent(b []byte) (name string, n int, err error) {
	if len(b) == 0 || b[0] != '`' {
		return "", 0, errors.New("want a backquoted identifier")
	}
	var s []byte
	for i := 1; i < len(b); {
		j := bytes.IndexByte(b[i:], '`')
		if j < 0 {
			break
		}
		s = append(s, b[i:i+j]...)
		i += j + 1
		if i < len(b) && b[i] == '`' {
			s = append(s, '`')
			i++
			continue
		}
		name = string(s)
		if err := checkName(name); err != nil {
			return "", 0, err
		}
		return name, i, nil
	}
	return "", 0, errors.New("unterminated identifier")
}

// countTuples checks "(lit,...),(lit,...)" with ncols literals per tuple and
// returns the number of tuples.
func countTuples(v []byte, ncols int) (int, error) {
	rows, i := 0, 0
	for {
		if i >= len(v) || v[i] != '(' {
			return 0, fmt.Errorf("tuple %d: want ( at byte %d of the values", rows+1, i)
		}
		i++
		for c := range ncols {
			if c > 0 {
				if i >= len(v) || v[i] != ',' {
					return 0, fmt.Errorf("tuple %d: want %d values, found %d", rows+1, ncols, c)
				}
				i++
			}
			n, err := sqltext.SkipLiteral(v[i:])
			if err != nil {
				return 0, fmt.Errorf("tuple %d, value %d: %w", rows+1, c+1, err)
			}
			i += n
		}
		if i >= len(v) || v[i] != ')' {
			return 0, fmt.Errorf("tuple %d: want ) after %d values at byte %d of the values", rows+1, ncols, i)
		}
		i++
		rows++
		if i == len(v) {
			return rows, nil
		}
		if v[i] != ',' {
			return 0, fmt.Errorf("after tuple %d: want , or the end of the statement at byte %d of the values", rows, i)
		}
		i++
	}
}

// end validates the end marker and that nothing follows it.
func (r *Reader) end(line []byte) error {
	rest, ok := bytes.CutPrefix(line, []byte(endPrefix))
	if !ok || (len(rest) > 0 && rest[0] != ' ') {
		return &Error{Line: r.lines.n, Err: ErrStatement, Detail: fmt.Sprintf("%q where the end marker must be", clip(line))}
	}
	var count int64 = -1
	err := parsePairs(string(rest), func(k, v string) error {
		if k != "rows" {
			return nil // later versions may add keys
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
			return fmt.Errorf("rows=%q is not a row count", v)
		}
		count = n
		return nil
	})
	if err == nil && count < 0 {
		err = errors.New("the end marker has no rows=")
	}
	if err != nil {
		return &Error{Line: r.lines.n, Err: ErrStatement, Detail: err.Error()}
	}
	if count != r.rows {
		return &Error{Line: r.lines.n, Err: ErrCount, Detail: fmt.Sprintf("the end marker says %d rows, the stream holds %d", count, r.rows)}
	}
	return r.lines.atEOF()
}

// Verify reads the whole stream in r and checks it, returning its header and
// row count. bf-fetch uses it before renaming a download into place.
func Verify(r io.Reader) (Header, int64, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, 0, err
	}
	defer rd.Close()
	for {
		if _, err := rd.Next(); err != nil {
			if err == io.EOF {
				return rd.Header(), rd.Rows(), nil
			}
			return rd.Header(), rd.Rows(), err
		}
	}
}

// lineReader splits decompressed text into lines, with a buffer that grows
// to the longest line (up to max) instead of bufio.Scanner's fixed 64 KiB.
type lineReader struct {
	r          io.Reader
	src        *recordReader // the compressed input, to tell I/O errors from corrupt data
	max        int
	buf        []byte
	start, end int   // unread bytes are buf[start:end]
	err        error // the read error that stopped the input, io.EOF included
	n          int64 // lines returned so far
}

const (
	minLineBuffer = 256 << 10
	// keepLineBuffer is the largest buffer kept once the long line that
	// needed it is gone.
	keepLineBuffer = 64 << 20
)

// next returns the next line without its newline. The line is valid until
// the next call. A last line without a newline is an ErrIncomplete.
func (l *lineReader) next() ([]byte, error) {
	if len(l.buf) > keepLineBuffer && l.end-l.start < minLineBuffer {
		nb := make([]byte, minLineBuffer)
		l.end = copy(nb, l.buf[l.start:l.end])
		l.start, l.buf = 0, nb
	}
	off := 0 // buf[start:start+off] is known to hold no newline
	for {
		if i := bytes.IndexByte(l.buf[l.start+off:l.end], '\n'); i >= 0 {
			j := l.start + off + i
			if j-l.start > l.max {
				return nil, l.tooLong()
			}
			line := l.buf[l.start:j]
			l.start = j + 1
			l.n++
			return line, nil
		}
		off = l.end - l.start
		if off > l.max {
			return nil, l.tooLong()
		}
		if l.err != nil {
			partial := l.buf[l.start:l.end]
			if l.err == io.EOF {
				if len(partial) == 0 {
					return nil, &Error{Err: ErrIncomplete, Detail: fmt.Sprintf("the stream ends after line %d", l.n)}
				}
				return partial, &Error{Err: ErrIncomplete, Detail: fmt.Sprintf("the stream ends in the middle of line %d", l.n+1)}
			}
			return partial, l.decodeError()
		}
		l.fill()
	}
}

func (l *lineReader) tooLong() error {
	return &Error{Line: l.n + 1, Err: ErrLineTooLong, Detail: fmt.Sprintf("longer than the limit of %d bytes", l.max)}
}

// fill reads more input after moving the unread bytes to the front of the
// buffer, growing it when they fill it.
func (l *lineReader) fill() {
	if l.start > 0 {
		l.end = copy(l.buf, l.buf[l.start:l.end])
		l.start = 0
	}
	if l.end == len(l.buf) {
		size := min(max(2*len(l.buf), minLineBuffer), l.max+1)
		if size <= len(l.buf) {
			size = len(l.buf) + minLineBuffer
		}
		nb := make([]byte, size)
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	n, err := l.r.Read(l.buf[l.end:])
	l.end += n
	if err != nil {
		l.err = err
	}
}

// atEOF checks that no byte follows what was read.
func (l *lineReader) atEOF() error {
	for l.start == l.end && l.err == nil {
		l.fill()
	}
	if l.start < l.end {
		return &Error{Line: l.n + 1, Err: ErrTrailing, Detail: fmt.Sprintf("%q", clip(l.buf[l.start:l.end]))}
	}
	if l.err == io.EOF {
		return nil
	}
	if l.src.err == nil && errors.Is(l.err, zstd.ErrMagicMismatch) {
		return &Error{Err: ErrTrailing, Detail: "bytes that are not zstd follow the stream", Cause: l.err}
	}
	return l.decodeError()
}

// decodeError classifies the error that stopped the decompressor: the
// input could not be read to its end (a cut transfer), it ended early, or it
// is not valid zstd data.
func (l *lineReader) decodeError() error {
	switch {
	case l.src != nil && l.src.err != nil:
		return &Error{Err: ErrIncomplete, Detail: fmt.Sprintf("reading the stream failed after line %d", l.n), Cause: l.src.err}
	case errors.Is(l.err, io.ErrUnexpectedEOF):
		return &Error{Err: ErrIncomplete, Detail: fmt.Sprintf("the compressed data ends in the middle of a block, after line %d", l.n), Cause: l.err}
	}
	return &Error{Err: ErrCorrupt, Detail: fmt.Sprintf("after line %d", l.n), Cause: l.err}
}

// recordReader remembers the first error other than io.EOF of the reader it
// wraps.
type recordReader struct {
	r   io.Reader
	err error
}

func (r *recordReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

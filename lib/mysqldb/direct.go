package mysqldb

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A direct query reads a SELECT's rows off the connection's socket itself,
// for bf-dump's one big read. Through the driver, every column of every row
// becomes a driver.Value: a []byte boxed in an allocation of its own, and
// integers parsed to int64 only to be printed again. On a million rows of
// eleven columns that was a fifth of bf-dump's CPU (scripts/bench-dump).
// A direct query hands over each value as the bytes the server sent, which
// is what the literal encoder reads anyway.
//
// It speaks the part of the client/server protocol a text result needs
// (COM_QUERY, the result set, the end and error packets) on a connection
// the driver opened and authenticated, and leaves it as the driver expects
// the next command to find it: every packet of the result read, the next
// sequence number 0. It works only where the bytes on the socket are the
// protocol itself: not under TLS, not with compression. Direct returns nil
// there, and the caller reads through the driver.

// The capability flags the direct reader looks at.
const (
	capMySQL           = 1 << 0 // clear on a MariaDB handshake: extended capabilities follow
	capCompress        = 1 << 5
	capProtocol41      = 1 << 9
	capSSL             = 1 << 11
	capSessionTrack    = 1 << 23
	capDeprecateEOF    = 1 << 24
	capQueryAttributes = 1 << 27 // MySQL 8: COM_QUERY carries attributes

	// capKnown is every flag that leaves a text result's framing as the
	// direct reader expects it: bits 0 to 22 (the 4.1 protocol, auth,
	// transactions, multi-results, connect attributes...) but compression
	// and TLS, and DEPRECATE_EOF, which it handles. A client that settled
	// on any other (session tracking, optional metadata, query attributes,
	// flags not yet invented) reads through the driver.
	capKnown = (1<<23-1)&^(capCompress|capSSL) | capDeprecateEOF

	extCacheMetadata = 1 << 4 // MariaDB: a result's column count is followed by a "metadata follows" byte

	statusMoreResults = 0x0008 // SERVER_MORE_RESULTS_EXISTS
)

// maxPayload is the largest payload of one packet; a longer one continues
// in the next.
const maxPayload = 1<<24 - 1

// handshake records the capabilities the client settled on, read from the
// first packet it writes (the handshake response, or the SSL request that
// precedes TLS), both of which start with them.
type handshake struct {
	seen     bool
	caps     uint32
	extCaps  uint32 // MariaDB's extended capabilities, when caps lacks capMySQL
	complete bool   // the packet was long enough to hold both
}

func (h *handshake) record(p []byte) {
	h.seen = true
	if len(p) < 8 {
		return
	}
	h.caps = binary.LittleEndian.Uint32(p[4:8])
	if h.caps&capMySQL != 0 {
		h.complete = true
		return
	}
	// capabilities 4, max packet 4, collation 1, filler 19, extended 4.
	if len(p) >= 4+32 {
		h.extCaps = binary.LittleEndian.Uint32(p[4+28 : 4+32])
		h.complete = true
	}
}

// direct reports whether the connection's bytes are the plain protocol the
// direct reader speaks.
func (h *handshake) direct() bool {
	return h.complete &&
		h.caps&capProtocol41 != 0 &&
		h.caps&^capKnown == 0 &&
		h.extCaps&^extCacheMetadata == 0
}

// Write sends p, and notes what the direct reader needs from it: the
// capabilities in the client's first packet, and a claim query (below).
func (c *bufferedConn) Write(p []byte) (int, error) {
	if !c.hs.seen {
		c.hs.record(p)
	}
	if claims.pending.Load() > 0 && len(p) > 5 && p[4] == comQuery {
		claims.offer(p[5:], c)
	}
	return c.Conn.Write(p)
}

const comQuery = 0x03

// claims pairs a driver connection with the bufferedConn under it: the
// caller runs a query holding a random token through the driver, and the
// bufferedConn that writes it is the one. The driver's connection does not
// expose its socket; this finds it without reaching into the driver.
var claims = &claimSet{m: map[string]*bufferedConn{}}

type claimSet struct {
	pending atomic.Int32 // claims waiting: Write looks only when there are
	mu      sync.Mutex
	m       map[string]*bufferedConn // claim query -> the connection that wrote it
}

// offer records c as the writer of query if query is a pending claim.
func (cl *claimSet) offer(query []byte, c *bufferedConn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if prev, ok := cl.m[string(query)]; ok && prev == nil {
		cl.m[string(query)] = c
	}
}

// DirectConn runs direct queries on one connection. It is valid inside the
// sql.Conn.Raw call that made it.
type DirectConn struct {
	c *bufferedConn
}

// Direct returns a DirectConn for dc, a driver connection handed over by
// sql.Conn.Raw on a pool opened by this package, or nil when its bytes do
// not travel as the plain protocol (TLS, compression, a connection this
// package did not dial) or its DSN sets readTimeout: read through the
// driver then. It runs one statement that does nothing (DO 0) to find dc's
// socket; an error is that statement's.
func Direct(ctx context.Context, dc any) (*DirectConn, error) {
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		return nil, nil
	}
	var token [16]byte
	_, _ = rand.Read(token[:])
	query := "DO 0 /* backfill: direct read " + hex.EncodeToString(token[:]) + " */"
	claims.mu.Lock()
	claims.m[query] = nil
	claims.mu.Unlock()
	claims.pending.Add(1)
	defer func() {
		claims.pending.Add(-1)
		claims.mu.Lock()
		delete(claims.m, query)
		claims.mu.Unlock()
	}()
	if _, err := ex.ExecContext(ctx, query, nil); err != nil {
		return nil, err
	}
	claims.mu.Lock()
	c := claims.m[query]
	claims.mu.Unlock()
	if c == nil || c.noDirect || !c.hs.direct() {
		return nil, nil
	}
	return &DirectConn{c: c}, nil
}

// ErrMalformed is a reply that does not follow the protocol.
var ErrMalformed = errors.New("malformed packet from the server")

// DirectRows is the result of a direct query.
type DirectRows struct {
	c       *bufferedConn
	r       *bufio.Reader
	seq     byte
	columns int
	consume int    // bytes of the last packet still in the buffer
	big     []byte // a packet too long for the buffer, or split in several
	done    bool
	err     error // the failure, returned by every later Next
	stop    func() bool
	ctx     context.Context
}

// Query sends query and reads the result's header: the column count
// (which must be columns) and the column definitions. Read the rows with
// Next until it returns io.EOF. After any error the connection is in an
// unknown state: abandon it (return driver.ErrBadConn from Raw). When ctx
// ends, a read in progress fails.
func (d *DirectConn) Query(ctx context.Context, query string, columns int) (*DirectRows, error) {
	if 1+len(query) >= maxPayload {
		return nil, fmt.Errorf("direct query: the statement is %d bytes, more than one packet holds", len(query))
	}
	rows := &DirectRows{c: d.c, r: d.c.r, columns: columns, ctx: ctx}
	// A read deadline in the past breaks the read in progress. Writes stay
	// possible: the driver says goodbye (COM_QUIT) when the connection is
	// abandoned.
	rows.stop = context.AfterFunc(ctx, func() {
		_ = d.c.Conn.SetReadDeadline(time.Unix(1, 0))
	})
	pkt := make([]byte, 5+len(query))
	n := 1 + len(query)
	pkt[0], pkt[1], pkt[2], pkt[3], pkt[4] = byte(n), byte(n>>8), byte(n>>16), 0, comQuery
	copy(pkt[5:], query)
	if _, err := d.c.Conn.Write(pkt); err != nil {
		return nil, rows.fail(err)
	}
	rows.seq = 1

	p, err := rows.packet()
	if err != nil {
		return nil, err
	}
	switch p[0] {
	case 0xff:
		return nil, rows.fail(serverError(p))
	case 0x00:
		return nil, rows.fail(errors.New("direct query: the statement returned no rows"))
	case 0xfb:
		return nil, rows.fail(errors.New("direct query: the server asked for a local file"))
	}
	count, n, ok := lenencInt(p)
	if !ok {
		return nil, rows.fail(ErrMalformed)
	}
	if d.c.hs.extCaps&extCacheMetadata != 0 && (len(p) <= n || p[n] != 1) {
		return nil, rows.fail(errors.New("direct query: the server sent no column definitions"))
	}
	if count != uint64(columns) {
		return nil, rows.fail(fmt.Errorf("direct query: the statement returned %d columns, want %d", count, columns))
	}
	for range columns {
		if _, err := rows.packet(); err != nil {
			return nil, err
		}
	}
	if d.c.hs.caps&capDeprecateEOF == 0 {
		p, err := rows.packet()
		if err != nil {
			return nil, err
		}
		if p[0] != 0xfe {
			return nil, rows.fail(ErrMalformed)
		}
	}
	return rows, nil
}

// Next fills vals, which must have one element per column, with the next
// row: each value as the server sent it in the text protocol, nil for
// NULL. The values are valid until the next call. At the end of the rows
// it returns io.EOF, and the connection is ready for its next command.
func (r *DirectRows) Next(vals [][]byte) error {
	if r.err != nil {
		return r.err
	}
	if r.done {
		return io.EOF
	}
	p, err := r.packet()
	if err != nil {
		return err
	}
	switch {
	case p[0] == 0xfe && len(p) < maxPayload:
		// The end: an EOF packet, or an OK packet headed 0xfe. A row
		// starting with 0xfe would hold a value of more than 16 MiB.
		status, ok := endStatus(p, r.c.hs.caps&capDeprecateEOF != 0)
		if !ok {
			return r.fail(ErrMalformed)
		}
		if status&statusMoreResults != 0 {
			// Another result would follow, which the driver's next
			// command would misread: multi-statements are off, so this
			// is not the statement it was given.
			return r.fail(errors.New("direct query: the server announced more results"))
		}
		r.done = true
		if !r.finish() {
			// The context ended as the rows did: its deadline may
			// already break the connection's next read.
			return context.Cause(r.ctx)
		}
		return io.EOF
	case p[0] == 0xff:
		return r.fail(serverError(p))
	}
	pos := 0
	for i := range vals {
		if pos >= len(p) {
			return r.fail(ErrMalformed)
		}
		if p[pos] == 0xfb {
			vals[i] = nil
			pos++
			continue
		}
		n, w, ok := lenencInt(p[pos:])
		if !ok || n > uint64(len(p)-pos-w) {
			return r.fail(ErrMalformed)
		}
		pos += w
		vals[i] = p[pos : pos+int(n) : pos+int(n)]
		pos += int(n)
	}
	if pos != len(p) || len(vals) != r.columns {
		return r.fail(ErrMalformed)
	}
	return nil
}

// Close stops watching the context. It does not read the rest of the rows:
// a connection closed before io.EOF must be abandoned.
func (r *DirectRows) Close() {
	r.finish()
}

// endStatus returns the server status flags of the packet that ends the
// rows: an EOF packet (0xfe, warnings, status), or with DEPRECATE_EOF an
// OK packet headed 0xfe (affected rows and insert id, length-encoded, then
// status).
func endStatus(p []byte, okPacket bool) (uint16, bool) {
	pos := 1
	if okPacket {
		for range 2 {
			_, n, ok := lenencInt(p[pos:])
			if !ok {
				return 0, false
			}
			pos += n
		}
	} else {
		pos += 2 // warnings
	}
	if len(p) < pos+2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(p[pos:]), true
}

// finish releases the last packet and stops watching the context. It
// reports false when the context ended first.
func (r *DirectRows) finish() bool {
	if r.consume > 0 {
		_, _ = r.r.Discard(r.consume)
		r.consume = 0
	}
	ok := true
	if r.stop != nil {
		ok = r.stop()
		r.stop = nil
	}
	return ok
}

// packet returns the next packet's payload, valid until the next call.
func (r *DirectRows) packet() ([]byte, error) {
	if r.consume > 0 {
		if _, err := r.r.Discard(r.consume); err != nil {
			return nil, r.fail(err)
		}
		r.consume = 0
	}
	size, err := r.header()
	if err != nil {
		return nil, err
	}
	if size < maxPayload && 4+size <= r.r.Size() {
		b, err := r.r.Peek(4 + size)
		if err != nil {
			return nil, r.fail(err)
		}
		r.consume = 4 + size
		if size == 0 {
			return nil, r.fail(ErrMalformed)
		}
		return b[4:], nil
	}
	// Long: read it whole into big, following continuation packets.
	r.big = r.big[:0]
	for {
		if _, err := r.r.Discard(4); err != nil {
			return nil, r.fail(err)
		}
		n := len(r.big)
		r.big = slices.Grow(r.big, size)[:n+size]
		if _, err := io.ReadFull(r.r, r.big[n:]); err != nil {
			return nil, r.fail(err)
		}
		if size < maxPayload {
			break
		}
		if size, err = r.header(); err != nil {
			return nil, err
		}
	}
	if len(r.big) == 0 {
		return nil, r.fail(ErrMalformed)
	}
	return r.big, nil
}

// header peeks at the next packet's header, checks its sequence number and
// returns its payload size; the header stays in the buffer.
func (r *DirectRows) header() (int, error) {
	h, err := r.r.Peek(4)
	if err != nil {
		return 0, r.fail(err)
	}
	size := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if h[3] != r.seq {
		// An error packet says more than the wrong number (the driver
		// reads it too).
		if size > 0 && size < maxPayload && 4+size <= r.r.Size() {
			if p, err := r.r.Peek(4 + size); err == nil && p[4] == 0xff {
				return 0, r.fail(serverError(p[4:]))
			}
		}
		return 0, r.fail(fmt.Errorf("%w: sequence number %d, want %d", ErrMalformed, h[3], r.seq))
	}
	r.seq++
	return size, nil
}

// fail ends the query with err, or with the context's cause when the
// context ended (its deadline broke the read).
func (r *DirectRows) fail(err error) error {
	r.done = true
	r.finish()
	switch {
	case r.ctx.Err() != nil:
		err = context.Cause(r.ctx)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = ErrConnectionClosed
	}
	r.err = err
	return err
}

// ErrConnectionClosed is a connection that ended in the middle of a
// result: the server was stopped, the connection killed or the network cut.
var ErrConnectionClosed = errors.New("the connection to the database server closed in the middle of the result (server restarted, connection killed or network cut)")

// lenencInt reads a length-encoded integer at the start of p and returns
// it with its width.
func lenencInt(p []byte) (v uint64, n int, ok bool) {
	if len(p) == 0 {
		return 0, 0, false
	}
	switch c := p[0]; {
	case c < 0xfb:
		return uint64(c), 1, true
	case c == 0xfc && len(p) >= 3:
		return uint64(p[1]) | uint64(p[2])<<8, 3, true
	case c == 0xfd && len(p) >= 4:
		return uint64(p[1]) | uint64(p[2])<<8 | uint64(p[3])<<16, 4, true
	case c == 0xfe && len(p) >= 9:
		return binary.LittleEndian.Uint64(p[1:9]), 9, true
	}
	return 0, 0, false
}

// serverError decodes an error packet into the driver's error type, so
// that Explain and IsError treat it like any other.
func serverError(p []byte) error {
	if len(p) < 3 {
		return ErrMalformed
	}
	e := &mysql.MySQLError{Number: binary.LittleEndian.Uint16(p[1:3])}
	msg := p[3:]
	if len(msg) >= 6 && msg[0] == '#' {
		copy(e.SQLState[:], msg[1:6])
		msg = msg[6:]
	}
	e.Message = string(msg)
	return e
}

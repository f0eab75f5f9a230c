package mysqldb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// countingConn counts the reads that reach the connection.
type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.Conn.Read(p)
}

// TestBufferedConn_FewReads: the driver's 4 KiB reads of a 1 MiB reply
// reach the socket as a handful of large reads, and every byte arrives in
// order.
func TestBufferedConn_FewReads(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	go func() {
		_, _ = server.Write(want)
		server.Close()
	}()
	cc := &countingConn{Conn: client}
	bc := newBufferedConn(cc)
	var got []byte
	buf := make([]byte, 4096) // the driver's read size
	for {
		n, err := bc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if max := len(want)/readBufferSize + 2; cc.reads > max {
		t.Errorf("%d reads of the connection for %d bytes, want at most %d", cc.reads, len(want), max)
	}
}

// TestBufferedConn_LivenessCheck: the driver's check of an idle connection
// sees the socket, and fails a connection whose buffer holds unread bytes.
func TestBufferedConn_LivenessCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := dial(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("no connection accepted")
	}
	defer peer.Close()
	bc := c
	if _, err := bc.SyscallConn(); err != nil {
		t.Fatalf("idle connection: SyscallConn: %v", err)
	}
	if _, err := peer.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(bc, b); err != nil {
		t.Fatal(err)
	}
	// One byte read, the rest waits in the buffer (or is on its way).
	for bc.r.Buffered() == 0 {
		if _, err := bc.r.Peek(1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bc.SyscallConn(); !errors.Is(err, errUnreadData) {
		t.Errorf("connection with unread data: SyscallConn error %v, want %v", err, errUnreadData)
	}
}

// TestHandshake_Direct: direct queries only where the client settled on
// the plain protocol the direct reader speaks.
func TestHandshake_Direct(t *testing.T) {
	const plain = capProtocol41 | capDeprecateEOF | 1<<13 | 1<<15 // + transactions, secure connection
	packet := func(caps, ext uint32, size int) []byte {
		p := make([]byte, 4+size)
		if size >= 4 {
			binary.LittleEndian.PutUint32(p[4:], caps)
		}
		if size >= 32 {
			binary.LittleEndian.PutUint32(p[4+28:], ext)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"MariaDB", packet(plain, extCacheMetadata, 32), true},
		{"MariaDB without deprecate-EOF", packet(plain&^capDeprecateEOF, 0, 32), true},
		{"MySQL", packet(plain|capMySQL, 0, 32), true},
		{"TLS", packet(plain|capSSL, 0, 32), false},
		{"compression", packet(plain|capCompress, 0, 32), false},
		{"query attributes", packet(plain|capMySQL|capQueryAttributes, 0, 32), false},
		{"session tracking", packet(plain|capSessionTrack, 0, 32), false},
		{"optional result set metadata", packet(plain|capMySQL|1<<25, 0, 32), false},
		{"MariaDB progress reports", packet(plain, extCacheMetadata|1, 32), false},
		{"protocol 3.20", packet(capMySQL, 0, 32), false},
		{"MariaDB packet too short for the extended capabilities", packet(plain, 0, 8), false},
		{"no capabilities", packet(0, 0, 2), false},
	} {
		var h handshake
		h.record(tc.p)
		if got := h.direct(); got != tc.want {
			t.Errorf("%s: direct() = %v, want %v", tc.name, got, tc.want)
		}
	}
	var none handshake
	if none.direct() {
		t.Error("direct() before the handshake")
	}
}

// wire builds a server's reply packet by packet.
type wire struct {
	b   []byte
	seq byte
}

// packet appends payload as one packet, or as several when it is
// maxPayload bytes or longer (then ending with a shorter, maybe empty, one).
func (w *wire) packet(payload ...byte) *wire {
	for {
		n := min(len(payload), maxPayload)
		w.b = append(w.b, byte(n), byte(n>>8), byte(n>>16), w.seq)
		w.seq++
		w.b = append(w.b, payload[:n]...)
		payload = payload[n:]
		if n < maxPayload {
			return w
		}
	}
}

// row is a text-protocol row: each value length-encoded, nil as NULL.
func row(vals ...[]byte) []byte {
	var p []byte
	for _, v := range vals {
		switch n := len(v); {
		case v == nil:
			p = append(p, 0xfb)
		case n < 0xfb:
			p = append(p, byte(n))
		case n < 1<<16:
			p = append(p, 0xfc, byte(n), byte(n>>8))
		case n < 1<<24:
			p = append(p, 0xfd, byte(n), byte(n>>8), byte(n>>16))
		default:
			p = append(p, 0xfe)
			p = binary.LittleEndian.AppendUint64(p, uint64(n))
		}
		p = append(p, v...)
	}
	return p
}

// header is a result's column count and definitions, and the EOF packet
// that follows them when the client did not settle on DEPRECATE_EOF.
func (w *wire) header(h handshake, columns int) *wire {
	count := []byte{byte(columns)}
	if h.extCaps&extCacheMetadata != 0 {
		count = append(count, 1)
	}
	w.packet(count...)
	for range columns {
		w.packet([]byte("\x03def\x00\x01t\x01t\x01c\x01c\x0c\x21\x00\xff\x00\x00\x00\xfd\x00\x00\x00\x00\x00")...)
	}
	if h.caps&capDeprecateEOF == 0 {
		w.packet(0xfe, 0, 0, 2, 0)
	}
	return w
}

// end is the packet after the last row, with the status flags given.
func (w *wire) end(h handshake, status uint16) *wire {
	if h.caps&capDeprecateEOF == 0 {
		return w.packet(0xfe, 0, 0, byte(status), byte(status>>8))
	}
	return w.packet(0xfe, 0, 0, byte(status), byte(status>>8), 0, 0)
}

// fakeQuery runs a direct query against a server that answers reply (and
// then closes the connection), and returns the values read, NULL as
// "<NULL>", with the first error (io.EOF at a clean end).
func fakeQuery(t *testing.T, h handshake, reply []byte, columns int) ([]string, error) {
	t.Helper()
	rows, err := fakeRows(t, h, reply, columns)
	var got []string
	for _, row := range rows {
		for _, v := range row {
			if v == nil {
				got = append(got, "<NULL>")
			} else {
				got = append(got, string(v))
			}
		}
	}
	return got, err
}

// fakeRows is fakeQuery returning the rows, each value copied, nil for
// NULL.
func fakeRows(t *testing.T, h handshake, reply []byte, columns int) ([][][]byte, error) {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(server, hdr); err != nil {
			return
		}
		if _, err := io.ReadFull(server, make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)); err != nil {
			return
		}
		_, _ = server.Write(reply)
	}()
	bc := newBufferedConn(client)
	bc.hs = h
	rows, err := (&DirectConn{c: bc}).Query(t.Context(), "SELECT c FROM t", columns)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got [][][]byte
	vals := make([][]byte, columns)
	for {
		if err := rows.Next(vals); err != nil {
			if again := rows.Next(vals); again != err {
				t.Errorf("Next after %v returned %v", err, again)
			}
			return got, err
		}
		row := make([][]byte, columns)
		for i, v := range vals {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		got = append(got, row)
	}
}

// TestDirectRows_Framing: the direct reader against crafted replies, for
// what a real server sends rarely or not to this client: EOF packets
// without DEPRECATE_EOF, packets at and over 16 MiB, a row that starts
// with 0xfe, wrong sequence numbers, a cut, more results announced.
func TestDirectRows_Framing(t *testing.T) {
	mariadb := handshake{seen: true, complete: true, caps: capProtocol41 | capDeprecateEOF, extCaps: extCacheMetadata}
	old := handshake{seen: true, complete: true, caps: capProtocol41 | capMySQL}
	exact := bytes.Repeat([]byte{'x'}, maxPayload-4) // with its 4-byte length: one full packet
	huge := bytes.Repeat([]byte{'y'}, 1<<24)         // a 9-byte length: the row starts with 0xfe
	for _, tc := range []struct {
		name    string
		h       handshake
		reply   func(h handshake) *wire
		columns int
		want    []string
		err     string
	}{
		{"EOF packets", old, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 2).packet(row([]byte("a"), nil)...).packet(row([]byte{}, []byte("b"))...).end(h, 2)
		}, 2, []string{"a", "<NULL>", "", "b"}, "EOF"},
		{"OK packet and metadata byte", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row([]byte("a"))...).end(h, 2)
		}, 1, []string{"a"}, "EOF"},
		{"no rows", mariadb, func(h handshake) *wire { return (&wire{seq: 1}).header(h, 1).end(h, 2) }, 1, nil, "EOF"},
		{"a row of exactly 16 MiB - 1 bytes and the empty packet after it", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row(exact)...).packet(row([]byte("z"))...).end(h, 2)
		}, 1, []string{string(exact), "z"}, "EOF"},
		{"a row starting with 0xfe", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 2).packet(row(huge, []byte("t"))...).end(h, 2)
		}, 2, []string{string(huge), "t"}, "EOF"},
		{"a packet longer than the read buffer", old, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row(exact[:readBufferSize+1])...).end(h, 2)
		}, 1, []string{string(exact[:readBufferSize+1])}, "EOF"},
		{"an error after a row", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row([]byte("a"))...).packet(append([]byte{0xff, 0x1e, 0x05, '#', '7', '0', '1', '0', '0'}, "Query execution was interrupted"...)...)
		}, 1, []string{"a"}, "Error 1310 (70100): Query execution was interrupted"},
		{"an error with the wrong sequence number", mariadb, func(h handshake) *wire {
			w := (&wire{seq: 1}).header(h, 1)
			w.seq += 3
			return w.packet(append([]byte{0xff, 0x1e, 0x05, '#', '7', '0', '1', '0', '0'}, "killed"...)...)
		}, 1, nil, "killed"},
		{"a row with the wrong sequence number", mariadb, func(h handshake) *wire {
			w := (&wire{seq: 1}).header(h, 1)
			w.seq++
			return w.packet(row([]byte("a"))...).end(h, 2)
		}, 1, nil, "sequence number"},
		{"a cut inside a row", mariadb, func(h handshake) *wire {
			w := (&wire{seq: 1}).header(h, 1).packet(row([]byte("a"))...).packet(row([]byte("bcdef"))...)
			w.b = w.b[:len(w.b)-2]
			return w
		}, 1, []string{"a"}, "closed in the middle of the result"},
		{"more results announced", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row([]byte("a"))...).end(h, 2|statusMoreResults)
		}, 1, []string{"a"}, "more results"},
		{"a row shorter than its columns", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 2).packet(row([]byte("a"))...).end(h, 2)
		}, 2, nil, "malformed"},
		{"a row longer than its columns", mariadb, func(h handshake) *wire {
			return (&wire{seq: 1}).header(h, 1).packet(row([]byte("a"), []byte("b"))...).end(h, 2)
		}, 1, nil, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fakeQuery(t, tc.h, tc.reply(tc.h).b, tc.columns)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d values, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("value %d: %.20q (%d bytes), want %.20q (%d bytes)", i, got[i], len(got[i]), tc.want[i], len(tc.want[i]))
				}
			}
		})
	}
}

// FuzzDirectRows: whatever a server sends after a result's header, the
// direct reader never panics, and the rows it returns before its error or
// end are exactly the rows the reply begins with: encoded again, they are
// a prefix of it.
func FuzzDirectRows(f *testing.F) {
	h := handshake{seen: true, complete: true, caps: capProtocol41 | capDeprecateEOF, extCaps: extCacheMetadata}
	// Rows follow the query (0), the column count (1) and the definitions.
	rowsFrom := func(columns uint8) *wire { return &wire{seq: columns + 2} }
	f.Add(uint8(2), rowsFrom(2).packet(row([]byte("a"), nil)...).packet(row([]byte{}, []byte("bc"))...).end(h, 2).b)
	f.Add(uint8(1), rowsFrom(1).packet(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f).b)
	f.Add(uint8(1), rowsFrom(1).packet(0xfc, 0x10).b)
	f.Add(uint8(1), []byte{0xff, 0xff, 0xff, 3, 1})
	f.Fuzz(func(t *testing.T, n uint8, body []byte) {
		columns := int(n%8) + 1
		reply := (&wire{seq: 1}).header(h, columns).b
		got, err := fakeRows(t, h, append(reply, body...), columns)
		if err == nil {
			t.Fatal("neither an error nor the end")
		}
		want := referenceRows(body, uint8(columns+2), columns)
		if len(got) > len(want) {
			t.Fatalf("%d rows from a reply that begins with %d: %q", len(got), len(want), body)
		}
		for i := range got {
			for j := range got[i] {
				if (got[i][j] == nil) != (want[i][j] == nil) || !bytes.Equal(got[i][j], want[i][j]) {
					t.Fatalf("row %d, value %d: %q, want %q (reply %q)", i, j, got[i][j], want[i][j], body)
				}
			}
		}
		if err == io.EOF && len(got) != len(want) {
			t.Fatalf("the end after %d rows of %d", len(got), len(want))
		}
	})
}

// referenceRows is the fuzz test's oracle, written for plainness: the
// well-formed rows body begins with, packets numbered from seq, each value
// length-encoded (in any width) or NULL.
func referenceRows(body []byte, seq uint8, columns int) [][][]byte {
	var rows [][][]byte
	for {
		// One payload, continuation packets joined.
		var p []byte
		for {
			if len(body) < 4 || body[3] != seq {
				return rows
			}
			n := int(body[0]) | int(body[1])<<8 | int(body[2])<<16
			if len(body) < 4+n {
				return rows
			}
			p = append(p, body[4:4+n]...)
			body, seq = body[4+n:], seq+1
			if n < maxPayload {
				break
			}
		}
		if len(p) == 0 || p[0] == 0xff || p[0] == 0xfe && len(p) < maxPayload {
			return rows
		}
		row := make([][]byte, 0, columns)
		for len(row) < columns {
			if len(p) == 0 {
				return rows
			}
			if p[0] == 0xfb {
				row, p = append(row, nil), p[1:]
				continue
			}
			var n, w uint64
			switch {
			case p[0] < 0xfb:
				n, w = uint64(p[0]), 1
			case p[0] == 0xfc && len(p) >= 3:
				n, w = uint64(binary.LittleEndian.Uint16(p[1:])), 3
			case p[0] == 0xfd && len(p) >= 4:
				n, w = uint64(p[1])|uint64(p[2])<<8|uint64(p[3])<<16, 4
			case p[0] == 0xfe && len(p) >= 9:
				n, w = binary.LittleEndian.Uint64(p[1:]), 9
			default:
				return rows
			}
			if uint64(len(p))-w < n {
				return rows
			}
			row = append(row, append([]byte{}, p[w:w+n]...))
			p = p[w+n:]
		}
		if len(p) != 0 {
			return rows
		}
		rows = append(rows, row)
	}
}

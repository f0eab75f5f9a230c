package mysqldb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
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

package mysqldb

import (
	"bufio"
	"context"
	"errors"
	"net"
	"syscall"
)

// readBufferSize is how much of the server's output one read may take.
// The driver reads through a buffer of its own of 4 KiB, so a million-row
// SELECT (150 MB) took some 35,000 read calls; through this buffer it takes
// about 600, for 5 % less CPU in bf-dump (scripts/bench-dump).
const readBufferSize = 256 << 10

// dial connects like the driver does (the same TCP or Unix socket dial,
// keep-alive on) and reads the connection through a readBufferSize buffer.
func dial(ctx context.Context, network, addr string) (*bufferedConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return newBufferedConn(c), nil
}

// bufferedConn is a net.Conn whose reads go through a buffer.
type bufferedConn struct {
	net.Conn
	r        *bufio.Reader
	hs       handshake // what the client settled on, for direct queries (direct.go)
	noDirect bool      // the DSN sets readTimeout, which only the driver's reads honour
}

func newBufferedConn(c net.Conn) *bufferedConn {
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// errUnreadData refuses the driver's liveness check of an idle connection
// that still holds data the driver did not read: it is not idle.
var errUnreadData = errors.New("idle connection holds unread data")

// SyscallConn hands the driver the socket for its liveness check of an
// idle pooled connection (a read of the socket that must find nothing).
// Bytes already in the buffer are data that check cannot see, so a
// connection holding some fails it.
func (c *bufferedConn) SyscallConn() (syscall.RawConn, error) {
	if c.r.Buffered() > 0 {
		return nil, errUnreadData
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// Package faults injects failures into real processes and connections for
// the reliability and security tests (issue 10). Only tests use it.
//
//   - [Proxy] is a loopback TCP proxy that cuts every connection after a
//     given number of bytes from the server (a network cut mid-stream), or
//     stalls it.
//   - [LimitWriter] runs out of space after a given number of bytes, like a
//     full disk (ENOSPC).
//   - [Mount] puts a small tmpfs on a directory, where the test runs as root
//     and may mount, for a real full disk.
//   - [PeakRSS], [RSS] and [Cmdlines] read a process's memory and every
//     process's arguments from /proc.
//   - [Counters] reads the database server's write counters, and
//     [Connections] counts a user's sessions.
//   - [StartServer] runs a private mariadbd that a test may stop, kill and
//     restart, or start with settings the shared server lacks.
package faults

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Proxy forwards loopback TCP connections to a target and cuts or stalls
// them on demand. The zero cut forwards everything.
type Proxy struct {
	ln     net.Listener
	target string

	cut   atomic.Int64 // bytes server→client after which a connection is cut; <= 0: never
	reset atomic.Bool  // cut with a TCP reset instead of a clean close
	stall atomic.Bool  // at the cut, stop forwarding but keep the connection open

	accepted atomic.Int64
	cuts     atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	quit   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards every connection to
// target (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: proxy listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// CutAfter makes connections accepted from now on end after n bytes from
// the server (n <= 0: never). With reset, the client sees a connection reset;
// otherwise a clean end of stream, as if the server had closed it early.
func (p *Proxy) CutAfter(n int64, reset bool) {
	p.stall.Store(false)
	p.reset.Store(reset)
	p.cut.Store(n)
}

// StallAfter makes connections accepted from now on stop forwarding after n
// bytes from the server, keeping them open: a network that hangs.
func (p *Proxy) StallAfter(n int64) {
	p.reset.Store(false)
	p.stall.Store(true)
	p.cut.Store(n)
}

// Accepted is the number of connections accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Cuts is the number of connections cut (or stalled) so far.
func (p *Proxy) Cuts() int64 { return p.cuts.Load() }

// Close stops listening and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		close(p.quit)
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		abort(client)
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	cut, reset, stall := p.cut.Load(), p.reset.Load(), p.stall.Load()

	clientGone := make(chan struct{})
	go func() {
		// Client to server: everything, until either side ends.
		_, _ = io.Copy(server, client)
		if tc, ok := server.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(clientGone)
	}()
	down := make(chan struct{})
	go func() {
		defer close(down)
		if cut <= 0 {
			_, _ = io.Copy(client, server)
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
		n, _ := io.Copy(client, io.LimitReader(server, cut))
		if n < cut {
			// The server ended first: nothing to cut.
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
		p.cuts.Add(1)
		if stall {
			// Keep both connections open and forward nothing more (the
			// server blocks once the socket buffers are full) until the
			// client gives up or the proxy closes.
			select {
			case <-clientGone:
			case <-p.quit:
			}
		}
		if reset {
			abort(client)
		}
		client.Close()
		server.Close()
	}()
	// The response direction decides: once it ended (or was cut), both
	// connections close, which also ends the request direction.
	<-down
	client.Close()
	server.Close()
	<-clientGone
}

// abort closes c with a TCP reset rather than a clean FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// ErrNoSpace is the error a [LimitWriter] returns once it is full: the
// operating system's "no space left on device".
var ErrNoSpace error = syscall.ENOSPC

// LimitWriter writes to W until N bytes were written, then fails every
// write with ErrNoSpace (after writing what still fits), as a file on a
// full disk does.
type LimitWriter struct {
	W io.Writer
	N int64

	n int64
}

// Write writes p, or as much of it as fits.
func (w *LimitWriter) Write(p []byte) (int, error) {
	room := w.N - w.n
	if room <= 0 {
		return 0, ErrNoSpace
	}
	short := false
	if int64(len(p)) > room {
		p, short = p[:room], true
	}
	n, err := w.W.Write(p)
	w.n += int64(n)
	if err == nil && short {
		err = ErrNoSpace
	}
	return n, err
}

// Written is how many bytes reached W.
func (w *LimitWriter) Written() int64 { return w.n }

// IsNoSpace reports whether err is a full disk (ENOSPC) or an exceeded
// file size limit (EFBIG).
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EFBIG)
}

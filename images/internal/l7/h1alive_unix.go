//go:build unix

package l7

import (
	"errors"
	"syscall"
	"time"
)

// alive reports whether an idle connection can still carry a request: a non-blocking peek
// (recv with MSG_PEEK|MSG_DONTWAIT, nothing is consumed) finds nothing to read. End of stream
// or an error means the endpoint closed it; bytes mean it sent something unasked, which on
// plain HTTP ends the connection too, while under TLS it may be a session ticket, so such a
// connection is kept (a failure on it is retried anyway).
func (c *h1Conn) alive() bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// A past read deadline would fail the peek before it is made.
	if err := c.raw.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return false
	case errors.Is(perr, syscall.EAGAIN) || errors.Is(perr, syscall.EWOULDBLOCK):
		return true
	case perr != nil || n == 0:
		return false
	}
	return c.t.tls
}

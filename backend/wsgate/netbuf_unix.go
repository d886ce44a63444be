//go:build unix

package wsgate

import (
	"io"
	"net"
	"syscall"
)

// rawSocket is nc's descriptor for writes that must not wait; nil for a
// connection that is not a plain socket (TLS must encrypt on the way).
func rawSocket(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// writeSome writes as much of b to the non-blocking descriptor fd as it
// takes now: n < len(b) with a nil error means it is full (EAGAIN).
func writeSome(fd uintptr, b []byte) (n int, err error) {
	for n < len(b) {
		m, e := write(fd, b[n:])
		if m > 0 {
			n += m
		}
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return n, nil
		case e != nil:
			return n, e
		case m <= 0: // no error and nothing written: never loop on it
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, nil
}

//go:build !unix

package wsgate

import (
	"net"
	"syscall"
)

// rawSocket is nil here: every write goes through the connection's slow
// path (see netbuf_unix.go).
func rawSocket(net.Conn) syscall.RawConn { return nil }

func writeSome(uintptr, []byte) (int, error) {
	panic("wsgate: no non-blocking writes on this system")
}

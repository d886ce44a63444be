//go:build unix && !linux

package wsgate

import "syscall"

// write is one write(2) of b to the non-blocking descriptor fd (see
// netbuf_linux.go).
func write(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

//go:build linux

package wsgate

import (
	"syscall"
	"unsafe"
)

// write is one write(2) of b, which is not empty, to the non-blocking
// descriptor fd. It is a raw system call, not syscall.Write: a write to a
// non-blocking socket never waits, so the scheduler need not be told
// (entersyscall/exitsyscall around each write cost 8-10% of the
// gateway's CPU per delivery at one event per frame). The P stays with
// the flusher for the call, which is what a flusher wants.
func write(fd uintptr, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

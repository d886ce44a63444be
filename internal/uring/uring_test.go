//go:build linux

package uring

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// pairs makes n loopback TCP connections: the sending sides' descriptors
// (kept open by the returned conns) and the receiving sides.
func pairs(tb testing.TB, n int) (send []*net.TCPConn, recv []*net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close(); s.Close() })
		send = append(send, s.(*net.TCPConn))
		recv = append(recv, c.(*net.TCPConn))
	}
	return send, recv
}

func fdOf(tb testing.TB, c *net.TCPConn) int32 {
	raw, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var fd int32
	if err := raw.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		tb.Fatal(err)
	}
	return fd
}

// newRing sets up a ring, or reports nil where the kernel refuses io_uring
// (then New must say so with ErrUnavailable, and the gateway writes a
// write(2) per socket: TestFlushersWriteEveryFrameInOrder covers that path).
func newRing(tb testing.TB, size int) *Ring {
	r, err := New(size)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			tb.Fatalf("New: %v, want a ring or ErrUnavailable", err)
		}
		tb.Logf("io_uring refused here: %v", err)
		return nil
	}
	tb.Cleanup(r.Close)
	return r
}

// TestSend: each buffer reaches its own socket whole, in one call.
func TestSend(t *testing.T) {
	r := newRing(t, 8)
	if r == nil {
		return
	}
	send, recv := pairs(t, 5)
	fds := make([]int32, len(send))
	bufs := make([][]byte, len(send))
	n := make([]int32, len(send))
	for i, s := range send {
		fds[i] = fdOf(t, s)
		bufs[i] = bytes.Repeat([]byte{byte('a' + i)}, 100+i)
	}
	for range 3 { // the ring's slots are reused
		r.Send(fds, bufs, n)
		for i, c := range recv {
			if int(n[i]) != len(bufs[i]) {
				t.Fatalf("send %d took %d of %d", i, n[i], len(bufs[i]))
			}
			got := make([]byte, len(bufs[i]))
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, bufs[i]) {
				t.Fatalf("socket %d read %q, %v; want %q", i, got, err, bufs[i])
			}
		}
	}
}

// TestSendFull: a full socket answers -EAGAIN or a short count at once,
// never waiting, and a bad descriptor fails only its own send.
func TestSendFull(t *testing.T) {
	r := newRing(t, 4)
	if r == nil {
		return
	}
	send, _ := pairs(t, 2)
	_ = send[0].SetWriteBuffer(4096)
	fds := []int32{fdOf(t, send[0]), -1, fdOf(t, send[1])}
	big := make([]byte, 8<<20)
	bufs := [][]byte{big, []byte("x"), []byte("hello")}
	n := make([]int32, 3)
	var total int
	for range 100 {
		r.Send(fds, bufs, n)
		if n[1] != -int32(syscall.EBADF) {
			t.Fatalf("bad descriptor: %d, want -EBADF", n[1])
		}
		if n[2] != 5 {
			t.Fatalf("other socket took %d of 5", n[2])
		}
		if n[0] == -int32(syscall.EAGAIN) {
			if total == 0 {
				t.Fatal("EAGAIN before anything was written")
			}
			return
		}
		if n[0] <= 0 || n[0] > int32(len(big)) {
			t.Fatalf("full socket: %d", n[0])
		}
		total += int(n[0])
	}
	t.Fatalf("the socket never filled (%d bytes taken)", total)
}

// BenchmarkWrite_1000Conns and BenchmarkSend_1000Conns compare one write(2)
// per socket with one io_uring_enter per 64 sockets, at one 80-byte frame
// per socket; cpu-ns/send is the process's CPU (getrusage) over the timed
// part, the receivers read with the timer stopped.
func BenchmarkWrite_1000Conns(b *testing.B) { benchSend(b, 1000, false) }
func BenchmarkSend_1000Conns(b *testing.B)  { benchSend(b, 1000, true) }

func benchSend(b *testing.B, conns int, ring bool) {
	send, recv := pairs(b, conns)
	fds := make([]int32, conns)
	for i, s := range send {
		fds[i] = fdOf(b, s)
	}
	var r *Ring
	if ring {
		if r = newRing(b, 64); r == nil {
			b.Fatal("no io_uring here to measure")
		}
	}
	frame := bytes.Repeat([]byte{1}, 80)
	bufs := make([][]byte, r.sizeOr(64))
	for i := range bufs {
		bufs[i] = frame
	}
	n := make([]int32, len(bufs))
	buf := make([]byte, 64<<10)
	var cpu time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += conns {
		before := cpuTime()
		if ring {
			for i := 0; i < conns; i += len(bufs) {
				k := min(len(bufs), conns-i)
				r.Send(fds[i:i+k], bufs[:k], n[:k])
				for j := range k {
					if n[j] != int32(len(frame)) {
						b.Fatalf("send: %d", n[j])
					}
				}
			}
		} else {
			for _, fd := range fds {
				m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)))
				if e != 0 || int(m) != len(frame) {
					b.Fatalf("write: %d %v", m, e)
				}
			}
		}
		cpu += cpuTime() - before
		b.StopTimer()
		for _, c := range recv {
			if _, err := io.ReadFull(c, buf[:len(frame)]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64((b.N+conns-1)/conns*conns), "cpu-ns/send")
}

func (r *Ring) sizeOr(n int) int {
	if r == nil {
		return n
	}
	return min(n, r.Size())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

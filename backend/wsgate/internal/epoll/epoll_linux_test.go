//go:build linux

package epoll

import (
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

// handler counts what the poller tells it.
type handler struct{ readable, failed chan struct{} }

func (h *handler) Readable()   { h.readable <- struct{}{} }
func (h *handler) PollFailed() { h.failed <- struct{}{} }

// pair is a loopback TCP connection: the server side's descriptor and the
// client that writes to it.
func pair(t *testing.T) (syscall.RawConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw, client
}

func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
}

// quiet asserts that nothing comes on ch for a while: an absence has no
// event to poll for, so it is a window, long for a local epoll_wait.
func quiet(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s", what)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestOneShotThenArm: a readable socket is reported once, then not again
// until Arm, which reports data that came in between; the goroutine ends
// with the last registration.
func TestOneShotThenArm(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	raw, client := pair(t)
	h := &handler{readable: make(chan struct{}, 4), failed: make(chan struct{}, 1)}
	var r Reg
	if err := p.Add(&r, raw, h); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	within(t, h.readable, "first byte")
	if _, err := client.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	quiet(t, h.readable, "reported again before Arm")
	if err := p.Arm(&r); err != nil {
		t.Fatal(err)
	}
	within(t, h.readable, "data that came before Arm")

	p.Remove(&r)
	p.Remove(&r) // twice: nothing
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	within(t, done, "the goroutine ending with the last registration")
	select {
	case <-h.failed:
		t.Fatal("PollFailed without a failure")
	default:
	}
}

// TestRestartsAfterTheLastLeft: a registration after the goroutine ended
// starts a new instance.
func TestRestartsAfterTheLastLeft(t *testing.T) {
	p := New(slog.New(slog.DiscardHandler))
	for i := range 2 {
		raw, client := pair(t)
		h := &handler{readable: make(chan struct{}, 1), failed: make(chan struct{}, 1)}
		var r Reg
		if err := p.Add(&r, raw, h); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if _, err := client.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		within(t, h.readable, "a byte")
		p.Remove(&r)
		p.Wait()
	}
}

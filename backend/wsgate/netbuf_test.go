package wsgate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/timing"
)

// writes records each Write a heldWriter makes to its connection.
type writes struct {
	net.Conn
	calls [][]byte
}

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, bytes.Clone(p))
	return len(p), nil
}

func (w *writes) SetWriteDeadline(time.Time) error { return nil }

// TestControlFramesGoWhole: the frames the reader and the closer write (a
// pong, the close frame) reach the socket each in one write; the close frame
// goes once, and nothing after it.
func TestControlFramesGoWhole(t *testing.T) {
	rec := &writes{}
	h := &heldWriter{conn: rec}
	if err := h.writeControl([]byte("\x8a\x01p"), time.Second); err != nil {
		t.Fatal(err)
	}
	if sent, err := h.writeClose(4010, "bye", time.Second); !sent || err != nil {
		t.Fatalf("writeClose: %v, %v", sent, err)
	}
	if sent, _ := h.writeClose(1000, "", time.Second); sent {
		t.Fatal("a second close frame was written")
	}
	if err := h.writeControl([]byte("\x8a\x00"), time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pong after the close: %v, want net.ErrClosed", err)
	}
	want := []string{"\x8a\x01p", "\x88\x05\x0f\xaabye"}
	if fmt.Sprintf("%q", rec.calls) != fmt.Sprintf("%q", want) {
		t.Fatalf("socket got %q, want %q", rec.calls, want)
	}
}

// TestFrameHeaderLengths: the three length encodings of RFC 6455 §5.2, at
// their edges, read back by the WebSocket library as the same payload.
func TestFrameHeaderLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 300000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		payload = append(payload[:0:0], payload...)
		for i := range payload {
			payload[i] = byte(i)
		}
		server, client := net.Pipe()
		go func() {
			server.Write(appendFrame(nil, payload))
			server.Close()
		}()
		got, err := readOneFrame(client)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: read back %d bytes, not the payload", n, len(got))
		}
	}
}

// readOneFrame reads one unmasked frame per RFC 6455 and checks that it is
// final, binary and uncompressed.
func readOneFrame(c net.Conn) ([]byte, error) {
	var hdr [10]byte
	if _, err := io.ReadFull(c, hdr[:2]); err != nil {
		return nil, err
	}
	if hdr[0] != 0x82 || hdr[1]&0x80 != 0 {
		return nil, fmt.Errorf("header % x: want a final binary frame, unmasked", hdr[:2])
	}
	n := int(hdr[1])
	switch n {
	case 126:
		if _, err := io.ReadFull(c, hdr[2:4]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(hdr[2:4]))
		if n < 126 {
			return nil, fmt.Errorf("length %d in 16 bits: not minimal", n)
		}
	case 127:
		if _, err := io.ReadFull(c, hdr[2:10]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint64(hdr[2:10]))
		if n <= 0xffff {
			return nil, fmt.Errorf("length %d in 64 bits: not minimal", n)
		}
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return b, err
}

// tcpPair is a connected loopback TCP pair: the server's side and the
// peer's, both closed when the test ends.
func tcpPair(t *testing.T) (nc, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if peer, err = net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if nc, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc, peer
}

// TestTryWriteNeverWaits: to a socket nobody reads, tryWrite writes what the
// kernel takes and returns at once, holding the socket for the rest, which
// finish writes once the peer reads; meanwhile no other write gets in.
func TestTryWriteNeverWaits(t *testing.T) {
	nc, peer := tcpPair(t)
	nc.(*net.TCPConn).SetWriteBuffer(4096)
	h := newHeldWriter(nc)
	if h.raw == nil {
		t.Fatal("a TCP connection has no raw socket")
	}
	big := appendFrame(nil, bytes.Repeat([]byte{1}, 2<<20))
	began := time.Now()
	n, err := h.tryWrite(big)
	if err != nil || n >= len(big) {
		t.Fatalf("tryWrite of %d bytes to a socket nobody reads: %d, %v; want part of it", len(big), n, err)
	}
	if took := time.Since(began); timing.Over(t, took, time.Second) {
		t.Fatalf("tryWrite took %v: it waited", took)
	}
	if _, err := h.tryWrite([]byte("\x82\x00")); err != errBusy {
		t.Fatalf("a second tryWrite while the first frame is unfinished: %v, want errBusy", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.finish(big[n:]) }()
	got, err := readOneFrame(peer)
	if err != nil || !bytes.Equal(got, big[len(big)-len(got):]) || len(got) != 2<<20 {
		t.Fatalf("peer read %d bytes, %v: want the whole frame", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := h.tryWrite([]byte("\x82\x00")); n != 2 || err != nil {
		t.Fatalf("tryWrite after finish: %d, %v", n, err)
	}
	h.shutdown()
	if n, err := h.tryWrite([]byte("\x82\x00")); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("tryWrite after shutdown: %d, %v; want nothing written and net.ErrClosed", n, err)
	}
}

// TestNoFrameOfOursAfterShutdown: once the close frame is next, the
// gateway's other frames are refused, while the close frame still goes out.
func TestNoFrameOfOursAfterShutdown(t *testing.T) {
	rec := &writes{}
	h := &heldWriter{conn: rec}
	h.shutdown()
	if err := h.writeFrame([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writeFrame after shutdown: %v, want net.ErrClosed", err)
	}
	if err := h.writeAll(appendFrame(nil, []byte("late"))); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writeAll after shutdown: %v, want net.ErrClosed", err)
	}
	if _, err := h.writeClose(1000, "", time.Second); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 1 || string(rec.calls[0]) != "\x88\x02\x03\xe8" {
		t.Fatalf("socket got %q, want only the close frame", rec.calls)
	}
}

// TestTryWriteAllocatesNothing: a flusher's write, one per delivery at one
// event per frame, costs the garbage collector nothing (a closure made per
// write escaped through syscall.RawConn: three allocations each).
func TestTryWriteAllocatesNothing(t *testing.T) {
	nc, _ := tcpPair(t) // the peer stays open until the test ends
	h := newHeldWriter(nc)
	if h.raw == nil {
		t.Fatal("a TCP connection has no raw socket")
	}
	frame := appendFrame(nil, []byte("one event"))
	// 101 writes of 11 bytes: far under the socket's buffer, nobody reads.
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := h.tryWrite(frame); n != len(frame) || err != nil {
			t.Fatalf("tryWrite: %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("tryWrite allocates %v times per write, want 0", allocs)
	}
}

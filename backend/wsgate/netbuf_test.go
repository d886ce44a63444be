package wsgate

import (
	"bytes"
	"net"
	"testing"
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

// TestHeldWriterGathersAFrame: during a hold, the library's writes (header,
// payload, a control frame in between) reach the socket as one write, in
// order, at release; outside a hold they go straight through; a large
// payload is not copied unless the hold keeps everything.
func TestHeldWriterGathersAFrame(t *testing.T) {
	for _, tc := range []struct {
		name   string
		held   bool
		chunks []string
		want   []string
	}{
		{"held frame", true, []string{"\x82\x05", "hello", "\x8a\x00"}, []string{"\x82\x05hello\x8a\x00"}},
		{"nothing written during the hold", true, nil, nil},
		{"not held", false, []string{"\x82\x05", "hello"}, []string{"\x82\x05", "hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &writes{}
			h := &heldWriter{conn: rec}
			if tc.held {
				h.hold(false)
			}
			for _, c := range tc.chunks {
				if n, err := h.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if tc.held {
				if len(rec.calls) != 0 {
					t.Fatalf("%d writes reached the socket during the hold", len(rec.calls))
				}
				if err := h.release(); err != nil {
					t.Fatal(err)
				}
			}
			if len(rec.calls) != len(tc.want) {
				t.Fatalf("socket got %q, want %q", rec.calls, tc.want)
			}
			for i := range tc.want {
				if string(rec.calls[i]) != tc.want[i] {
					t.Fatalf("socket got %q, want %q", rec.calls, tc.want)
				}
			}
		})
	}
	// A large payload is not copied: it goes at once, after the header
	// gathered before it, and the held buffer stays small.
	big := bytes.Repeat([]byte{7}, heldCopyMax+1)
	rec := &writes{}
	h := &heldWriter{conn: rec}
	h.hold(false)
	h.Write([]byte("\x82\x7f"))
	h.Write(big)
	h.Write([]byte("\x8a\x00"))
	if got := len(rec.calls); got != 2 || string(rec.calls[0]) != "\x82\x7f" || !bytes.Equal(rec.calls[1], big) {
		t.Fatalf("large payload: %d writes before the release, want the header then the payload", got)
	}
	if cap(*h.buf) > heldCopyMax {
		t.Fatalf("held buffer grew to %d bytes for a large payload", cap(*h.buf))
	}
	if err := h.release(); err != nil || len(rec.calls) != 3 || string(rec.calls[2]) != "\x8a\x00" || h.buf != nil {
		t.Fatalf("after the large payload: %d writes, err %v", len(rec.calls), err)
	}

	// A hold that keeps everything (a compressed frame, written while a
	// deflate slot is held) writes nothing before the release, and does not
	// pool a buffer that grew past maxPooledBuffer.
	rec = &writes{}
	h = &heldWriter{conn: rec}
	h.hold(true)
	h.Write([]byte("\xc2\x7f"))
	huge := bytes.Repeat([]byte{9}, maxPooledBuffer+1)
	h.Write(huge)
	if len(rec.calls) != 0 {
		t.Fatalf("%d writes reached the socket before the release of a hold that keeps everything", len(rec.calls))
	}
	buf := h.buf
	if err := h.release(); err != nil || len(rec.calls) != 1 || len(rec.calls[0]) != 2+len(huge) {
		t.Fatalf("release: %d writes, err %v; want the frame in one", len(rec.calls), err)
	}
	for range 8 { // whatever the pool hands out, never that buffer
		if b := heldBuffers.Get().(*[]byte); b == buf {
			t.Fatalf("a %d-byte buffer went back to the pool", cap(*buf))
		}
	}
}

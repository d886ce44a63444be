package wsgate

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
)

// heldWriter is the one way bytes reach a connection's socket: every frame
// the server sends, built whole by the gateway with wsframe (batches,
// compressed catch-up, pings' answers, the close frame), and its mutex makes
// each reach the socket whole. tryWrite is a flusher's, which never waits;
// writeFrame and writeAll the connection's slow path, which may; writeControl
// and writeClose the reader's and the closer's, bounded by a deadline. An
// idle connection holds no write buffer at all.
type heldWriter struct {
	conn net.Conn
	// raw is the socket for writes that must not wait (a flusher's); nil
	// when there is none (TLS), and then every write goes through the
	// connection's slow path.
	raw syscall.RawConn

	mu sync.Mutex // held for each write that reaches the socket
	// shut: the close frame went, or goes next, and no frame may follow it
	// (RFC 6455 §5.5.1).
	shut   bool
	closed bool // the close frame was written
	// try is tryWrite's call into the socket, kept from write to write:
	// a closure made for each write escapes through syscall.RawConn and
	// cost three allocations per delivery (the closure and the two
	// results it sets). Under mu.
	try rawWrite
}

// rawWrite is one non-blocking write handed to syscall.RawConn.Control:
// fn, made once, writes b and leaves what happened in n and err.
type rawWrite struct {
	fn  func(fd uintptr)
	b   []byte
	n   int
	err error
}

func (w *rawWrite) write(fd uintptr) { w.n, w.err = writeSome(fd, w.b) }

// shutdown lets no frame but the close frame reach the socket any more; it
// waits for one being written to end, so the close frame comes after it.
func (h *heldWriter) shutdown() {
	h.mu.Lock()
	h.shut = true
	h.mu.Unlock()
}

// maxPooledBuffer is the largest buffer put back in the pool.
const maxPooledBuffer = 64 << 10

// heldBuffers hold compressed frames between the deflate slot and the
// socket write.
var heldBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

func newHeldWriter(nc net.Conn) *heldWriter {
	return &heldWriter{conn: nc, raw: rawSocket(nc)}
}

// writeControl writes a control frame the peer asked for (a pong), waiting
// for the socket at most timeout; nothing after the close frame.
func (h *heldWriter) writeControl(frame []byte, timeout time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		return net.ErrClosed
	}
	return h.writeBefore(frame, timeout)
}

// writeClose writes the close frame, once: false when it was written
// already (or is being). Nothing is written after it.
func (h *heldWriter) writeClose(code int, reason string, timeout time.Duration) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, nil
	}
	h.shut, h.closed = true, true
	return true, h.writeBefore(wsframe.AppendClose(nil, code, reason), timeout)
}

// writeBefore writes b under h.mu, failing it after timeout: the mutex is
// held, so no other write meets the deadline.
func (h *heldWriter) writeBefore(b []byte, timeout time.Duration) error {
	_ = h.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := h.conn.Write(b)
	_ = h.conn.SetWriteDeadline(time.Time{})
	return err
}

// errBusy is tryWrite finding the socket in use by another writer.
var errBusy = errors.New("socket busy")

// tryWrite writes as much of b (whole frames) as the socket takes now,
// without waiting. n < len(b) with a nil error means the socket is full: the
// mutex then stays locked, so that nothing lands after a frame's first part,
// and the caller must hand b[n:] to finish, which may wait. errBusy means
// another writer holds the socket and nothing was written.
func (h *heldWriter) tryWrite(b []byte) (n int, err error) {
	if err := h.begin(); err != nil {
		return 0, err
	}
	n, err = h.writeHeld(b)
	h.sent(n, len(b), err)
	return n, err
}

// begin takes the socket for a write that never waits, without waiting
// for it: errBusy when another writer has it, net.ErrClosed after the close
// frame. On nil the caller writes (writeHeld, or a flusher's batch) and
// then calls sent.
func (h *heldWriter) begin() error {
	if !h.mu.TryLock() {
		return errBusy
	}
	if h.shut {
		h.mu.Unlock()
		return net.ErrClosed
	}
	return nil
}

// sent ends what begin began, of which n of size bytes were written: the
// socket is let go unless the write stopped short without an error, for
// then the rest goes to finish.
func (h *heldWriter) sent(n, size int, err error) {
	if err != nil || n == size {
		h.mu.Unlock()
	}
}

// writeHeld writes as much of b as the socket takes now, h.mu held.
func (h *heldWriter) writeHeld(b []byte) (n int, err error) {
	w := &h.try
	if w.fn == nil {
		w.fn = w.write // once per connection
	}
	w.b, w.n, w.err = b, 0, nil
	// Control, not Write: it holds the descriptor open for the call, which
	// is all a write that never waits needs. RawConn.Write would also take
	// the descriptor's write lock (h.mu already orders every write to the
	// socket) and reset its poller state for a wait that never comes
	// (runtime_pollReset alone was 2% of the gateway's CPU per delivery).
	cerr := h.raw.Control(w.fn)
	n, err = w.n, w.err
	w.b, w.err = nil, nil
	if err == nil {
		err = cerr
	}
	return n, err
}

// finish writes the rest of what tryWrite began, waiting for the socket as
// long as it takes (the caller's watchdog closes a stuck one), and unlocks.
func (h *heldWriter) finish(rest []byte) error {
	defer h.mu.Unlock()
	_, err := h.conn.Write(rest)
	return err
}

// writeAll writes b, whole frames, waiting for the socket as long as it takes.
func (h *heldWriter) writeAll(b []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		return net.ErrClosed
	}
	_, err := h.conn.Write(b)
	return err
}

// writeFrame writes payload as one binary frame, waiting for the socket as
// long as it takes: header and payload in one writev(2), the payload not
// copied.
func (h *heldWriter) writeFrame(payload []byte) error {
	var hdr [maxFrameHeader]byte
	bufs := net.Buffers{appendFrameHeader(hdr[:0], len(payload)), payload}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shut {
		return net.ErrClosed
	}
	_, err := bufs.WriteTo(h.conn)
	return err
}

// maxFrameHeader is the longest header of a server frame (unmasked).
const maxFrameHeader = wsframe.MaxHeader

// appendFrameHeader appends the header of a final, uncompressed, unmasked
// binary frame of n payload bytes (RFC 6455 §5.2).
func appendFrameHeader(dst []byte, n int) []byte {
	return wsframe.AppendHeader(dst, true, wsframe.OpBinary, false, n)
}

// appendFrame appends payload as one frame, header first.
func appendFrame(dst, payload []byte) []byte {
	return wsframe.AppendBinary(dst, payload)
}

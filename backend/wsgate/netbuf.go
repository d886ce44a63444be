package wsgate

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"
)

// heldWriter is the one way bytes reach a connection's socket. Three kinds of
// writer use it, and its mutex makes each frame reach the socket whole:
//
//   - the gateway's own frames (batches, control frames), built with their
//     WebSocket header by the gateway: tryWrite from a flusher, which never
//     waits, and writeFrame from the connection's slow path, which may;
//   - the WebSocket library, through a small bufio.Writer (frameBuffer) in
//     front of Write: only control frames (close, pong) and, between hold
//     and release, the compressed frames the gateway asks it for;
//   - nothing else: an idle connection holds no write buffer at all.
//
// Outside a hold, each library control frame arrives in one Write (it fits
// frameBuffer, which is empty at the start of every frame the library writes
// outside a hold), so it cannot land inside one of the gateway's frames.
type heldWriter struct {
	conn net.Conn
	// raw is the socket for writes that must not wait (a flusher's); nil
	// when there is none (TLS), and then every write goes through the
	// connection's slow path.
	raw syscall.RawConn

	mu      sync.Mutex // held for each write that reaches the socket
	holding bool
	buf     *[]byte // from heldBuffers while holding
	// shut: the library's close frame goes next, and no frame of the
	// gateway's may follow it (RFC 6455 §5.5.1).
	shut bool
}

// shutdown lets no frame of the gateway's reach the socket any more; it
// waits for one being written to end, so the close frame comes after it.
func (h *heldWriter) shutdown() {
	h.mu.Lock()
	h.shut = true
	h.mu.Unlock()
}

// frameBuffer is the library's bufio size in front of a heldWriter: a whole
// control frame (2-byte header, at most 125 bytes of payload) fits, so the
// library writes each one in a single Write.
const frameBuffer = 128

// maxPooledBuffer is the largest buffer put back in the pool.
const maxPooledBuffer = 64 << 10

var heldBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

func newHeldWriter(nc net.Conn) *heldWriter {
	return &heldWriter{conn: nc, raw: rawSocket(nc)}
}

// Write is the library's: gathered during a hold, else straight to the socket.
func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.conn.Write(p)
	}
	*h.buf = append(*h.buf, p...)
	return len(p), nil
}

// hold starts gathering the library's writes: a compressed frame is written
// while a deflate slot is held, and gathered whole, so that the slot is never
// held while the socket write waits for a slow client.
func (h *heldWriter) hold() {
	h.mu.Lock()
	h.holding = true
	h.buf = heldBuffers.Get().(*[]byte)
	h.mu.Unlock()
}

// release writes what was gathered in one write and stops gathering.
func (h *heldWriter) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	var err error
	if len(*h.buf) > 0 {
		_, err = h.conn.Write(*h.buf)
	}
	if cap(*h.buf) <= maxPooledBuffer {
		*h.buf = (*h.buf)[:0]
		heldBuffers.Put(h.buf)
	}
	h.buf = nil
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
	if !h.mu.TryLock() {
		return 0, errBusy
	}
	if h.holding { // cannot happen: holds are the slow path's, which excludes flushers
		h.mu.Unlock()
		return 0, errBusy
	}
	if h.shut {
		h.mu.Unlock()
		return 0, net.ErrClosed
	}
	cerr := h.raw.Write(func(fd uintptr) bool {
		n, err = writeSome(fd, b)
		return true // never wait: a full socket is the slow path's
	})
	if err == nil {
		err = cerr
	}
	if err != nil || n == len(b) {
		h.mu.Unlock()
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
const maxFrameHeader = 10

// appendFrameHeader appends the header of a final, uncompressed, unmasked
// binary frame of n payload bytes (RFC 6455 §5.2).
func appendFrameHeader(dst []byte, n int) []byte {
	const finBinary = 0x80 | 0x2
	switch {
	case n < 126:
		return append(dst, finBinary, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, finBinary, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, finBinary, 127), uint64(n))
	}
}

// appendFrame appends payload as one frame, header first.
func appendFrame(dst, payload []byte) []byte {
	return append(appendFrameHeader(dst, len(payload)), payload...)
}

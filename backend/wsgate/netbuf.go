package wsgate

import (
	"net"
	"sync"
)

// heldWriter is what the WebSocket library writes through: a tiny bufio
// (frameBuffer) in front of it, and this writer in front of the socket. An
// idle connection then holds no write buffer at all, where a bufio.Writer
// would keep 4 KB for the connection's life.
//
// While the connection's writer writes a frame it holds the writer
// (hold/release): the frame's header, payload and any control frame the
// library writes meanwhile gather in a pooled buffer and reach the socket in
// one write(2) (a large payload is not copied: see heldCopyMax). Outside a
// hold, writes go straight to the socket.
type heldWriter struct {
	conn net.Conn

	mu      sync.Mutex
	holding bool
	copyAll bool    // keep even a large payload: see hold
	buf     *[]byte // from heldBuffers while holding
}

// frameBuffer is the library's bufio size in front of a heldWriter: room
// for a frame header, so that it is written as one piece outside a hold.
const frameBuffer = 16

// heldCopyMax is the largest write copied into the held buffer. A larger
// one (a snapshot, a big batch) goes at once with what was gathered before
// it, in one writev(2), so a frame is never held twice in memory.
const heldCopyMax = 32 << 10

// maxPooledBuffer is the largest buffer put back in the pool.
const maxPooledBuffer = 64 << 10

var heldBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.conn.Write(p)
	}
	if len(p) > heldCopyMax && !h.copyAll {
		if len(*h.buf) == 0 {
			return h.conn.Write(p)
		}
		bufs := net.Buffers{*h.buf, p}
		_, err := bufs.WriteTo(h.conn)
		*h.buf = (*h.buf)[:0]
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	*h.buf = append(*h.buf, p...)
	return len(p), nil
}

// hold starts gathering writes. copyAll keeps even a large payload until
// release, for a frame written while a deflate slot is held: the slot is
// then never held while the socket write waits for a slow client.
func (h *heldWriter) hold(copyAll bool) {
	h.mu.Lock()
	h.holding, h.copyAll = true, copyAll
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

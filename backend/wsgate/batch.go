package wsgate

import (
	"syscall"

	"github.com/telltale/telltale/internal/uring"
)

// A flusher's writes go to the kernel in batches where it can: one
// io_uring_enter sends the frames of up to ringSize connections (each a
// send with MSG_DONTWAIT, so it never waits, exactly like the write(2) it
// replaces), instead of one write(2) each. Measured on loopback at one
// 80-byte frame per connection, this cut the CPU of a send by a sixth to a
// quarter (bench/results/2026-12-07-fanout2.md): the system call's entry
// and exit and vfs_write's bookkeeping per socket go, the TCP work stays.
//
// Where io_uring is not there (an old kernel, io_uring_disabled, a seccomp
// filter that refuses io_uring_setup, Config.NoIOURing, not Linux) every
// connection is written with its own write(2), as before.
//
// Each connection's socket is taken (heldWriter.begin) when its frames join
// the batch and let go after the batch's send, with what it took: a socket
// that took less goes to the slow path still held, as tryWrite's does. The
// descriptors are held open for the send by nesting RawConn.Control, one
// per connection (sendBatch.next), so that a connection closed meanwhile
// cannot have its descriptor number reused under the send.

const (
	ringSize   = 64        // connections per io_uring_enter
	batchBytes = 256 << 10 // frames held for one batch before it is sent
)

type sendBatch struct {
	ring *uring.Ring
	off  bool // no io_uring: write(2) per connection

	writes []batchWrite
	fds    []int32
	bufs   [][]byte
	res    []int32
	errs   []error
	i      int              // next write whose descriptor next takes
	enter  func(fd uintptr) // next's callback, made once
}

// batchWrite is one connection's frames in the flusher's buffer, out[off:end].
type batchWrite struct {
	c        *conn
	off, end int
	now      int64
}

// batching reports whether f sends in batches, setting its ring up the
// first time.
func (f *flusher) batching() bool {
	b := &f.batch
	if b.ring != nil {
		return true
	}
	if b.off {
		return false
	}
	if f.g.cfg.NoIOURing {
		b.off = true
		return false
	}
	r, err := uring.New(ringSize)
	if err != nil {
		f.g.cfg.Logger.Info("io_uring unavailable: a write(2) per connection", "err", err)
		b.off = true
		return false
	}
	b.ring = r
	n := r.Size()
	b.fds, b.bufs, b.res, b.errs = make([]int32, n), make([][]byte, n), make([]int32, n), make([]error, n)
	b.writes = make([]batchWrite, 0, n)
	b.enter = b.held
	return true
}

// closeRing releases the ring; f.mu held, no goroutine running.
func (f *flusher) closeRing() {
	if f.batch.ring != nil {
		f.batch.ring.Close()
		f.batch.ring = nil
	}
}

// queue adds c's frames, f.out[off:], to the batch, sending it when full.
func (f *flusher) queue(c *conn, off int, now, window int64) {
	if err := c.net.begin(); err != nil {
		f.done(c, f.out[off:], 0, err, now, window)
		f.out = f.out[:off]
		return
	}
	b := &f.batch
	b.writes = append(b.writes, batchWrite{c: c, off: off, end: len(f.out), now: now})
	if len(b.writes) == b.ring.Size() || len(f.out) >= batchBytes {
		f.send(window)
	}
}

// send sends the batch and hands each connection what happened.
func (f *flusher) send(window int64) {
	b := &f.batch
	if len(b.writes) == 0 {
		return
	}
	for i, w := range b.writes {
		b.bufs[i], b.fds[i], b.errs[i] = f.out[w.off:w.end], -1, nil
	}
	b.i = 0
	b.next()
	// Every socket is let go first (but those whose send stopped short,
	// kept for their slow path), then each connection is told.
	for i, w := range b.writes {
		buf := b.bufs[i]
		n, err := 0, b.errs[i]
		if err == nil {
			switch r := b.res[i]; {
			case r == uring.NotSent:
				n, err = w.c.net.writeHeld(buf)
			case r == -int32(syscall.EAGAIN):
			case r < 0:
				err = syscall.Errno(-r)
			default:
				n = int(r)
			}
		}
		w.c.net.sent(n, len(buf), err)
		b.res[i], b.errs[i] = int32(n), err
	}
	for i, w := range b.writes {
		f.done(w.c, b.bufs[i], int(b.res[i]), b.errs[i], w.now, window)
		b.bufs[i], b.errs[i] = nil, nil
		b.writes[i] = batchWrite{}
	}
	b.writes = b.writes[:0]
	f.out = f.out[:0]
	if cap(f.out) > 1<<20 {
		f.out = nil // one huge batch: do not keep its buffer
	}
}

// next takes the descriptor of the batch's next connection and, through
// held, those of the rest, then sends with all of them held open. A
// connection whose descriptor is gone gets its error, and no send.
func (b *sendBatch) next() {
	for b.i < len(b.writes) {
		j := b.i
		b.i++
		err := b.writes[j].c.net.raw.Control(b.enter)
		if err == nil {
			return // held took it, and the rest
		}
		b.errs[j] = err
	}
	k := len(b.writes)
	b.ring.Send(b.fds[:k], b.bufs[:k], b.res[:k])
}

// held is next's callback with the descriptor of write b.i-1.
func (b *sendBatch) held(fd uintptr) {
	b.fds[b.i-1] = int32(fd)
	b.next()
}

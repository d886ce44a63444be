package wsgate

import (
	"errors"
	"io"
	"net"
	"runtime/debug"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
)

// readLoop reads until the connection ends, for a connection the poller
// cannot watch.
func (c *conn) readLoop() {
	defer c.recovered()
	for c.readOne(true) {
	}
}

// Readable is the poller saying the socket has something (epoll.Handler):
// a goroutine reads it, handles it, and hands the socket back. At most one
// reads at a time.
func (c *conn) Readable() {
	c.rmu.Lock()
	if c.life.Load() == closed || c.reading {
		c.rmu.Unlock()
		return
	}
	c.reading = true
	c.readers.Add(1)
	c.rmu.Unlock()
	go func() {
		defer c.readers.Done()
		defer c.recovered()
		if !c.readOne(false) || !c.drain() {
			return
		}
		// The mutex orders this goroutine's work (c.subs and the like)
		// before the next reader's, which the poller starts after the
		// socket is armed again.
		c.rmu.Lock()
		c.reading = false
		c.rmu.Unlock()
		// A socket closed meanwhile (the write watchdog) is its closer's
		// to report.
		if err := c.g.poll.Arm(&c.pollReg); err != nil && !c.ending() && !errors.Is(err, net.ErrClosed) {
			c.g.cfg.Logger.Warn("epoll re-arm failed", "conn", c.id, "err", err)
			c.close(closeInternal)
		}
	}()
}

// drain handles the frames already in the read buffer (the reader reads
// ahead into it; the poller only sees the socket). false: the read side is
// over. A closing connection reads on until the peer's close frame, which
// the close handshake waits for.
func (c *conn) drain() bool {
	for c.buffered() {
		if !c.readOne(false) {
			return false
		}
	}
	return !c.readEnded()
}

// buffered reports whether the read buffer holds the start of a frame.
func (c *conn) buffered() bool {
	return !c.readEnded() && c.in.Buffered() > 0
}

// endRead marks the read side over (readOver).
func (c *conn) endRead() {
	c.readOverOnce.Do(func() { close(c.readOver) })
}

// readEnded reports whether the read side is over (readOver).
func (c *conn) readEnded() bool {
	select {
	case <-c.readOver:
		return true
	default:
		return false
	}
}

// next reads the client's next data message, answering pings on the way (a
// pong through the write side) and taking a close frame as the end: it is
// answered with the peer's code, and the connection closes. false: the read
// side is over, and the connection closing.
func (c *conn) next() (wsframe.Opcode, []byte, bool) {
	for {
		m, err := c.rd.Next()
		if err != nil {
			var pe *wsframe.ProtocolError
			if errors.As(err, &pe) {
				c.g.cfg.Logger.Debug("read", "conn", c.id, "remote", c.remote, "err", err)
				c.close(Close{websocket.StatusCode(pe.Code), pe.Reason, false})
				// The frames can no longer be told apart: what the peer
				// sends until it closes (or closeWait closes the socket) is
				// read and dropped, so that no unread byte resets the
				// socket before the peer has read the close frame.
				_, _ = io.Copy(io.Discard, c.in)
				c.endRead()
				return 0, nil, false
			}
			c.endRead()
			if !c.ending() {
				c.g.cfg.Logger.Debug("read", "conn", c.id, "remote", c.remote, "err", err)
			}
			c.close(closeGone)
			return 0, nil, false
		}
		switch m.Op {
		case wsframe.OpPing:
			// A pong the socket does not take within WriteTimeout fails
			// the socket, and with it the next read.
			_ = c.net.writeControl(wsframe.AppendControl(nil, wsframe.OpPong, m.Payload), c.g.cfg.WriteTimeout)
		case wsframe.OpPong:
		case wsframe.OpClose:
			c.endRead()
			code, reason, err := wsframe.ParseClose(m.Payload)
			var pe *wsframe.ProtocolError
			if errors.As(err, &pe) {
				code, reason = pe.Code, pe.Reason
			}
			// The echo, unless the close handshake began on our side (then
			// this is the answer to our close frame).
			_, _ = c.net.writeClose(code, reason, closeWait)
			c.close(closeGone)
			return 0, nil, false
		default:
			return m.Op, m.Payload, true
		}
	}
}

// readOne reads and handles one frame; shortStack handles it on a goroutine
// of its own (see onShortStack), for a reader that stays parked in between.
// false: the connection is over.
func (c *conn) readOne(shortStack bool) bool {
	// No deadline: closing the connection fails a pending read.
	typ, b, ok := c.next()
	if !ok {
		return false
	}
	if c.ending() {
		return true // the close handshake is under way: read on, act on nothing
	}
	if !shortStack {
		return c.handle(c.ctx, typ, b)
	}
	var more bool
	onShortStack(func() { more = c.handle(c.ctx, typ, b) })
	return more
}

// onShortStack runs f to completion on a goroutine of its own. The reader
// goroutine of an idle connection spends its life parked in a read; the
// frames it handles need a deep stack for a moment (JWT checks grow one to
// ~16 KB, a snapshot encode too), and the runtime never shrinks a parked
// stack below twice what the read path uses. Handled here, they leave the
// reader at 4 KB instead of 8–16 KB. Client frames are few (hello, subs, a
// pong every ping interval), so the extra goroutine is cheap.
//
// A panic in f is raised again on the caller's goroutine, with f's stack,
// where the connection's recover logs it (see Gateway.ServeHTTP).
func onShortStack(f func()) {
	var p *connPanic
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				p = &connPanic{v, debug.Stack()}
			}
		}()
		f()
	}()
	<-done
	if p != nil {
		panic(p)
	}
}

// connPanic is a panic carried from onShortStack's goroutine.
type connPanic struct {
	value any
	stack []byte
}

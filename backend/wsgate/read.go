package wsgate

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
)

// readLoop reads until the connection ends, for a connection the poller
// cannot watch.
func (c *conn) readLoop() {
	defer c.recovered()
	for c.readOne(true) {
	}
}

// readable is the poller saying the socket has something: a goroutine reads
// it, handles it, and hands the socket back. At most one reads at a time.
func (c *conn) readable() {
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
		if err := c.g.poll.arm(c); err != nil && !c.ending() && !errors.Is(err, net.ErrClosed) {
			c.g.cfg.Logger.Warn("epoll re-arm failed", "conn", c.id, "err", err)
			c.close(closeInternal)
		}
	}()
}

// drain handles the frames already in the read buffer (the library reads
// ahead into it; the poller only sees the socket). false: the connection is
// over.
func (c *conn) drain() bool {
	for c.buffered() {
		if !c.readOne(false) {
			return false
		}
	}
	return !c.ending()
}

// buffered reports whether the read buffer holds the start of a frame.
// Between two reads the library's close handshake may be reading it, under
// inMu.
func (c *conn) buffered() bool {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return !c.ending() && c.in.Buffered() > 0
}

// readOne reads and handles one frame; shortStack handles it on a goroutine
// of its own (see onShortStack), for a reader that stays parked in between.
// false: the connection is over.
func (c *conn) readOne(shortStack bool) bool {
	// No context: one would cost a registration per read, and closing the
	// connection fails a pending read anyway.
	typ, b, err := c.ws.Read(context.Background())
	if err != nil {
		c.g.cfg.Logger.Debug("read", "conn", c.id, "remote", c.remote, "err", err)
		c.close(closeGone)
		return false
	}
	if !shortStack {
		return c.handle(c.ctx, typ, b)
	}
	var more bool
	onShortStack(func() { more = c.handle(c.ctx, typ, b) })
	return more
}

// onShortStack runs f to completion on a goroutine of its own. The reader
// goroutine of an idle connection spends its life parked in ws.Read; the
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

package wsgate

import (
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
	"github.com/telltale/telltale/shared/wire"
)

// Batches are split so that one frame stays well under a client's memory and
// a slow link still sees progress.
const (
	maxBatchEvents = 512
	maxBatchBytes  = 512 << 10
	// maxDeflates is how many frames are compressed at once across all
	// connections (Gateway.deflateSlots): 16 deflate writers, ~19 MB.
	maxDeflates = 16
)

// Connection scheduling states (conn.state).
const (
	idle int32 = iota // nothing queued, or the outbox has not kicked yet
	busy              // in a flusher's lists, being written, or on its slow path
)

// kick schedules the connection's queued frames; called after anything is
// queued, on the publish path: it never waits.
func (c *conn) kick() {
	if !c.ending() && c.sched.CompareAndSwap(idle, busy) {
		c.fl.enqueue(c)
	}
}

// wrote paces the connection after a write at now (GCRA): it may write again
// at due - window, so on average once per window, two writes in a row after
// a quiet spell.
func (c *conn) wrote(now, window int64) { c.due = max(c.due, now) + window }

// settle ends a write of the connection: it may be kicked again, and is at
// once when something was queued meanwhile.
func (c *conn) settle() {
	c.sched.Store(idle)
	if !c.out.empty() {
		c.kick()
	}
}

// fast reports whether the flusher may write items itself: frames of the
// gateway's own making, none to compress, no close, on a
// socket that takes writes without waiting.
func (c *conn) fast(items []item) bool {
	if c.net.raw == nil {
		return false
	}
	for i := range items {
		it := &items[i]
		switch {
		case it.end != nil:
			return false
		case len(it.b) > maxFastFrame:
			return false // a big snapshot: written from its own bytes, not copied
		case c.deflate && (it.replay || (!it.event && len(it.b) >= c.g.cfg.CompressAbove)):
			return false // catch-up or a snapshot: compressed on the slow path
		}
	}
	return true
}

// maxFastFrame is the largest frame a flusher copies into its buffer.
const maxFastFrame = 64 << 10

// startWriting sets up the connection's writing: the outbox kicks the
// connection's flusher when something is queued.
func (c *conn) startWriting() {
	c.due = c.g.now()
	c.out.owner = c
}

// stopWriting waits for the slow path to end; the connection must be closed
// (c.close), which fails a write that waits, and closed (teardown), so that
// no slow path starts again.
func (c *conn) stopWriting() {
	c.wmu.Lock() // a slow path starting now sees closed
	c.wmu.Unlock()
	c.writers.Wait()
}

// slowPath writes on a goroutine of the connection's own, which may wait for
// the socket: first rest, the remainder of a flusher's write (the socket
// mutex is still held for it, see heldWriter.tryWrite), or a whole write
// the socket was busy for (then not held); then items. The connection stays
// busy, so no flusher writes it meanwhile.
func (c *conn) slowPath(items []item, rest []byte, locked bool) {
	c.wmu.Lock()
	if c.life.Load() == closed {
		c.wmu.Unlock()
		if locked {
			c.net.mu.Unlock()
		}
		c.sched.Store(idle)
		return
	}
	c.writers.Add(1)
	c.wmu.Unlock()
	c.g.m.slowWrites.Inc()
	go func() {
		defer c.writers.Done()
		ok := true
		if len(rest) > 0 {
			c.watch(c.g.cfg.WriteTimeout)
			var err error
			if locked {
				err = c.net.finish(rest)
			} else {
				err = c.net.writeAll(rest)
			}
			ok = c.unwatch(err)
		}
		if ok && len(items) > 0 {
			ok = c.writeItems(items)
		}
		if !ok {
			c.sched.Store(idle)
			return
		}
		c.wrote(c.g.now(), int64(c.g.window()))
		c.settle()
	}()
}

// writeItems writes items in order (see eachFrame), each frame waiting for
// the socket. false: the connection is over.
func (c *conn) writeItems(items []item) bool {
	var groups []group
	return eachFrame(items, &groups,
		func(g *group) bool { return !c.ending() && c.writeBatches(g.stream, g.evs, g.ats, g.catchUp) },
		func(it *item) bool {
			switch {
			case c.ending():
				return false
			case it.end != nil:
				if len(it.b) > 0 {
					c.writeLast(it.b)
				}
				c.close(*it.end)
				return false
			}
			return c.write(it.b, shared)
		})
}

// signOutWait is how long a sign-out's last frame may take: a client that
// does not take it in time is closed without it.
const signOutWait = time.Second

// writeLast writes the frame that explains a close, waiting at most
// signOutWait (or the write timeout, if shorter); the close follows either
// way.
func (c *conn) writeLast(b []byte) {
	c.watch(min(signOutWait, c.g.cfg.WriteTimeout))
	_ = c.net.writeFrame(b)
	c.endWatch()
}

// writeBatches writes a stream's queued events as batch frames; deflate
// says they are catch-up (replayed events), which may be compressed.
func (c *conn) writeBatches(stream string, evs [][]byte, ats []int64, deflate bool) bool {
	var frame []byte
	hubSent := c.hubSent()
	for len(evs) > 0 {
		n := batchLen(evs)
		sent := time.Now().UnixNano()
		frame = wire.AppendBatch(frame[:0], stream, sent, evs[:n])
		how := plain
		if deflate {
			how = own
		}
		if !c.write(frame, how) {
			return false
		}
		observeSent(hubSent, ats[:n], sent)
		c.g.m.batches.Inc()
		c.g.m.eventsOut.Add(int64(n))
		evs, ats = evs[n:], ats[n:]
	}
	return true
}

// hubSent is the histogram of the connection's tenant's hub → sent stage:
// looked up again only when the tenant's label changed (it left or joined
// the top N), so a write pass takes no lock for it.
//
// The tenant is read under whoMu, not from c.tenant: a frame queued before
// the hello is answered (a ping of a slow handshake) is written by a
// flusher while the handshake may still be setting the tenant. Before the
// hello there is no tenant and no live event to observe: nil.
func (c *conn) hubSent() *metrics.Histogram {
	st := c.stages.Load()
	if st == nil || st.Dropped() {
		c.whoMu.Lock()
		who := c.who
		c.whoMu.Unlock()
		if who == nil {
			return nil
		}
		st = c.g.cfg.Stages.For(who.Tenant, 0)
		c.stages.Store(st)
	}
	return st.HubSent
}

// How a frame may be compressed (conn.write).
type compression int8

const (
	plain  compression = iota // never: a live batch, encoded once for every subscriber
	own                       // for this connection alone: a catch-up batch built for it
	shared                    // handed to many connections as it is (a snapshot): compressed once for all (sharedDeflate)
)

// write writes one frame, waiting for the socket. On a connection that
// negotiated deflate, a frame over Config.CompressAbove is compressed
// (wsframe.AppendCompressed) unless how is plain: snapshots and catch-up
// are; a live batch goes as the gateway builds it, because it was encoded
// once for every subscriber, and compressing each copy would cost the
// fan-out its CPU.
//
// Compression takes one of the gateway's deflate slots, never waiting for
// one: with all of them busy the frame goes uncompressed. A slot covers only
// the compression (the whole compressed frame is built in a buffer of its
// own), so the socket write, to a slow client or not, happens after the slot
// is free again. A shared frame is compressed once for every connection it
// is written to (sharedDeflate).
func (c *conn) write(b []byte, how compression) bool {
	c.watch(c.g.cfg.WriteTimeout)
	var err error
	switch {
	case how == plain || !c.deflate || len(b) < c.g.cfg.CompressAbove:
		err = c.net.writeFrame(b)
	case how == shared:
		if z, ok := c.g.deflated.frame(c.g, b); ok {
			err = c.net.writeAll(z)
		} else {
			err = c.net.writeFrame(b)
		}
	default:
		select {
		case c.g.deflateSlots <- struct{}{}:
			buf := heldBuffers.Get().(*[]byte)
			*buf = wsframe.AppendCompressed((*buf)[:0], b)
			<-c.g.deflateSlots
			err = c.net.writeAll(*buf)
			if cap(*buf) <= maxPooledBuffer {
				heldBuffers.Put(buf)
			}
		default:
			c.g.m.deflateBusy.Inc()
			err = c.net.writeFrame(b)
		}
	}
	if !c.unwatch(err) {
		return false
	}
	c.g.m.framesOut.Inc()
	c.g.m.bytesOut.Add(int64(len(b)))
	return true
}

package wsgate

import (
	"sync"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/wire"
)

// A flusher writes the queued frames of its share of the gateway's
// connections. There is one per CPU, and it runs only while some of its
// connections have something queued.
//
// A connection whose outbox gets something is kicked: it joins its
// flusher's ready list, once, until it has been written. Each pass takes the
// ready list; a connection that wrote less than a window ago waits in a
// queue ordered by when it may write again (the pacing, see Gateway.window),
// the others are written at once. Writing a connection means taking
// everything its outbox holds, building the frames (a stream's events
// coalesced into batch frames, each event's bytes encoded once for every
// subscriber) into one buffer, and handing that buffer to the socket in one
// write(2) that never waits, or, on Linux with io_uring, one send in a batch
// of up to 64 connections' sends made in one system call (batch.go). What the socket does not take goes to the
// connection's slow path, a goroutine of its own that may wait; so do frames
// that may wait (compressed ones, the close), and every
// frame of a connection without a plain socket (TLS).
//
// A flusher therefore never waits for a client, and a busy connection costs
// one write(2) per window, with no goroutine, timer or channel of its own:
// measured, this halved the gateway's CPU per frame against a writer
// goroutine per connection (bench/results/2026-12-06-fanout.md).
type flusher struct {
	g *Gateway

	mu      sync.Mutex
	ready   []*conn // kicked since the last pass
	running bool    // a goroutine runs run
	closed  bool    // Shutdown: start no goroutine again
	wake    chan struct{}

	// Owned by the running goroutine.
	batch  sendBatch // writes sent in one io_uring_enter (batch.go)
	spare  []*conn
	later  laterQueue
	timer  *time.Timer
	items  []item
	groups []group
	out    []byte // one connection's frames, back to back; a batch's connections', one after another
	body   []byte // one frame's payload
	n      tally

	// The clock, read once per connection written (see now and stamp).
	clock      int64 // Gateway.now at the last reading
	stale      bool  // a write or a wait came since: read again
	wall, base int64 // a wall-clock reading (Unix ns) and Gateway.now at it
}

// group is one stream's events in one write, in seq order.
type group struct {
	stream  string
	evs     [][]byte
	ats     []int64 // each event's Ingested stamp, zero for replays
	catchUp bool    // some are replayed to a resuming subscription
}

// observeSent records hub → sent for a batch frame's live events, sent at
// sent.
func observeSent(h *metrics.Histogram, ats []int64, sent int64) {
	if h == nil {
		return // before the hello: no tenant, and no live event
	}
	for _, at := range ats {
		h.ObserveSpan(at, sent)
	}
}

// tally counts what a pass wrote; it reaches the metrics once per pass.
type tally struct{ frames, bytes, batches, events int64 }

func newFlusher(g *Gateway) *flusher {
	return &flusher{g: g, wake: make(chan struct{}, 1)}
}

func (f *flusher) enqueue(c *conn) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		c.sched.Store(idle)
		return
	}
	f.ready = append(f.ready, c)
	start := !f.running
	if start {
		f.running = true
		f.g.flushing.Add(1)
	}
	f.mu.Unlock()
	if start {
		go f.run()
		return
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stop makes the flusher start no goroutine again; Shutdown then waits for
// the one running, if any.
func (f *flusher) stop() {
	f.mu.Lock()
	f.closed = true
	if !f.running {
		f.closeRing()
	}
	f.mu.Unlock()
}

func (f *flusher) run() {
	defer f.g.flushing.Done()
	for {
		f.mu.Lock()
		ready := f.ready
		f.ready = f.spare[:0]
		if len(ready) == 0 && len(f.later) == 0 {
			f.spare = ready
			f.drop() // before running goes false: the next goroutine owns these
			if f.closed {
				f.closeRing()
			}
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()

		window := int64(f.g.window())
		f.stale = true
		for _, c := range ready {
			now := f.now()
			if at := c.due - window; at > now {
				c.at = at
				f.later.push(c)
				continue
			}
			f.flush(c, now, window)
			if len(f.batch.writes) == 0 {
				f.stale = true // written (a batch's send, a write(2)) or handed on
			}
		}
		clear(ready)
		f.spare = ready[:0]
		for len(f.later) > 0 {
			now := f.g.now()
			if f.later[0].at > now {
				break
			}
			f.flush(f.later.pop(), now, window)
		}
		f.send(window)
		f.count()

		f.mu.Lock()
		more := len(f.ready) > 0
		f.mu.Unlock()
		if more || len(f.later) == 0 {
			continue
		}
		wait := time.Duration(f.later[0].at - f.g.now())
		if wait <= 0 {
			continue
		}
		if f.timer == nil {
			f.timer = time.NewTimer(wait)
		} else {
			f.timer.Reset(wait)
		}
		select {
		case <-f.wake:
			f.timer.Stop()
		case <-f.timer.C:
		}
	}
}

// now is Gateway.now for deciding whether a connection may write: the
// reading stamp made for the connection written before it, unless a system
// call (a batch's send, a write(2)) or the next pass came in between. Each
// reading was a vDSO clock_gettime; a delivery made three (this, and the
// two of time.Now for the Sent stamp), now one.
func (f *flusher) now() int64 {
	if f.stale {
		f.clock, f.stale = f.g.now(), false
	}
	return f.clock
}

// stamp reads the clock for a connection's frames, after its outbox was
// taken (so no event in them was ingested after it): their Sent stamp, wall
// clock. It is a wall-clock reading at most a millisecond old plus the
// monotonic time since, so a step of the wall clock shows within a
// millisecond; both parts of the reading come from one time.Now.
func (f *flusher) stamp() int64 {
	now := f.g.now()
	if f.wall == 0 || now-f.base > int64(time.Millisecond) {
		t := time.Now()
		f.wall, f.base = t.UnixNano(), int64(t.Sub(f.g.epoch))
		now = f.base
	}
	f.clock, f.stale = now, false
	return f.wall + now - f.base
}

// drop lets go of what an idle flusher need not keep.
func (f *flusher) drop() {
	if cap(f.out) > 64<<10 {
		f.out = nil
	}
	if cap(f.body) > 64<<10 {
		f.body = nil
	}
	f.groups = nil
}

// flush writes everything queued for c.
func (f *flusher) flush(c *conn, now, window int64) {
	items, slow := c.out.take(f.items[:0])
	f.items = items
	defer clear(items)
	switch {
	case c.ending():
		c.sched.Store(idle)
		return
	case slow:
		c.g.m.slowCloses.Inc()
		c.close(closeSlowControl)
		c.sched.Store(idle)
		return
	case len(items) == 0:
		c.settle()
		return
	case !c.fast(items):
		c.slowPath(append([]item(nil), items...), nil, false)
		return
	}
	if f.batching() {
		off := len(f.out)
		f.build(c, items)
		f.queue(c, off, now, window)
		return
	}
	f.out = f.out[:0]
	f.build(c, items)
	n, err := c.net.tryWrite(f.out)
	f.done(c, f.out, n, err, now, window)
	if cap(f.out) > 1<<20 {
		f.out = nil // one huge write: do not keep its buffer
	}
}

// done hands c what became of its write of buf at now, of which the socket
// took n bytes.
func (f *flusher) done(c *conn, buf []byte, n int, err error, now, window int64) {
	switch {
	case err == errBusy:
		// Another writer has the socket (the close frame or a pong, a
		// sign-out): the slow path waits for it.
		c.slowPath(nil, append([]byte(nil), buf...), false)
	case err != nil:
		c.close(closeWriteFailed)
		c.sched.Store(idle)
	case n < len(buf):
		c.slowPath(nil, append([]byte(nil), buf[n:]...), true)
	default:
		c.wrote(now, window)
		c.settle()
	}
}

// build appends c's frames to f.out (see eachFrame for their order).
func (f *flusher) build(c *conn, items []item) {
	sent := f.stamp()
	hubSent := c.hubSent()
	eachFrame(items, &f.groups,
		func(g *group) bool { f.batches(g, sent); observeSent(hubSent, g.ats, sent); return true },
		func(it *item) bool { f.frame(it.b); return true })
}

// eachFrame walks a write's items in the outbox's order and hands each
// stream's queued events to batch, grouped, and every other item to ctrl. A
// stream's frames keep their order: its group goes before any later control
// frame of the same stream, and the groups left go at the end, in the order
// their streams first appeared; across streams order is free. groups is
// scratch, left empty. A callback's false stops the walk, and eachFrame
// returns false.
func eachFrame(items []item, groups *[]group, batch func(*group) bool, ctrl func(*item) bool) bool {
	defer func() {
		for i := range *groups {
			clear((*groups)[i].evs)
		}
		*groups = (*groups)[:0]
	}()
	flush := func(g *group) bool {
		if len(g.evs) == 0 {
			return true
		}
		ok := batch(g)
		g.evs, g.ats, g.catchUp = g.evs[:0], g.ats[:0], false
		return ok
	}
	for i := range items {
		it := &items[i]
		if it.event {
			g := findGroup(groups, it.stream)
			g.evs = append(g.evs, it.b)
			g.ats = append(g.ats, it.at)
			g.catchUp = g.catchUp || it.replay
			continue
		}
		if it.stream != "" {
			for j := range *groups {
				if g := &(*groups)[j]; g.stream == it.stream && !flush(g) {
					return false
				}
			}
		}
		if !ctrl(it) {
			return false
		}
	}
	for j := range *groups {
		if !flush(&(*groups)[j]) {
			return false
		}
	}
	return true
}

// findGroup finds or adds stream's group, reusing the scratch's storage.
func findGroup(groups *[]group, stream string) *group {
	gs := *groups
	for j := range gs {
		if gs[j].stream == stream {
			return &gs[j]
		}
	}
	if len(gs) < cap(gs) {
		gs = gs[:len(gs)+1]
		g := &gs[len(gs)-1]
		g.stream, g.evs, g.ats, g.catchUp = stream, g.evs[:0], g.ats[:0], false
		*groups = gs
		return g
	}
	*groups = append(gs, group{stream: stream})
	return &(*groups)[len(*groups)-1]
}

// batches appends g's events as batch frames.
func (f *flusher) batches(g *group, sent int64) {
	for evs := g.evs; len(evs) > 0; {
		n := batchLen(evs)
		f.body = wire.AppendBatch(f.body[:0], g.stream, sent, evs[:n])
		f.frame(f.body)
		f.n.batches++
		f.n.events += int64(n)
		evs = evs[n:]
	}
	if cap(f.body) > 2*maxBatchBytes {
		f.body = nil
	}
}

// batchLen is how many of evs go in the next batch frame.
func batchLen(evs [][]byte) int {
	n, size := 0, 0
	for n < len(evs) && n < maxBatchEvents && (n == 0 || size+len(evs[n]) <= maxBatchBytes) {
		size += len(evs[n])
		n++
	}
	return n
}

func (f *flusher) frame(payload []byte) {
	f.out = appendFrame(f.out, payload)
	f.n.frames++
	f.n.bytes += int64(len(payload))
}

// count adds a pass's tally to the metrics: one atomic add per counter per
// pass rather than per frame, which two flushers would contend on.
func (f *flusher) count() {
	m := &f.g.m
	if f.n.frames > 0 {
		m.framesOut.Add(f.n.frames)
		m.bytesOut.Add(f.n.bytes)
	}
	if f.n.batches > 0 {
		m.batches.Add(f.n.batches)
		m.eventsOut.Add(f.n.events)
	}
	f.n = tally{}
}

// laterQueue is a min-heap of connections by the time they may write (at).
type laterQueue []*conn

func (q *laterQueue) push(c *conn) {
	*q = append(*q, c)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *laterQueue) pop() *conn {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = nil
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].at < h[m].at {
			m = l
		}
		if r < len(h) && h[r].at < h[m].at {
			m = r
		}
		if m == i {
			break
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
	*q = h
	return top
}

package wsgate

import (
	"sync"

	"github.com/telltale/telltale/shared/wire"
)

// outbox is one connection's queue between the hub and the connection's
// write side: its flusher, which takes everything queued in a write that
// never waits, and its slow path, for what must wait for the socket (see
// flush.go; no connection has a writer goroutine of its own). It is the
// hub's Subscriber for every stream of the connection, so its methods run
// on the publish path and never block: they append and kick the connection
// (signal).
//
// Memory is bounded without ever waiting:
//   - queued events are bounded in bytes; when a stream's event would pass the
//     bound, that stream's queued events are dropped and replaced by one resync
//     frame (the client subscribes again and gets a snapshot), and the stream's
//     further events are dropped until it does;
//   - a new snapshot of a stream replaces everything still queued for that
//     stream, and an unsubscribe removes it, so at most one snapshot per
//     subscribed stream is queued;
//   - control frames (snapshots, resyncs, errors, pings) are bounded in bytes
//     too, at four times the event bound and never below 16 MiB so that
//     legitimately large snapshots fit: a snapshot that would pass it while
//     other control frames are queued is replaced by a resync (the client
//     asks again once the queue has gone), and past it otherwise the
//     connection is marked slow and its flusher closes it with
//     CloseSlowConsumer.
//
// A client that stops reading altogether is closed by the slow path's write
// watchdog (Config.WriteTimeout).
type outbox struct {
	limit     int // queued event bytes
	ctrlLimit int // queued control-frame bytes
	metrics   *gateMetrics

	mu         sync.Mutex
	items      []item
	eventBytes int
	ctrlBytes  int
	slow       bool             // control frames passed the bound: close the connection
	resyncing  map[string]bool  // made when first needed: most connections never resync
	holds      map[string]*hold // streams whose older history is being fetched; made when first needed
	tokens     uint64
	// owner, when set, is kicked after anything is queued (the connection
	// is scheduled with its flusher), without o.mu held. A pointer, not a
	// func: the method value c.kick was an object of its own (16 bytes per
	// connection) that each delivery went through.
	owner *conn
}

// hold buffers a stream's live deliveries while its older events are read
// from the store, so that history, then live, go out in seq order.
type hold struct {
	token    uint64
	events   [][]byte
	bytes    int
	overflow bool
	// need and reached: awaitHeld's signal, closed once the hold has need
	// events (or overflowed).
	need    int
	reached chan struct{}
}

type item struct {
	stream string // empty for frames about no stream (ping, error, welcome)
	event  bool   // an encoded event to coalesce into a batch frame
	// replay marks an event replayed to a resuming subscription: its batch
	// is catch-up, which is worth deflating (live batches never are).
	replay bool
	// at is a live event's Ingested stamp (hub → sent is measured from
	// it); zero for replays and every other frame.
	at int64
	b  []byte
	// end, when set, closes the connection once everything queued before
	// it is written; b, if any, is a last frame written just before the
	// close, given at most signOutWait (a sign-out's reason).
	end *Close
}

func newOutbox(limit int, m *gateMetrics) *outbox {
	return &outbox{limit: limit, ctrlLimit: max(4*limit, 16<<20), metrics: m}
}

func (o *outbox) signal() {
	if o.owner != nil {
		o.owner.kick()
	}
}

// empty reports whether nothing is queued.
func (o *outbox) empty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items) == 0 && !o.slow
}

// push queues a frame about no stream in particular.
func (o *outbox) push(frame []byte) {
	o.mu.Lock()
	o.ctrlLocked("", frame)
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) ctrlLocked(stream string, frame []byte) {
	o.items = append(o.items, item{stream: stream, b: frame})
	o.ctrlBytes += len(frame)
	if o.ctrlBytes > o.ctrlLimit {
		o.slow = true
	}
}

// pushClose queues the connection's end after what is already queued, so
// that the error frames explaining it reach the client first.
func (o *outbox) pushClose(cl Close) {
	o.mu.Lock()
	o.items = append(o.items, item{end: &cl})
	o.mu.Unlock()
	o.signal()
}

// pushSignOut queues a sign-out's last frame and the close after it, in
// place of everything queued: the connection ends, and the client must read
// why before anything else.
func (o *outbox) pushSignOut(last []byte, cl Close) {
	o.mu.Lock()
	clear(o.items)
	o.items = append(o.items[:0], item{end: &cl, b: last})
	o.eventBytes, o.ctrlBytes, o.slow = 0, 0, false
	o.mu.Unlock()
	o.signal()
}

// forget drops whatever is queued for a stream the client unsubscribed from.
func (o *outbox) forget(stream string) {
	o.mu.Lock()
	o.dropLocked(stream, false)
	delete(o.resyncing, stream)
	delete(o.holds, stream)
	o.mu.Unlock()
}

// restartLocked clears everything about a stream before a new beginning
// (snapshot, replay or hold).
func (o *outbox) restartLocked(stream string) {
	o.dropLocked(stream, false)
	delete(o.resyncing, stream)
	delete(o.holds, stream)
}

// Replay implements hub.Resumer: an empty batch acknowledges the resumed
// subscription and says where the replay ends, then the missed events follow
// like any others.
func (o *outbox) Replay(stream string, head uint64, events [][]byte) {
	ack := wire.EncodeResumeAck(stream, head)
	o.mu.Lock()
	o.restartLocked(stream)
	o.ctrlLocked(stream, ack)
	for _, ev := range events {
		o.items = append(o.items, item{stream: stream, event: true, replay: true, b: ev})
		o.eventBytes += len(ev)
	}
	o.mu.Unlock()
	o.signal()
}

// Hold implements hub.Resumer.
func (o *outbox) Hold(stream string) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restartLocked(stream)
	o.tokens++
	if o.holds == nil {
		o.holds = make(map[string]*hold)
	}
	o.holds[stream] = &hold{token: o.tokens}
	return o.tokens
}

// release ends a hold: the fetched history, then what was held, go out in
// order. ok false (the store no longer has them) or a held backlog over the
// bound turns into a resync instead. A release for a hold that was replaced
// (the client resubscribed meanwhile) is ignored.
func (o *outbox) release(stream string, token uint64, history [][]byte, upTo uint64, ok bool) {
	o.mu.Lock()
	h := o.holds[stream]
	if h == nil || h.token != token {
		o.mu.Unlock()
		return
	}
	delete(o.holds, stream)
	if !ok || h.overflow {
		o.resyncLocked(stream, "the events since the cursor could not be replayed in time")
		o.mu.Unlock()
		o.signal()
		return
	}
	// The held events continue the history without a gap.
	ack := wire.EncodeResumeAck(stream, upTo+uint64(len(h.events)))
	o.ctrlLocked(stream, ack)
	for _, evs := range [][][]byte{history, h.events} {
		for _, ev := range evs {
			o.items = append(o.items, item{stream: stream, event: true, replay: true, b: ev})
			o.eventBytes += len(ev)
		}
	}
	o.mu.Unlock()
	o.signal()
}

// awaitHeld returns a channel closed once the hold token of stream holds n
// events or overflowed (at once when it already does or is gone): a cursor
// that was ahead of the hub has been reached.
func (o *outbox) awaitHeld(stream string, token uint64, n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan struct{})
	h := o.holds[stream]
	if h == nil || h.token != token || h.overflow || len(h.events) >= n {
		close(ch)
		return ch
	}
	h.need, h.reached = n, ch
	return ch
}

// releaseAhead ends the hold of a cursor that was ahead of the hub (hub
// Resume.Ahead), after: its first skip events are the client's already and
// are dropped, the rest follow an acknowledgement. A hold that has not
// reached the cursor (the wait ran out: the cursor was from nowhere, or this
// node is too far behind) or overflowed turns into a resync. A release for
// a hold that was replaced is ignored.
func (o *outbox) releaseAhead(stream string, token, after uint64, skip int) {
	o.mu.Lock()
	h := o.holds[stream]
	if h == nil || h.token != token {
		o.mu.Unlock()
		return
	}
	delete(o.holds, stream)
	if h.overflow || len(h.events) < skip {
		o.resyncLocked(stream, "the cursor is ahead of this server's stream: starting from a fresh snapshot")
		o.mu.Unlock()
		o.signal()
		return
	}
	o.ctrlLocked(stream, wire.EncodeResumeAck(stream, after+uint64(len(h.events))))
	for _, ev := range h.events[skip:] {
		o.items = append(o.items, item{stream: stream, event: true, replay: true, b: ev})
		o.eventBytes += len(ev)
	}
	o.mu.Unlock()
	o.signal()
}

// Snapshot implements hub.Subscriber. A new snapshot supersedes whatever is
// still queued for its stream and ends any resync of it.
//
// A snapshot that would pass the control bound while other control frames
// are queued is not queued: the stream resyncs instead (a small frame), and
// the client subscribes again, by when the writer has taken the queue. A
// page that subscribes to several large streams at once (8 snapshots of
// 100k points × 10 series are ~80 MB) thus gets them one bound's worth at
// a time, instead of being closed as a slow consumer, reconnecting, and
// getting a few more each time; a client that does not read still holds
// at most the bound (and the resync frames, one per stream).
func (o *outbox) Snapshot(stream string, frame []byte) {
	o.mu.Lock()
	o.restartLocked(stream)
	if o.ctrlBytes > 0 && o.ctrlBytes+len(frame) > o.ctrlLimit {
		// One small frame per stream in place of its snapshot (the next
		// restart drops it): bounded by the subscriptions, and no sign of
		// a slow reader.
		slow := o.slow
		o.resyncLocked(stream, "snapshot deferred: the connection's queue is full")
		o.slow = slow
	} else {
		o.ctrlLocked(stream, frame)
	}
	o.mu.Unlock()
	o.signal()
}

// Deliver implements hub.Subscriber: the events join the queue together, so
// the write side sends them in one batch frame.
func (o *outbox) Deliver(stream string, _ uint64, events [][]byte) {
	o.DeliverStamped(stream, 0, 0, events)
}

// DeliverStamped implements hub.StampedSubscriber: Deliver, with the
// events' Ingested stamp kept for the hub → sent histogram.
func (o *outbox) DeliverStamped(stream string, _ uint64, ingested int64, events [][]byte) {
	o.mu.Lock()
	for _, ev := range events {
		o.deliverLocked(stream, ev, ingested)
	}
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) deliverLocked(stream string, ev []byte, ingested int64) {
	if h := o.holds[stream]; h != nil {
		if h.bytes+len(ev) > o.limit {
			h.overflow = true // released as a resync
			h.events, h.bytes = nil, 0
		} else if !h.overflow {
			h.events = append(h.events, ev)
			h.bytes += len(ev)
		}
		if h.reached != nil && (h.overflow || len(h.events) >= h.need) {
			close(h.reached)
			h.reached = nil
		}
		return
	}
	switch {
	case o.resyncing[stream]:
		o.metrics.dropped.Inc()
	case o.eventBytes+len(ev) > o.limit:
		o.resyncLocked(stream, "slow consumer: backlog over the connection's limit")
	default:
		o.items = append(o.items, item{stream: stream, event: true, b: ev, at: ingested})
		o.eventBytes += len(ev)
	}
}

// Resync implements hub.Subscriber.
func (o *outbox) Resync(stream, reason string) {
	o.mu.Lock()
	if !o.resyncing[stream] {
		o.resyncLocked(stream, reason)
	}
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) resyncLocked(stream, reason string) {
	o.dropLocked(stream, true)
	delete(o.holds, stream)
	if o.resyncing == nil {
		o.resyncing = make(map[string]bool)
	}
	o.resyncing[stream] = true
	o.metrics.resyncs.Inc()
	frame, err := wire.Encode(wire.Resync{Stream: stream, Reason: reason})
	if err != nil { // a fixed struct of two strings: cannot fail
		panic(err)
	}
	o.ctrlLocked(stream, frame)
}

// dropLocked removes the stream's queued events (and, unless eventsOnly, its
// queued snapshot and resync frames too).
func (o *outbox) dropLocked(stream string, eventsOnly bool) {
	kept := o.items[:0]
	for _, it := range o.items {
		if it.stream == stream && (it.event || !eventsOnly) {
			if it.event {
				o.eventBytes -= len(it.b)
				o.metrics.dropped.Inc()
			} else {
				o.ctrlBytes -= len(it.b)
			}
			continue
		}
		kept = append(kept, it)
	}
	clear(o.items[len(kept):])
	o.items = kept
}

// take moves everything queued into buf, and reports whether the connection
// has been marked slow.
func (o *outbox) take(buf []item) ([]item, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	o.eventBytes, o.ctrlBytes = 0, 0
	return buf, o.slow
}

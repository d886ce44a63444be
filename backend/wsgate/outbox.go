package wsgate

import (
	"sync"

	"github.com/telltale/telltale/shared/wire"
)

// outbox is one connection's queue between the hub and the writer goroutine.
// It is the hub's Subscriber for every stream of the connection, so its
// methods run on the publish path and never block: they append and signal.
//
// Memory is bounded without ever waiting:
//   - queued events are bounded in bytes; when a stream's event would pass the
//     bound, that stream's queued events are dropped and replaced by one resync
//     frame (the client subscribes again and gets a snapshot), and the stream's
//     further events are dropped until it does;
//   - a new snapshot of a stream replaces everything still queued for that
//     stream, so at most one snapshot per subscribed stream is queued;
//   - pings and errors are few: the writer makes pings only when it is not
//     stuck, and refused frames close the connection after maxBadFrames.
//
// A client that stops reading altogether is closed by the writer's timeout.
type outbox struct {
	limit   int
	metrics *gateMetrics

	mu         sync.Mutex
	items      []item
	eventBytes int
	resyncing  map[string]bool
	wake       chan struct{} // capacity 1: "there is something to write"
}

type item struct {
	stream string // empty for frames about no stream (ping, error, welcome)
	event  bool   // an encoded event to coalesce into a batch frame
	b      []byte
}

func newOutbox(limit int, m *gateMetrics) *outbox {
	return &outbox{limit: limit, metrics: m, resyncing: make(map[string]bool), wake: make(chan struct{}, 1)}
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// push queues a frame about no stream in particular.
func (o *outbox) push(frame []byte) {
	o.mu.Lock()
	o.items = append(o.items, item{b: frame})
	o.mu.Unlock()
	o.signal()
}

// Snapshot implements hub.Subscriber. A new snapshot supersedes whatever is
// still queued for its stream and ends any resync of it.
func (o *outbox) Snapshot(stream string, frame []byte) {
	o.mu.Lock()
	o.dropLocked(stream, false)
	delete(o.resyncing, stream)
	o.items = append(o.items, item{stream: stream, b: frame})
	o.mu.Unlock()
	o.signal()
}

// Deliver implements hub.Subscriber.
func (o *outbox) Deliver(stream string, _ uint64, ev []byte) {
	o.mu.Lock()
	switch {
	case o.resyncing[stream]:
		o.metrics.dropped.Inc()
	case o.eventBytes+len(ev) > o.limit:
		o.resyncLocked(stream, "slow consumer: backlog over the connection's limit")
	default:
		o.items = append(o.items, item{stream: stream, event: true, b: ev})
		o.eventBytes += len(ev)
	}
	o.mu.Unlock()
	o.signal()
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
	o.resyncing[stream] = true
	o.metrics.resyncs.Inc()
	frame, err := wire.Encode(wire.Resync{Stream: stream, Reason: reason})
	if err != nil { // a fixed struct of two strings: cannot fail
		panic(err)
	}
	o.items = append(o.items, item{stream: stream, b: frame})
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
			}
			continue
		}
		kept = append(kept, it)
	}
	clear(o.items[len(kept):])
	o.items = kept
}

// take moves everything queued into buf.
func (o *outbox) take(buf []item) []item {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	o.eventBytes = 0
	return buf
}

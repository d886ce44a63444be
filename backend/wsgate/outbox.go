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
//     stream, and an unsubscribe removes it, so at most one snapshot per
//     subscribed stream is queued;
//   - control frames (snapshots, resyncs, errors, pings) are bounded in bytes
//     too, at four times the event bound and never below 16 MiB so that
//     legitimately large snapshots fit: past it the connection is marked slow
//     and the writer closes it with CloseSlowConsumer.
//
// A client that stops reading altogether is closed by the writer's timeout.
type outbox struct {
	limit     int // queued event bytes
	ctrlLimit int // queued control-frame bytes
	metrics   *gateMetrics

	mu         sync.Mutex
	items      []item
	eventBytes int
	ctrlBytes  int
	slow       bool // control frames passed the bound: close the connection
	resyncing  map[string]bool
	wake       chan struct{} // capacity 1: "there is something to write"
}

type item struct {
	stream string // empty for frames about no stream (ping, error, welcome)
	event  bool   // an encoded event to coalesce into a batch frame
	b      []byte
}

func newOutbox(limit int, m *gateMetrics) *outbox {
	return &outbox{limit: limit, ctrlLimit: max(4*limit, 16<<20), metrics: m, resyncing: make(map[string]bool), wake: make(chan struct{}, 1)}
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

// forget drops whatever is queued for a stream the client unsubscribed from.
func (o *outbox) forget(stream string) {
	o.mu.Lock()
	o.dropLocked(stream, false)
	delete(o.resyncing, stream)
	o.mu.Unlock()
}

// Snapshot implements hub.Subscriber. A new snapshot supersedes whatever is
// still queued for its stream and ends any resync of it.
func (o *outbox) Snapshot(stream string, frame []byte) {
	o.mu.Lock()
	o.dropLocked(stream, false)
	delete(o.resyncing, stream)
	o.ctrlLocked(stream, frame)
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

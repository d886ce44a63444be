// Package hub keeps each stream's hot state and fans its events out to
// subscribers. Each event is encoded once and the same bytes go to every
// subscriber; the snapshot a subscriber starts from and the deltas after it
// are handed over under one lock, so nothing falls between them.
//
// It must never block on a subscriber: Subscriber.Deliver is called on the
// publish path and has to return at once (the connection writer queues or
// drops, never waits).
package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Subscriber receives a stream's frames. Its methods are called with the
// stream locked, so they arrive in stream order (the snapshot before any
// event after it), and they must return without blocking.
type Subscriber interface {
	// Snapshot hands over the encoded snapshot frame a subscription starts from.
	Snapshot(stream string, frame []byte)
	// Deliver hands over consecutive encoded events (wire.EncodeEvent
	// bytes), the first of them at seq first: all the events one publish
	// brought, so that a subscriber takes them in one go. The bytes are
	// shared with every subscriber and must not change; the slice itself is
	// the hub's and must not be kept.
	Deliver(stream string, first uint64, events [][]byte)
	// Resync says the subscriber's copy of the stream cannot be continued.
	Resync(stream, reason string)
}

// StampedSubscriber is a Subscriber that is also handed the Ingested stamp
// of the events (one per Publish): the hub calls DeliverStamped instead of
// Deliver. wsgate measures hub → sent with it without decoding the events.
// Replays (a resuming subscription's catch-up) come through Deliver.
type StampedSubscriber interface {
	DeliverStamped(stream string, first uint64, ingested int64, events [][]byte)
}

// Config configures a Hub. Zero values are the documented defaults.
type Config struct {
	Limits  livestate.Limits // state bounds; see livestate.Limits
	Logger  *slog.Logger     // nil means discard
	Metrics *metrics.Registry
	// Stages, when set, records each published event's commit → hub and
	// stored → hub latencies (Created and Stored to Ingested).
	Stages *metrics.Stages
	Now    func() time.Time // nil means time.Now
	// Ring is how many encoded events per stream are kept for resuming a
	// client from its cursor without the store; zero means 4096.
	Ring int
	// RingBytes bounds the ring's encoded bytes per stream as well, so a
	// stream of wide events keeps fewer of them (older cursors resume from
	// the store); zero means 8 MiB. The newest event is always kept.
	RingBytes int
	// TenantLimits are per-tenant overrides of Limits: a tenant's non-zero
	// fields replace the server's. Nil means none.
	TenantLimits map[string]livestate.Limits
	// Tap, when set, is handed every batch Publish folded, after the fold
	// and the delivery, with the stream still locked: so in stream order
	// per stream. It must return at once (queue or drop, never wait) and
	// must not keep evs (the slice) nor change the events. The aggregate
	// engine reads source events here, off the subscribers' path.
	Tap func(tenant string, evs []wire.Event)
}

// Hub is safe for concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	streams map[key]*stream

	published *metrics.Value
	fanout    *metrics.Value
	encodeErr *metrics.Value
	replayed  *metrics.Value
}

type key struct{ tenant, stream string }

type stream struct {
	mu     sync.Mutex
	st     livestate.Stream
	recent recent // newest encoded events, for resuming
	subs   subscribers
	dead   bool      // removed from the hub's map; look the name up again
	snap   snapCache // the last snapshot encoded, held weakly
}

// subscribers is a stream's subscribers: a slice that a publish walks in
// order, and each one's place in it. Ranging over a map of 5,000
// subscribers visited their outboxes in hash order, scattered in memory; the
// slice visits them in the order they subscribed, which is mostly the order
// they were allocated in, and the walk itself is cheaper. Order across
// subscribers is free (each one's own frames keep the stream's order).
type subscribers struct {
	list []subscriber
	at   map[Subscriber]int // index in list
}

type subscriber struct {
	sub     Subscriber
	stamped StampedSubscriber // sub's stamped self, or nil
}

func (ss *subscribers) len() int { return len(ss.list) }

// add adds sub, once: adding it again changes nothing.
func (ss *subscribers) add(sub Subscriber) {
	if _, ok := ss.at[sub]; ok {
		return
	}
	if ss.at == nil {
		ss.at = make(map[Subscriber]int)
	}
	stamped, _ := sub.(StampedSubscriber)
	ss.at[sub] = len(ss.list)
	ss.list = append(ss.list, subscriber{sub: sub, stamped: stamped})
}

// remove removes sub, if it is there: the last subscriber takes its place.
func (ss *subscribers) remove(sub Subscriber) {
	i, ok := ss.at[sub]
	if !ok {
		return
	}
	delete(ss.at, sub)
	last := len(ss.list) - 1
	if i != last {
		ss.list[i] = ss.list[last]
		ss.at[ss.list[i].sub] = i
	}
	ss.list[last] = subscriber{}
	ss.list = ss.list[:last]
}

// snapCache is a stream's last encoded snapshot frame, held by a weak
// pointer: subscribers that start from the same position (a reconnect
// storm, a shift's pages opening at once, long-polls) share one encoding
// for as long as any of them still holds the bytes, instead of each
// encoding the whole state again under the stream's lock (a 100k-point,
// 10-series stream is ~10 MB a snapshot), and it keeps nothing alive once
// they are all sent. The frame is read-only to everyone it is handed to,
// as every event's encoding already is. Every publish forgets it; its
// position and reason are checked again on use.
type snapCache struct {
	epoch, seq uint64
	reason     string
	first      weak.Pointer[byte] // the frame's first byte: its array lives while anyone holds the frame
	n          int
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ring <= 0 {
		cfg.Ring = 4096
	}
	if cfg.RingBytes <= 0 {
		cfg.RingBytes = 8 << 20
	}
	return &Hub{
		cfg:       cfg,
		log:       cfg.Logger,
		streams:   make(map[key]*stream),
		published: cfg.Metrics.Counter("telltale_hub_events_total", "events that entered the hub"),
		fanout:    cfg.Metrics.Counter("telltale_hub_deliveries_total", "event deliveries to subscribers"),
		encodeErr: cfg.Metrics.Counter("telltale_hub_encode_errors_total", "events whose payload was dropped because it did not encode (subscribers resync)"),
		replayed:  cfg.Metrics.Counter("telltale_hub_replayed_events_total", "events replayed from the ring to resuming clients"),
	}
}

func (h *Hub) stream(k key, create bool) *stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.streams[k]
	if !ok && create {
		lim := h.Limits(k.tenant)
		if k.stream == dashboard.ChangesStream {
			// Its rows are the tenant's dashboards: the snapshot lists every one.
			lim.Rows = max(lim.Rows, dashstore.MaxDashboards)
		}
		if k.stream == dashboard.AlertsStream {
			// Its rows are the tenant's alerts: a firing one must not be
			// trimmed from the snapshot a page starts from.
			lim.Rows = max(lim.Rows, dashboard.MaxAlerts)
		}
		s = &stream{st: livestate.Stream{Name: k.stream, Limits: lim}}
		h.streams[k] = s
	}
	return s
}

// lock returns the live stream for k, locked. The map lock is never held while
// waiting for a stream lock (a big fan-out must not stall other streams), so a
// stream removed in between is detected by its dead flag and looked up again.
func (h *Hub) lock(k key) *stream {
	for {
		s := h.stream(k, true)
		s.mu.Lock()
		if !s.dead {
			return s
		}
		s.mu.Unlock()
	}
}

// Publish folds consecutive events of one stream into its state and delivers
// them to its subscribers, all of a call's events in one Deliver. The log
// calls it in seq order per stream.
func (h *Hub) Publish(tenant string, evs []wire.Event) {
	if len(evs) == 0 {
		return
	}
	s := h.lock(key{tenant, evs[0].Stream})
	defer s.mu.Unlock()
	h.publish(tenant, s, evs)
}

// publish is Publish with the stream locked.
func (h *Hub) publish(tenant string, s *stream, evs []wire.Event) {
	s.snap = snapCache{} // what it encoded is about to be behind
	now := h.cfg.Now().UnixNano()
	stages := h.cfg.Stages.For(tenant, len(evs))
	run := make([][]byte, 0, len(evs)) // encoded, not yet delivered
	var first uint64
	flush := func() {
		if len(run) == 0 {
			return
		}
		for _, sub := range s.subs.list {
			if sub.stamped != nil {
				sub.stamped.DeliverStamped(evs[0].Stream, first, now, run)
			} else {
				sub.sub.Deliver(evs[0].Stream, first, run)
			}
		}
		h.fanout.Add(int64(s.subs.len() * len(run)))
		run = run[:0]
	}
	for i := range evs {
		ev := &evs[i]
		ev.Ingested = now
		stages.CommitHub.ObserveSpan(ev.Created, now)
		stages.StoredHub.ObserveSpan(ev.Stored, now)
		if ev.Epoch != s.st.Epoch || ev.Seq > s.st.Seq+1 {
			flush()
			h.restart(s, ev)
		}
		// Encoded before it is folded: an event that cannot be sent must not
		// reach the state, or no snapshot of the stream would encode again.
		b, err := wire.EncodeEvent(ev)
		if err != nil {
			flush()
			h.dropUnencodable(s, ev, err)
			continue
		}
		applied, err := s.st.Apply(ev)
		if err != nil || !applied {
			// restart put the stream right before ev, so err cannot happen;
			// !applied is a duplicate the log handed over twice.
			continue
		}
		if s.st.Trimmed != nil {
			// The fold cut ev down to the stream's caps: what is sent is
			// what was kept, so subscribers hold the hub's state. Less of
			// an event that encoded encodes too.
			h.trimmed(tenant, ev, s.st.Trimmed)
			if b, err = wire.EncodeEvent(ev); err != nil {
				flush()
				h.published.Inc()
				h.unsendable(s, ev, err)
				continue
			}
		}
		h.published.Inc()
		s.recent.push(ev.Seq, b, h.cfg.Ring, h.cfg.RingBytes)
		if len(run) == 0 {
			first = ev.Seq
		}
		run = append(run, b)
	}
	flush()
	if h.cfg.Tap != nil {
		h.cfg.Tap(tenant, evs)
	}
}

// dropUnencodable takes an event the wire cannot encode (ingest refuses such
// values, so this is a bug elsewhere) without its payload: the seq is kept,
// so the stream goes on and its snapshots still encode; the ring, which
// would skip the event for a client resuming before it, starts over; and
// subscribers, who cannot be sent it, resync rather than see a hole. The
// stream must be locked.
func (h *Hub) dropUnencodable(s *stream, ev *wire.Event, err error) {
	bare := wire.Event{Stream: ev.Stream, Epoch: ev.Epoch, Seq: ev.Seq, Time: ev.Time, Created: ev.Created, Stored: ev.Stored, Ingested: ev.Ingested}
	if applied, _ := s.st.Apply(&bare); !applied {
		return // a duplicate: what it stands for was taken before
	}
	h.published.Inc()
	h.unsendable(s, ev, err)
}

// unsendable tells a stream's subscribers to resync past an event that is in
// its state but cannot be sent, and starts the ring over so no resume skips
// it. The stream must be locked.
func (h *Hub) unsendable(s *stream, ev *wire.Event, err error) {
	h.encodeErr.Inc()
	h.log.Error("hub: event dropped, it does not encode", "stream", ev.Stream, "seq", ev.Seq, "err", err)
	s.recent.reset()
	reason := fmt.Sprintf("event %d could not be encoded and was dropped: starting from a fresh snapshot", ev.Seq)
	for _, sub := range s.subs.list {
		sub.sub.Resync(ev.Stream, reason)
	}
}

// restart moves a stream to the position just before ev when ev does not
// follow what the hub holds: the first event it sees, a new epoch (the state
// is dropped), or a gap in the same epoch (the state is kept: gauges and rows
// are overwritten by later events). Subscribers hold a position the stream has
// left, so they are told to resync.
func (h *Hub) restart(s *stream, ev *wire.Event) {
	if s.st.Epoch != 0 || s.st.Seq != 0 {
		h.log.Warn("hub stream restarted", "stream", ev.Stream, "epoch", ev.Epoch, "seq", ev.Seq,
			"held_epoch", s.st.Epoch, "held_seq", s.st.Seq)
	}
	if s.st.Epoch == 0 && s.st.Seq == 0 && ev.Seq == 1 {
		// A brand-new stream: subscribers hold its empty snapshot, which
		// seq 1 continues exactly (livestate.Stream.Apply agrees).
		s.st.Epoch = ev.Epoch
		return
	}
	if ev.Epoch != s.st.Epoch {
		s.st.State = wire.State{}
	}
	s.recent.reset() // what it holds no longer continues to ev
	s.st.Epoch, s.st.Seq = ev.Epoch, ev.Seq-1
	for _, sub := range s.subs.list {
		sub.sub.Resync(ev.Stream, "stream restarted")
	}
}

// ErrBadStream wraps an invalid stream name.
var ErrBadStream = errors.New("bad stream")

// Subscribe registers sub for a stream: sub.Snapshot receives the stream's
// current state, then sub.Deliver every event after it. cancel removes the
// subscription; it is idempotent and must not be called from inside a
// Subscriber method.
func (h *Hub) Subscribe(tenant, name string, sub Subscriber) (cancel func(), err error) {
	return h.subscribe(tenant, name, sub, func(s *stream) error { return h.sendSnapshot(s, name, sub, "") })
}

// subscribe is every subscription's shape: check the name, lock the stream,
// let begin hand the subscriber its starting point, then register it, all
// under the lock so no event falls between the start and the deltas.
func (h *Hub) subscribe(tenant, name string, sub Subscriber, begin func(s *stream) error) (func(), error) {
	if err := wire.ValidStream(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadStream, err)
	}
	k := key{tenant, name}
	s := h.lock(k)
	defer s.mu.Unlock()
	if err := begin(s); err != nil {
		return nil, err
	}
	s.subs.add(sub)
	var once sync.Once
	return func() { once.Do(func() { h.unsubscribe(k, s, sub) }) }, nil
}

// sendSnapshot hands sub the stream's state; reason says why a cursor could
// not be continued, if that is why. The stream must be locked.
func (h *Hub) sendSnapshot(s *stream, name string, sub Subscriber, reason string) error {
	snapshot, err := s.snapshot(name, reason)
	if err != nil {
		return err
	}
	sub.Snapshot(name, snapshot)
	return nil
}

// snapshot encodes the stream's state as a snapshot frame, or hands over
// the same frame again while someone still holds it (snapCache). The
// stream must be locked.
func (s *stream) snapshot(name, reason string) ([]byte, error) {
	c := &s.snap
	if c.n > 0 && c.epoch == s.st.Epoch && c.seq == s.st.Seq && c.reason == reason {
		if p := c.first.Value(); p != nil {
			return unsafe.Slice(p, c.n), nil
		}
	}
	st := s.st.State
	st.Points = livestate.Aligned(&st.Points) // the hub's table is ragged (Limits)
	b, err := wire.Encode(wire.Snapshot{Stream: name, Epoch: s.st.Epoch, Seq: s.st.Seq, State: st, Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	b = b[:len(b):len(b)] // shared: an append by anyone copies
	s.snap = snapCache{epoch: s.st.Epoch, seq: s.st.Seq, reason: reason, first: weak.Make(&b[0]), n: len(b)}
	return b, nil
}

func (h *Hub) unsubscribe(k key, s *stream, sub Subscriber) {
	s.mu.Lock()
	s.subs.remove(sub)
	empty := s.subs.len() == 0 && s.st.Seq == 0
	s.mu.Unlock()
	if !empty {
		return
	}
	// A name nobody publishes to and nobody watches is forgotten, so that
	// subscribing to made-up names cannot grow the hub. The map lock is taken
	// only here, for a stream with no subscribers and no events: no fan-out
	// can be holding its lock, so other streams never wait on this.
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs.len() == 0 && s.st.Seq == 0 && h.streams[k] == s {
		delete(h.streams, k)
		s.dead = true
	}
}

// Cursor reports where the hub holds a stream; ok is false for a stream it
// has never seen.
func (h *Hub) Cursor(tenant, name string) (c wire.Cursor, ok bool) {
	s := h.stream(key{tenant, name}, false)
	if s == nil {
		return wire.Cursor{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Cursor(), true
}

// Watched reports whether a stream has subscribers (connections, long-polls
// waiting on it) now. It does not create the stream.
func (h *Hub) Watched(tenant, name string) bool {
	s := h.stream(key{tenant, name}, false)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs.len() > 0
}

// Snapshot returns the encoded snapshot frame of a stream as it is now; a
// stream the hub does not hold is an empty snapshot at (0, 0), and is not
// created (asking about made-up names must not grow the hub).
func (h *Hub) Snapshot(tenant, name string) ([]byte, error) {
	if err := wire.ValidStream(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadStream, err)
	}
	s := h.stream(key{tenant, name}, false)
	if s == nil {
		return wire.Encode(wire.Snapshot{Stream: name})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(name, "")
}

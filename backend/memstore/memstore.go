// Package memstore is the embedded event log: per stream, a ring of the most
// recent events with contiguous sequence numbers, used when no PostgreSQL is
// configured. It hands every appended batch, in seq order, to one sink (the hub).
// It also keeps each tenant's dashboards and their versions (dashstore.Store).
//
// It must never block on its sink's consumers and never pretend to be durable:
// a restart starts a new epoch, which tells clients to resync.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Config configures a Store. Zero values are the documented defaults.
type Config struct {
	// Capacity is how many events each stream keeps; zero means 10000.
	Capacity int
	// CapacityBytes bounds each stream's kept events by their size (as
	// EventSize estimates it) as well, so a stream of wide events keeps fewer
	// of them; zero means 32 MiB. The newest event is always kept.
	CapacityBytes int
	// Sink receives every appended batch, in seq order per stream, while the
	// stream is locked. It must not call back into the Store.
	Sink func(tenant string, evs []wire.Event)
	// Now stamps events; zero means time.Now.
	Now func() time.Time
	// MaxStreamsPerTenant bounds the streams one tenant may create; past it
	// appends to new streams fail with store.ErrStreamQuota. Zero means 1000.
	MaxStreamsPerTenant int
}

// Store is the in-memory log. It is safe for concurrent use.
type Store struct {
	cfg   Config
	epoch uint64

	mu        sync.Mutex
	streams   map[key]*ring
	perTenant map[string]int
	revoked   []auth.Revocation

	// dashMu guards dash, and is held while a change is announced, so that
	// announcements follow saves in order. Taken before a ring's locks.
	dashMu sync.Mutex
	dash   dashboards
}

// The embedded store keeps the whole store contract; its appends reach the
// hub through Config.Sink, so it is no store.Follower.
var _ store.Store = (*Store)(nil)

type key struct{ tenant, stream string }

type ring struct {
	mu    sync.Mutex
	evs   []wire.Event // circular: n events from head
	size  []int        // EventSize of evs[i]
	head  int          // index of the oldest event
	n     int          // events kept
	bytes int          // their sizes' sum
	last  uint64       // seq of the newest event; 0 when empty
}

// push keeps ev as the newest event, dropping the oldest past capacity
// events or maxBytes bytes (the newest is always kept).
func (r *ring) push(ev *wire.Event, capacity, maxBytes int) {
	sz := EventSize(ev)
	if r.n == len(r.evs) && (len(r.evs) == capacity || r.head != 0) {
		r.drop() // full, or wrapped after drops: reuse the oldest slot
	}
	if r.n == len(r.evs) {
		r.evs, r.size = append(r.evs, *ev), append(r.size, sz) // grows as events come
	} else {
		i := (r.head + r.n) % len(r.evs)
		r.evs[i], r.size[i] = *ev, sz
	}
	r.n++
	r.bytes += sz
	for r.bytes > maxBytes && r.n > 1 {
		r.drop()
	}
}

func (r *ring) drop() {
	r.bytes -= r.size[r.head]
	r.evs[r.head] = wire.Event{}
	r.head = (r.head + 1) % len(r.evs)
	r.n--
}

// at is the i-th oldest kept event.
func (r *ring) at(i uint64) *wire.Event { return &r.evs[(uint64(r.head)+i)%uint64(len(r.evs))] }

// EventSize estimates what an event holds in memory: its row (as
// livestate.RowSize counts it), 8 bytes and the name per gauge, 8 per
// timestamp and per value and the name per series.
func EventSize(ev *wire.Event) int {
	n := 64
	if ev.Row != nil {
		n += livestate.RowSize(ev.Row)
	}
	for k := range ev.Values {
		n += len(k) + 8
	}
	if p := ev.Points; p != nil {
		n += 8 * len(p.TS)
		for _, c := range p.Cols {
			n += len(c.Name) + 8*len(c.Vals)
		}
	}
	return n
}

// New returns an empty store whose epoch is its start time, so that a restart
// is visible to every client cursor.
func New(cfg Config) *Store {
	if cfg.Capacity <= 0 {
		cfg.Capacity = 10000
	}
	if cfg.CapacityBytes <= 0 {
		cfg.CapacityBytes = 32 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxStreamsPerTenant <= 0 {
		cfg.MaxStreamsPerTenant = 1000
	}
	return &Store{cfg: cfg, epoch: uint64(cfg.Now().UnixNano()), streams: make(map[key]*ring), perTenant: make(map[string]int), dash: make(dashboards)}
}

// Epoch is the epoch of every stream in this store.
func (s *Store) Epoch() uint64 { return s.epoch }

func (s *Store) ring(k key) (*ring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.streams[k]
	if !ok {
		if s.perTenant[k.tenant] >= s.cfg.MaxStreamsPerTenant {
			return nil, fmt.Errorf("append to %q: %w (%d)", k.stream, store.ErrStreamQuota, s.cfg.MaxStreamsPerTenant)
		}
		r = &ring{}
		s.streams[k] = r
		s.perTenant[k.tenant]++
	}
	return r, nil
}

// Append assigns the next seqs of the stream to evs (in place), keeps them and
// hands them to the sink. Stream, Epoch and Seq of evs are overwritten; Time
// and Created are stamped when zero.
func (s *Store) Append(_ context.Context, tenant, stream string, evs []wire.Event) error {
	if err := wire.ValidStream(stream); err != nil {
		return fmt.Errorf("append to %q: %w", stream, err)
	}
	if len(evs) == 0 {
		return nil
	}
	now := s.cfg.Now()
	r, err := s.ring(key{tenant, stream})
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stored := s.cfg.Now().UnixNano()
	for i := range evs {
		ev := &evs[i]
		r.last++
		ev.Stream, ev.Epoch, ev.Seq, ev.Stored = stream, s.epoch, r.last, stored
		if ev.Time == 0 {
			ev.Time = now.UnixMilli()
		}
		if ev.Created == 0 {
			ev.Created = now.UnixNano()
		}
		r.push(ev, s.cfg.Capacity, s.cfg.CapacityBytes)
	}
	if s.cfg.Sink != nil {
		s.cfg.Sink(tenant, evs)
	}
	return nil
}

// Read returns up to limit events of the stream with seq > after, oldest
// first. It returns store.ErrTrimmed when seq after+1 is no longer kept.
func (s *Store) Read(_ context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error) {
	s.mu.Lock()
	r, ok := s.streams[key{tenant, stream}]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := uint64(r.n)
	if after >= r.last || n == 0 {
		return nil, nil
	}
	oldest := r.last - n + 1
	if after+1 < oldest {
		return nil, fmt.Errorf("read %s after %d: oldest kept is %d: %w", stream, after, oldest, store.ErrTrimmed)
	}
	count := min(r.last-after, uint64(limit))
	out := make([]wire.Event, 0, count)
	for i := uint64(0); i < count; i++ {
		out = append(out, *r.at(after + 1 - oldest + i))
	}
	return out, nil
}

// ReadWindow returns up to limit kept events of the stream with seq > after
// and event time in [from, to], oldest first (store.History).
func (s *Store) ReadWindow(_ context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error) {
	s.mu.Lock()
	r, ok := s.streams[key{tenant, stream}]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	lo, hi := from.UnixMilli(), to.UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := uint64(r.n)
	if n == 0 || after >= r.last {
		return nil, nil
	}
	oldest := r.last - n + 1
	var out []wire.Event
	for seq := max(after+1, oldest); seq <= r.last && len(out) < limit; seq++ {
		ev := r.at(seq - oldest)
		if ev.Time >= lo && ev.Time <= hi {
			out = append(out, *ev)
		}
	}
	return out, nil
}

// AppendAll appends several streams' events. Names are checked first, so
// that a bad one stores nothing; after that appending cannot fail.
func (s *Store) AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	fresh := 0
	s.mu.Lock()
	for name := range streams {
		if err := wire.ValidStream(name); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("append to %q: %w", name, err)
		}
		if _, ok := s.streams[key{tenant, name}]; !ok {
			fresh++
		}
	}
	over := s.perTenant[tenant]+fresh > s.cfg.MaxStreamsPerTenant
	s.mu.Unlock()
	if over {
		return fmt.Errorf("%w (%d)", store.ErrStreamQuota, s.cfg.MaxStreamsPerTenant)
	}
	for name, evs := range streams {
		if err := s.Append(ctx, tenant, name, evs); err != nil {
			return err
		}
	}
	return nil
}

// Revoke implements auth.Revocations.
func (s *Store) Revoke(_ context.Context, r auth.Revocation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, r)
	return nil
}

// Revocations implements auth.Revocations, dropping those past their Until.
func (s *Store) Revocations(context.Context) ([]auth.Revocation, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.revoked[:0]
	for _, r := range s.revoked {
		if r.Until.After(now) {
			kept = append(kept, r)
		}
	}
	clear(s.revoked[len(kept):])
	s.revoked = kept
	return append([]auth.Revocation(nil), kept...), nil
}

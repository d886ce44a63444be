package pgstore

import (
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/wire"
)

// recent holds the events this node has just committed, decoded, so that the
// follower's lane for their stream hands them to the sink without reading
// and decoding them back from PostgreSQL: beside one tenant ingesting wide
// points bodies at its limit, that read was 40% of the server's CPU
// (bench/results/2026-12-06-neighbours.md), all of it spent on events this
// node had decoded a millisecond before.
//
// It is only a shortcut for the follower, never a source of truth: an event
// goes in after its transaction committed (its seq is then final), the lane
// takes a contiguous run from its cursor and reads PostgreSQL for the first
// seq it does not find (another writer: SQL publish, a watched table, another
// node; an entry evicted or expired). Before the commit the seqs are only
// reserved: a lane stops at a reserved seq, and the commit's put (or the
// rollback's release) wakes it. An entry is taken once and then belongs to
// the sink. Entries are keyed by epoch, so a recreated
// stream's cursor never finds the old epoch's events, and a new epoch seen
// for a stream drops the old one's.
//
// Bounded by bytes (the stored bodies' size plus a fixed overhead per event,
// oldest out) and by age (the follower reads a stream within milliseconds
// of its commit; an entry older than recentTTL is a lane far behind, which
// reads PostgreSQL in bounded batches rather than pin memory here).
type recent struct {
	max   int64
	ttl   time.Duration
	gauge *metrics.Value // follows bytes

	mu      sync.Mutex
	bytes   int64
	streams map[key]*recentStream
	queue   []recentRef // insertion order, for eviction; head is queue[head]
	head    int
}

type recentStream struct {
	epoch uint64
	evs   map[uint64]recentEvent
}

type recentEvent struct {
	ev   wire.Event
	size int64
	at   time.Time
	// pending: the seq is this node's, in a transaction not yet committed
	// or not yet put here (reserve); ev is empty.
	pending bool
}

type recentRef struct {
	k          key
	epoch, seq uint64
}

const (
	recentBytes = 16 << 20
	recentTTL   = 5 * time.Second
	// recentOverhead is counted per event besides its body's JSON bytes: the
	// event's own struct, map entries and slice headers.
	recentOverhead = 256
	// pendingWait is how long a reserved seq makes the lane wait for its
	// commit (the committing goroutine wakes the stream when it is in)
	// before reading PostgreSQL regardless.
	pendingWait = 500 * time.Millisecond
)

func newRecent(max int64, ttl time.Duration, gauge *metrics.Value) *recent {
	return &recent{max: max, ttl: ttl, gauge: gauge, streams: make(map[key]*recentStream)}
}

func (r *recent) addBytes(d int64) {
	r.bytes += d
	if r.gauge != nil {
		r.gauge.Add(d)
	}
}

// streamLocked is k's entry for epoch, made (and an older epoch's dropped)
// if need be.
func (r *recent) streamLocked(k key, epoch uint64) *recentStream {
	st := r.streams[k]
	if st == nil || st.epoch != epoch {
		if st != nil {
			r.dropLocked(st)
		}
		st = &recentStream{epoch: epoch, evs: make(map[uint64]recentEvent)}
		r.streams[k] = st
	}
	return st
}

// reserve marks seqs [first, first+n) of k as this node's, in a
// transaction that has not committed yet: a lane that reaches one waits for
// put (or release) instead of reading PostgreSQL, which would find it only
// once committed and then decode it again. Without this, a lane woken by
// the commit of one of two concurrent writers' seqs missed the other's put
// by microseconds and read both back.
func (r *recent) reserve(k key, epoch, first uint64, n int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streamLocked(k, epoch)
	for seq := first; seq < first+uint64(n); seq++ {
		if _, ok := st.evs[seq]; ok {
			continue
		}
		st.evs[seq] = recentEvent{size: recentOverhead, at: now, pending: true}
		r.addBytes(recentOverhead)
		r.queue = append(r.queue, recentRef{k, epoch, seq})
	}
	r.evictLocked(now)
}

// release drops what reserve marked, for a transaction that rolled back.
func (r *recent) release(k key, epoch, first uint64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[k]
	if st == nil || st.epoch != epoch {
		return
	}
	for seq := first; seq < first+uint64(n); seq++ {
		if e, ok := st.evs[seq]; ok && e.pending {
			delete(st.evs, seq)
			r.addBytes(-e.size)
		}
	}
	if len(st.evs) == 0 {
		delete(r.streams, k)
	}
}

// put keeps committed events of one stream, all of one epoch, with their
// stored bodies' sizes. evs must be the store's own copies (see canonical).
func (r *recent) put(k key, epoch uint64, evs []wire.Event, sizes []int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streamLocked(k, epoch)
	for i := range evs {
		size := int64(sizes[i]) + recentOverhead
		old, reserved := st.evs[evs[i].Seq]
		if reserved {
			r.addBytes(-old.size)
			delete(st.evs, evs[i].Seq)
		}
		if size > r.max {
			continue
		}
		st.evs[evs[i].Seq] = recentEvent{ev: evs[i], size: size, at: now}
		r.addBytes(size)
		if !reserved {
			r.queue = append(r.queue, recentRef{k, epoch, evs[i].Seq})
		}
	}
	r.evictLocked(now)
}

// take removes and returns k's events of epoch from seq after+1 on, as long
// as they are contiguous and not older than the TTL: at most n events, at
// most upTo (0: no bound), and no more once their sizes reach maxBytes
// (always at least one). pending says it stopped at a seq reserved less
// than pendingWait ago: its commit will wake the stream.
func (r *recent) take(k key, epoch, after, upTo uint64, n int, maxBytes int64, now time.Time) (out []wire.Event, pending bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[k]
	if st == nil || st.epoch != epoch {
		return nil, false
	}
	var bytes int64
	for seq := after + 1; len(out) < n && bytes < maxBytes && (upTo == 0 || seq <= upTo); seq++ {
		e, ok := st.evs[seq]
		if ok && e.pending {
			pending = now.Sub(e.at) <= pendingWait
			break
		}
		if !ok || now.Sub(e.at) > r.ttl {
			break
		}
		delete(st.evs, seq)
		r.addBytes(-e.size)
		bytes += e.size
		out = append(out, e.ev)
	}
	if len(st.evs) == 0 {
		delete(r.streams, k)
	}
	return out, pending
}

// takeOne removes and returns k's event seq of epoch if it is here, put and
// not older than the TTL: for a lane that read it from PostgreSQL after all
// (it committed between the lane's take and its read), so it is not decoded
// a second time.
func (r *recent) takeOne(k key, epoch, seq uint64, now time.Time) (wire.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[k]
	if st == nil || st.epoch != epoch {
		return wire.Event{}, false
	}
	e, ok := st.evs[seq]
	if !ok || e.pending || now.Sub(e.at) > r.ttl {
		return wire.Event{}, false
	}
	delete(st.evs, seq)
	r.addBytes(-e.size)
	if len(st.evs) == 0 {
		delete(r.streams, k)
	}
	return e.ev, true
}

// epochSeen drops k's events of any epoch but epoch: the stream was deleted
// and recreated.
func (r *recent) epochSeen(k key, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.streams[k]; st != nil && st.epoch != epoch {
		r.dropLocked(st)
		delete(r.streams, k)
	}
}

func (r *recent) dropLocked(st *recentStream) {
	for _, e := range st.evs {
		r.addBytes(-e.size)
	}
	clear(st.evs)
}

// evictLocked drops the oldest entries while over the byte bound or past the
// TTL. The queue may name entries already taken or dropped: those are
// skipped.
func (r *recent) evictLocked(now time.Time) {
	for r.head < len(r.queue) {
		ref := r.queue[r.head]
		st := r.streams[ref.k]
		var e recentEvent
		ok := false
		if st != nil && st.epoch == ref.epoch {
			e, ok = st.evs[ref.seq]
		}
		if ok && r.bytes <= r.max && now.Sub(e.at) <= r.ttl {
			break
		}
		if ok {
			delete(st.evs, ref.seq)
			r.addBytes(-e.size)
			if len(st.evs) == 0 {
				delete(r.streams, ref.k)
			}
		}
		r.queue[r.head] = recentRef{}
		r.head++
	}
	// Keep the queue's backing array from growing without bound.
	if r.head > 1024 && r.head*2 > len(r.queue) {
		n := copy(r.queue, r.queue[r.head:])
		clear(r.queue[n:])
		r.queue = r.queue[:n]
		r.head = 0
	}
	if r.head == len(r.queue) {
		r.queue, r.head = r.queue[:0], 0
	}
}

// size is the bytes the cache holds (for tests and the gauge).
func (r *recent) size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// canonical returns a deep copy of ev's body as the follower would decode it
// from the events table after the JSON → jsonb → JSON round trip, or false
// when it cannot say for sure (then the event is not kept and the follower
// reads it from PostgreSQL). What the round trip changes, and canonical
// mirrors:
//   - empty Values and Row.Fields are omitted (omitempty) and come back nil;
//   - every number in a row's fields comes back a float64: integers are
//     rounded as ParseFloat rounds their decimal text (as float64(i) does),
//     a float32 as its shortest 32-bit text read as a float64;
//   - -0 comes back 0 (numeric has no negative zero);
//   - a nil map or slice inside the fields is null and comes back nil;
//   - strings that are not valid UTF-8 are rewritten by encoding/json:
//     such an event is not kept.
//
// Stream, Epoch, Seq, Time and Created are set by the caller.
func canonical(ev *wire.Event) (wire.Event, bool) {
	var out wire.Event
	if len(ev.Values) > 0 {
		out.Values = make(map[string]float64, len(ev.Values))
		for name, v := range ev.Values {
			if !utf8.ValidString(name) {
				return wire.Event{}, false
			}
			out.Values[name] = zeroSign(v)
		}
	}
	if ev.Row != nil {
		if !utf8.ValidString(ev.Row.Key) || !utf8.ValidString(string(ev.Row.Op)) {
			return wire.Event{}, false
		}
		row := &wire.Row{Key: ev.Row.Key, Op: ev.Row.Op}
		if len(ev.Row.Fields) > 0 {
			f, ok := canonicalValue(ev.Row.Fields)
			if !ok {
				return wire.Event{}, false
			}
			row.Fields = f.(map[string]any)
		}
		out.Row = row
	}
	if p := ev.Points; p != nil {
		q := &wire.Points{Upsert: p.Upsert}
		if p.TS != nil {
			q.TS = append(make([]int64, 0, len(p.TS)), p.TS...)
		}
		if p.Cols != nil {
			q.Cols = make([]wire.Column, len(p.Cols))
			for i, c := range p.Cols {
				if !utf8.ValidString(c.Name) {
					return wire.Event{}, false
				}
				q.Cols[i].Name = c.Name
				if c.Vals != nil {
					vals := make([]float64, len(c.Vals))
					for j, v := range c.Vals {
						vals[j] = zeroSign(v)
					}
					q.Cols[i].Vals = vals
				}
			}
		}
		out.Points = q
	}
	return out, true
}

func zeroSign(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}

// canonicalValue is canonical for one row field's value.
func canonicalValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		return zeroSign(v), true
	case float32:
		f, err := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		return zeroSign(f), err == nil
	case int:
		return float64(v), true
	case int8:
		return float64(v), true
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint8:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case map[string]any:
		if v == nil {
			return nil, true
		}
		m := make(map[string]any, len(v))
		for name, x := range v {
			if !utf8.ValidString(name) {
				return nil, false
			}
			c, ok := canonicalValue(x)
			if !ok {
				return nil, false
			}
			m[name] = c
		}
		return m, true
	case []any:
		if v == nil {
			return nil, true
		}
		a := make([]any, len(v))
		for i, x := range v {
			c, ok := canonicalValue(x)
			if !ok {
				return nil, false
			}
			a[i] = c
		}
		return a, true
	}
	// Anything else (a type ingest does not produce) is left to the read.
	return nil, false
}

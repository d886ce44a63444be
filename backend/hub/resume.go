package hub

import (
	"github.com/telltale/telltale/shared/wire"
)

// Resumer is a Subscriber that can continue from a client's cursor instead of
// starting over from a snapshot.
type Resumer interface {
	Subscriber
	// Replay hands over, in order, the encoded events after the client's
	// cursor (possibly none), up to head, the stream's newest seq, before
	// any later Deliver. It is called with the stream locked.
	Replay(stream string, head uint64, events [][]byte)
	// Hold starts buffering the stream's deliveries while events older than
	// the hub's ring are fetched from the store, outside the hub. The token
	// identifies this hold when it is released. Called with the stream locked.
	Hold(stream string) (token uint64)
}

// Resume says how a subscription from a cursor began.
type Resume struct {
	// Replayed: the missing events came from the ring (or none were missing).
	Replayed bool
	// Ahead is how far the client's cursor was ahead of this node's seq
	// (Config.SharedLog): it was resumed anyway, nothing replayed.
	Ahead uint64
	// Fetch: events (After, UpTo] must be read from the store and handed to
	// the subscriber, followed by what it held meanwhile.
	Fetch       bool
	After, UpTo uint64
	Token       uint64
	// Reason is set when the cursor could not be continued and a snapshot
	// was sent instead.
	Reason string
}

// ringEntry is one encoded event kept for resuming.
type ringEntry struct {
	seq uint64
	b   []byte
}

// recent is a circular buffer of a stream's newest encoded events, bounded
// in count and in bytes.
type recent struct {
	buf   []ringEntry
	head  int // index of the oldest entry
	n     int
	bytes int // of the n entries' encodings
}

func (r *recent) push(seq uint64, b []byte, capacity, maxBytes int) {
	if capacity <= 0 {
		return
	}
	if len(r.buf) < capacity && r.n == len(r.buf) && r.head == 0 {
		// Grow as events come (a quiet stream does not hold a full ring),
		// while the ring has not wrapped (a ring that dropped by bytes and
		// wrapped keeps its length).
		r.buf = append(r.buf, ringEntry{seq, b})
		r.n++
	} else {
		if r.n == len(r.buf) {
			r.drop()
		}
		r.buf[(r.head+r.n)%len(r.buf)] = ringEntry{seq, b}
		r.n++
	}
	r.bytes += len(b)
	for r.bytes > maxBytes && r.n > 1 {
		r.drop()
	}
}

// drop forgets the oldest entry.
func (r *recent) drop() {
	r.bytes -= len(r.buf[r.head].b)
	r.buf[r.head] = ringEntry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
}

func (r *recent) reset() { r.head, r.n, r.bytes = 0, 0, 0; clear(r.buf) }

// since returns the events with seq > after, and whether the ring covers them.
func (r *recent) since(after, last uint64) ([][]byte, bool) {
	if after == last {
		return nil, true
	}
	if r.n == 0 || r.buf[r.head].seq > after+1 {
		return nil, false
	}
	out := make([][]byte, 0, last-after)
	for k := 0; k < r.n; k++ {
		e := r.buf[(r.head+k)%len(r.buf)]
		if e.seq > after {
			out = append(out, e.b)
		}
	}
	return out, true
}

// SubscribeFrom registers sub for a stream, continuing from the client's
// cursor when it can: the events after it come from the ring (Replayed), or
// the subscriber holds live deliveries while the caller fetches the older
// ones from the store (Fetch; canFetch says whether a store is there). A
// cursor of another epoch, ahead of the stream, or older than anything kept
// gets a snapshot with the reason in it. Either way no event is lost or sent
// twice at the seam: all of it happens under the stream lock.
func (h *Hub) SubscribeFrom(tenant, name string, sub Resumer, from wire.Cursor, canFetch bool) (Resume, func(), error) {
	var res Resume
	cancel, err := h.subscribe(tenant, name, sub, func(s *stream) error {
		switch {
		case from.Epoch != s.st.Epoch:
			res.Reason = "the stream restarted (new epoch): starting from a fresh snapshot"
		case from.Seq > s.st.Seq && h.cfg.SharedLog:
			// Another node read further than this one: the client already
			// holds what this node has, and what it reads next continues
			// the client's state (the seqs up to the cursor are skipped by
			// the client as duplicates).
			sub.Replay(name, s.st.Seq, nil)
			res.Replayed, res.Ahead = true, from.Seq-s.st.Seq
			return nil
		case from.Seq > s.st.Seq:
			res.Reason = "the cursor is ahead of the stream: starting from a fresh snapshot"
		default:
			if evs, ok := s.recent.since(from.Seq, s.st.Seq); ok {
				sub.Replay(name, s.st.Seq, evs)
				res.Replayed = true
				h.replayed.Add(int64(len(evs)))
				return nil
			}
			if canFetch {
				res = Resume{Fetch: true, After: from.Seq, UpTo: s.st.Seq, Token: sub.Hold(name)}
				return nil
			}
			res.Reason = "the events since the cursor are no longer kept: starting from a fresh snapshot"
		}
		return h.sendSnapshot(s, name, sub, res.Reason)
	})
	if err != nil {
		return Resume{}, nil, err
	}
	return res, cancel, nil
}

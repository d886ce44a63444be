package aggregate

import (
	"math"
	"slices"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// Bounds of one M4 computation.
const (
	// M4Buckets is how many buckets an M4 holds, the newest: more than a
	// page asks for across its window (agg.MaxM4Buckets). A sample older
	// than the oldest bucket held, once the history is full, is dropped.
	M4Buckets = 1024
	// M4Series is how many series an M4 follows, in the order they first
	// came: the default series cap of a stream (livestate.DefaultSeries).
	M4Series = 1000
	// m4EventBuckets is how many buckets one derived event carries at
	// most (4 rows each), so that Full of a whole history is several
	// events of a few hundred KB at most, not one frame past the limit.
	m4EventBuckets = 128
)

// M4 keeps, per bucket of a points source, each series' first, min, max and
// last sample: what a chart of the bucket's width draws, whatever the rate
// (M4, Jugel et al., VLDB 2014: a line chart drawn from these four points per
// pixel column is the one drawn from every point). It emits each changed
// bucket as 4 rows of an Upsert points event: the bucket's start (first),
// start+w/3 and start+2w/3 (min and max, in the order they happened) and
// start+w-1 (last), one column per series. Rows are absolute values, so
// emitting a bucket twice is harmless. It is not safe for concurrent use.
type M4 struct {
	spec    *agg.Spec
	width   int64 // ms
	series  []string
	index   map[string]int
	buckets []*m4Bucket // ascending by start, at most M4Buckets
	newest  int64       // newest source time seen (ms)
	late    uint64
	size    int
}

type m4Bucket struct {
	start   int64
	stats   []m4Stat // by series index; shorter when later series have none
	dirty   bool     // changed since the last Emit or Full
	emitted bool     // in an Emit or Full already
}

// m4Stat is one series' samples in one bucket; n == 0 means none.
type m4Stat struct {
	n                             int
	first, min, max, last         float64
	firstTS, minTS, maxTS, lastTS int64
}

func newM4(spec *agg.Spec) *M4 {
	w := spec.Width.Milliseconds()
	if w < 1 {
		w = 1
	}
	return &M4{spec: spec, width: w, index: map[string]int{}}
}

// Add folds the samples of a points event (anything else is ignored) into
// their buckets. A sample landing in a closed bucket (emitted, and a newer
// one begun) updates it, and the event counts once as late.
func (m *M4) Add(ev *wire.Event) {
	p := ev.Points
	if p == nil || len(p.TS) == 0 || !p.Valid() {
		return
	}
	m.newest = max(m.newest, ev.Time)
	cols := make([]int, len(p.Cols)) // p's column → series index, -1 to skip
	for j := range p.Cols {
		cols[j] = m.seriesOf(p.Cols[j].Name)
	}
	late := false
	var b *m4Bucket
	for i, ts := range p.TS {
		m.newest = max(m.newest, ts)
		start := floorTo(ts, m.width)
		if b == nil || b.start != start {
			if b = m.bucket(start); b == nil {
				continue // older than the history held
			}
		}
		for j, s := range cols {
			if s < 0 {
				continue
			}
			v := p.Cols[j].Vals[i]
			if math.IsNaN(v) {
				continue
			}
			if s >= len(b.stats) {
				m.size += (s + 1 - len(b.stats)) * 72
				b.stats = append(b.stats, make([]m4Stat, s+1-len(b.stats))...)
			}
			b.stats[s].add(ts, v)
			b.dirty = true
			// Closed: emitted, and a newer bucket has begun.
			late = late || b.emitted && b != m.buckets[len(m.buckets)-1]
		}
	}
	if late {
		m.late++
	}
}

// seriesOf returns the index of series name, adding it; -1 for a series the
// spec does not read or one past M4Series.
func (m *M4) seriesOf(name string) int {
	if m.spec.Field != "" && name != m.spec.Field {
		return -1
	}
	if i, ok := m.index[name]; ok {
		return i
	}
	if len(m.series) >= M4Series {
		return -1
	}
	m.index[name] = len(m.series)
	m.series = append(m.series, name)
	m.size += len(name) + 48
	return len(m.series) - 1
}

// bucket returns the bucket starting at start, adding it (and dropping the
// oldest past M4Buckets); nil when start is older than every bucket of a
// full history.
func (m *M4) bucket(start int64) *m4Bucket {
	n := len(m.buckets)
	if n > 0 && m.buckets[n-1].start == start {
		return m.buckets[n-1] // the common case: the newest bucket
	}
	i := n
	if n > 0 && start < m.buckets[n-1].start {
		var found bool
		i, found = slices.BinarySearchFunc(m.buckets, start, func(b *m4Bucket, s int64) int {
			switch {
			case b.start < s:
				return -1
			case b.start > s:
				return 1
			}
			return 0
		})
		if found {
			return m.buckets[i]
		}
		if i == 0 && n >= M4Buckets {
			return nil
		}
	}
	b := &m4Bucket{start: start}
	m.buckets = slices.Insert(m.buckets, i, b)
	m.size += 64
	if len(m.buckets) > M4Buckets {
		old := m.buckets[0]
		m.size -= 64 + len(old.stats)*72
		m.buckets[0] = nil
		m.buckets = m.buckets[1:]
	}
	return b
}

func (s *m4Stat) add(ts int64, v float64) {
	if s.n == 0 {
		*s = m4Stat{n: 1, first: v, min: v, max: v, last: v, firstTS: ts, minTS: ts, maxTS: ts, lastTS: ts}
		return
	}
	s.n++
	if ts < s.firstTS {
		s.first, s.firstTS = v, ts
	}
	if ts >= s.lastTS { // at an equal time the sample that came later is the last
		s.last, s.lastTS = v, ts
	}
	if v < s.min || v == s.min && ts < s.minTS {
		s.min, s.minTS = v, ts
	}
	if v > s.max || v == s.max && ts < s.maxTS {
		s.max, s.maxTS = v, ts
	}
}

// Emit returns the buckets changed since the last Emit or Full, oldest
// first; nil when none did.
func (m *M4) Emit(now time.Time) []wire.Event {
	var changed []*m4Bucket
	for _, b := range m.buckets {
		if b.dirty {
			changed = append(changed, b)
		}
	}
	return m.events(changed)
}

// Full returns every bucket held, oldest first: what a rebuilt M4 emits.
func (m *M4) Full(now time.Time) []wire.Event {
	return m.events(m.buckets)
}

// Late counts the source events that changed a closed bucket.
func (m *M4) Late() uint64 { return m.late }

// Size is about how many bytes the M4 holds.
func (m *M4) Size() int { return m.size + cap(m.buckets)*8 }

// events renders buckets (ascending) as Upsert points events of at most
// m4EventBuckets buckets each, and marks them emitted.
func (m *M4) events(buckets []*m4Bucket) []wire.Event {
	var out []wire.Event
	for len(buckets) > 0 {
		n := min(len(buckets), m4EventBuckets)
		out = append(out, m.event(buckets[:n]))
		buckets = buckets[n:]
	}
	return out
}

func (m *M4) event(buckets []*m4Bucket) wire.Event {
	// The series with samples in any of these buckets, in series order.
	var used []int
	for s := range m.series {
		for _, b := range buckets {
			if s < len(b.stats) && b.stats[s].n > 0 {
				used = append(used, s)
				break
			}
		}
	}
	w := m.width
	p := &wire.Points{Upsert: true, TS: make([]int64, 0, 4*len(buckets)), Cols: make([]wire.Column, len(used))}
	for k, s := range used {
		p.Cols[k] = wire.Column{Name: m.series[s], Vals: make([]float64, 0, 4*len(buckets))}
	}
	for _, b := range buckets {
		p.TS = append(p.TS, b.start, b.start+w/3, b.start+2*w/3, b.start+w-1)
		for k, s := range used {
			c := &p.Cols[k]
			if s >= len(b.stats) || b.stats[s].n == 0 {
				nan := math.NaN()
				c.Vals = append(c.Vals, nan, nan, nan, nan)
				continue
			}
			st := &b.stats[s]
			lo, hi := st.min, st.max
			if st.maxTS < st.minTS {
				lo, hi = hi, lo
			}
			c.Vals = append(c.Vals, st.first, lo, hi, st.last)
		}
		b.dirty, b.emitted = false, true
	}
	return wire.Event{Time: m.newest, Points: p}
}

// floorTo rounds ts down to a multiple of w, below zero too.
func floorTo(ts, w int64) int64 {
	r := ts % w
	if r < 0 {
		r += w
	}
	return ts - r
}

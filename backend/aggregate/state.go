// Package aggregate computes the aggregates dashboards declare (shared/agg)
// incrementally from their source streams' events, into derived events.
//
// It does no I/O and starts no goroutine: the runtime feeds a State the
// source events and writes what Emit returns into the store. It never
// reads another tenant's events; the runtime hands it only its own.
package aggregate

import (
	"time"
	_ "time/tzdata" // calendar windows in any zone, wherever the server runs
	"unsafe"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// Bounds of a State's memory. Each is documented in docs/DASHBOARDS.md.
const (
	// MaxBuckets is how many tumbling buckets are kept: a late event older
	// than the newest bucket minus MaxBuckets is dropped (Dropped).
	MaxBuckets = 360
	// SlidingSteps is how many sub-buckets a sliding window moves by: "last
	// 5m" moves in steps of 5 s.
	SlidingSteps = 60
	// MaxGroups is how many distinct groups a bucket, sub-bucket, period or
	// current state tracks by name; a group first seen past it is counted
	// in "other" directly, so a high-cardinality group_by costs no more.
	MaxGroups = 200
	// MaxDistinct is how many distinct values one bucket, sub-bucket or
	// period keeps for distinct; past it new values are not counted, so
	// distinct is then a lower bound (Capped says so).
	MaxDistinct = 10_000
	// MaxCurrentRows is how many keyed rows a "current" window keeps; rows
	// with new keys past it are dropped (Dropped).
	MaxCurrentRows = 100_000
	// SketchAccuracy is the relative accuracy of percentiles over time
	// windows (DDSketch): the value returned is within 1% of a value at the
	// quantile's rank. Percentiles of "current" are exact.
	SketchAccuracy = 0.01
	// MaxAhead is how far past the newest now given to Emit an event's time
	// may be: one further ahead (a producer's clock off by a day) is
	// dropped, and counted, instead of moving every window past the present
	// and emptying it.
	MaxAhead = time.Minute
	// SketchBins bounds one sketch (16 KiB of bins): at 1% accuracy they
	// span values over 17 orders of magnitude before the lowest collapse.
	SketchBins = 2048
)

// State is one aggregate's state for one tenant. It is not safe for
// concurrent use and does no I/O.
type State struct {
	spec *agg.Spec
	fn   fnKind
	q    float64 // quantile of a percentile
	cond []cond
	// opAll: a time window observes updates too (the filter names _op);
	// otherwise only inserts and upserts.
	opAll bool

	widthMs int64    // tumbling bucket or sliding sub-bucket, ms
	ring    []bucket // tumbling or sliding
	head    int64    // index of the newest bucket or sub-bucket
	started bool     // head is set
	// dirtyIdx are the tumbling buckets dirtied since the last emit, in the
	// order they were (unless scanAll: Restore dirtied them in place).
	dirtyIdx []int64
	scanAll  bool

	period         bucket // calendar
	pStart, pEnd   int64  // calendar period, Unix ms
	cur            *current
	newest, now    int64 // newest source time; newest now passed to Emit
	seq            uint64
	late, dropped  uint64
	gaugeChanged   bool               // something moved since the last gauge Emit
	emitted        map[string]float64 // gauges: what was emitted, by group
	emittedDefined bool               // ungrouped gauge: a value was emitted
	capped         bool
	// win, for distinct over a sliding window: per group, each value of
	// the window and in how many of its steps it is; added says the last
	// cell.add put a value new to its step.
	win   map[string]map[string]int32
	added bool
	// closed is a sliding window's steps before the newest (head) merged,
	// for its emits until head moves or a late event lands in them.
	closed struct {
		valid      bool
		head       int64
		all, other cell
		groups     map[string]*cell
	}
}

// NewState returns an empty state of spec.
func NewState(spec *agg.Spec) *State {
	s := &State{spec: spec, fn: fnOf(spec.Fn), emitted: map[string]float64{}}
	s.q, _ = agg.Percentile(spec.Fn)
	for _, c := range spec.Filter {
		s.cond = append(s.cond, newCond(c))
		if c.Field == OpField {
			s.opAll = true
		}
	}
	switch spec.Kind {
	case agg.Tumbling:
		s.widthMs = spec.Width.Milliseconds()
		s.ring = make([]bucket, MaxBuckets)
	case agg.Sliding:
		s.widthMs = max(1, spec.Width.Milliseconds()/SlidingSteps)
		s.ring = make([]bucket, SlidingSteps)
		if s.fn == fnDistinct {
			s.win = map[string]map[string]int32{}
		}
	case agg.Current:
		s.cur = newCurrent()
	}
	return s
}

// Add folds one source event (any payload; what the spec does not read is
// ignored). Rows and gauges are dated by ev.Time, points by their own
// timestamps; an event in a bucket already emitted updates that bucket.
//
// An event is read as a row if it has one, else as gauges if it has
// values, else as points. Time windows observe inserted and upserted rows
// (an update is the same order again, a delete its end; a filter on _op
// chooses otherwise); "current" follows every change by key.
func (s *State) Add(ev *wire.Event) { s.add(ev, nil) }

// add is Add with the row's fields read through rf (nil: from the row's
// map), which the engine shares between the aggregates of one source.
func (s *State) add(ev *wire.Event, rf *rowFields) {
	s.seq++
	if ev.Time > s.newest {
		s.newest = ev.Time
	}
	switch {
	case ev.Row != nil:
		if s.cur != nil {
			s.cur.apply(s, ev.Row, rf)
			return
		}
		switch ev.Row.Op {
		case wire.RowInsert, wire.RowUpsert:
		case wire.RowUpdate:
			if !s.opAll {
				return
			}
		default:
			return
		}
		if !s.match(ev.Row, rf) {
			return
		}
		o, ok := s.rowObs(ev.Row.Fields, rf)
		if !ok {
			return
		}
		s.place(ev.Time, s.group(ev.Row.Fields, rf), o)
	case len(ev.Values) > 0:
		if s.cur != nil || len(s.cond) > 0 {
			return // gauges have no fields to filter on or key to follow
		}
		var o obs
		if s.spec.Field != "" {
			v, ok := ev.Values[s.spec.Field]
			if !ok {
				return
			}
			o = s.numObs(v)
		}
		s.place(ev.Time, s.nullGroup(), o)
	case ev.Points != nil:
		if s.cur != nil || len(s.cond) > 0 || !ev.Points.Valid() {
			return
		}
		var col []float64
		if s.spec.Field != "" {
			if col = ev.Points.Col(s.spec.Field); col == nil {
				return
			}
		}
		g := s.nullGroup()
		for i, ts := range ev.Points.TS {
			if ts > s.newest {
				s.newest = ts
			}
			var o obs
			if col != nil {
				o = s.numObs(col[i])
			}
			s.seq++
			s.place(ts, g, o)
		}
	}
}

// Emit returns what changed since the last Emit (or Full) as derived event
// payloads, Stream, Epoch and Seq unset and Time the newest source time;
// nil when nothing changed. now moves sliding and calendar windows.
//
// Tumbling: one event per changed bucket, Points{Upsert} at the bucket's
// start (without group_by all changed buckets in one event). Gauges:
// Values{"value"}, or per changed group a Row{Key: group, Fields: key,
// value}, Op delete for a group that is gone.
func (s *State) Emit(now time.Time) []wire.Event { return s.emit(now, false) }

// Full returns the whole current picture as derived event payloads: what a
// rebuilt state emits first.
func (s *State) Full(now time.Time) []wire.Event { return s.emit(now, true) }

// Late counts the source events that landed in a bucket already closed (a
// newer one had begun): they update it, and it is emitted again.
func (s *State) Late() uint64 { return s.late }

// Dropped counts the source events too old to be kept (older than the
// buckets kept, the sliding window or the calendar period) and the rows of
// a current window past MaxCurrentRows.
func (s *State) Dropped() uint64 { return s.dropped }

// Capped reports whether distinct met MaxDistinct somewhere, so that what
// it says is a lower bound.
func (s *State) Capped() bool { return s.capped }

// Size is about how many bytes the state holds.
func (s *State) Size() int {
	n := int(unsafe.Sizeof(*s)) + len(s.emitted)*48 + len(s.ring)*int(unsafe.Sizeof(bucket{})) + cap(s.dirtyIdx)*8
	for i := range s.ring {
		n += s.ring[i].size()
	}
	n += s.period.size()
	if s.closed.groups != nil { // a sliding window's closed steps merged
		n += s.closed.all.size() + s.closed.other.size()
		for g, c := range s.closed.groups {
			n += len(g) + 48 + c.size()
		}
	}
	for g, m := range s.win {
		n += len(g) + 48 + 40*len(m)
	}
	if s.cur != nil {
		n += s.cur.size()
	}
	return n
}

// Computer is what the runtime drives: State for every function but m4,
// M4 for m4.
type Computer interface {
	Add(ev *wire.Event)
	Emit(now time.Time) []wire.Event
	Full(now time.Time) []wire.Event
	Late() uint64
	Size() int
}

// New returns an empty computer of spec.
func New(spec *agg.Spec) Computer {
	if spec.Fn == "m4" {
		return newM4(spec)
	}
	return NewState(spec)
}

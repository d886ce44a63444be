// Package livestate folds a stream's events into its hot state: gauges, recent
// keyed rows and a time-aligned table of series. The backend folds to build
// snapshots; the client folds the same way to draw, so both agree by
// construction.
//
// It must never do I/O or hold locks: callers own the synchronisation.
package livestate

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/telltale/telltale/shared/wire"
)

// Limits bound the state. Zero values mean the documented defaults, but
// for Series, Keys, RowFields and RowBytes only where the server uses them
// (Check, Effective): folding, a zero cap is none, because a client folds
// what the server already cut to its tenant's caps.
type Limits struct {
	Rows      int // recent rows kept; zero means 50
	Points    int // samples kept per series; zero means 3000
	Series    int // distinct series per stream; zero means DefaultSeries
	Keys      int // distinct gauge names per stream; zero means DefaultKeys
	RowFields int // top-level fields of one row; zero means DefaultRowFields
	RowBytes  int // one row's RowSize; zero means DefaultRowBytes
	// Ragged lets a series hold only its own samples: a column shorter
	// than Points.TS holds the table's last len(Vals) rows, and is NaN
	// before them. A new series then costs what it brings, not NaN for the
	// whole kept window (1,000 new series into a 3,000-row table: 24 MB
	// dense, 0.2 MB ragged). Only for a state that is encoded before it
	// is read (the hub's, through Aligned); readers that index columns by
	// TS (the UI's Col) need it false.
	Ragged bool
}

func (l Limits) rows() int {
	if l.Rows <= 0 {
		return 50
	}
	return l.Rows
}

func (l Limits) points() int {
	if l.Points <= 0 {
		return 3000
	}
	return l.Points
}

// ErrGap means an event does not follow the last applied seq: applying it
// would leave a silent hole, so the caller must resume or resync instead.
var ErrGap = errors.New("gap in sequence")

// ErrEpoch means an event belongs to another epoch than the stream.
var ErrEpoch = errors.New("event from another epoch")

// Stream is one stream's folded state plus the cursor it is valid at.
type Stream struct {
	Name   string
	Epoch  uint64
	Seq    uint64
	State  wire.State
	Limits Limits
	// Trimmed says which cap the last applied event passed, nil when it
	// was folded whole. Apply cuts such an event in place to what was kept,
	// so that whoever forwards it forwards exactly what the state took.
	Trimmed *LimitError
}

// Reset replaces the state with a snapshot.
func (s *Stream) Reset(snap *wire.Snapshot) {
	s.Name, s.Epoch, s.Seq = snap.Stream, snap.Epoch, snap.Seq
	s.State = snap.State
	s.State.Points = clonePoints(snap.State.Points)
}

// Cursor reports where the stream stands.
func (s *Stream) Cursor() wire.Cursor {
	return wire.Cursor{Stream: s.Name, Epoch: s.Epoch, Seq: s.Seq}
}

// Apply folds ev if it is the next event. It is idempotent: an event at or
// below the current seq is ignored and reported as not applied. An event past
// seq+1 returns ErrGap and changes nothing. An event past the stream's caps
// is applied trimmed (see Trim): *ev is replaced by the trimmed event (the
// maps and points it pointed to are not changed) and Trimmed says why.
func (s *Stream) Apply(ev *wire.Event) (applied bool, err error) {
	if s.Epoch == 0 && s.Seq == 0 && ev.Seq == 1 {
		// Nothing held yet, and this is a stream's very first event: it
		// continues the empty state exactly, whatever its epoch.
		s.Epoch = ev.Epoch
	}
	if ev.Epoch != s.Epoch {
		return false, fmt.Errorf("%w: stream %s at epoch %d, event at %d", ErrEpoch, s.Name, s.Epoch, ev.Epoch)
	}
	if ev.Seq <= s.Seq {
		return false, nil
	}
	if ev.Seq != s.Seq+1 {
		return false, fmt.Errorf("%w: stream %s at seq %d, event seq %d", ErrGap, s.Name, s.Seq, ev.Seq)
	}
	s.Trimmed = nil
	if t, cut := Trim(&s.State, s.Name, ev, s.Limits); cut != nil {
		*ev, s.Trimmed = t, cut
	}
	Fold(&s.State, ev, s.Limits)
	s.Seq = ev.Seq
	return true, nil
}

// Fold merges one event into st. Points whose columns disagree in length with
// their timestamps are dropped whole rather than misaligned. What would pass
// a cap of lim is left out (see Trim), and the cap is returned; ev is not
// changed.
func Fold(st *wire.State, ev *wire.Event, lim Limits) *LimitError {
	t, cut := Trim(st, "", ev, lim)
	if cut != nil {
		ev = &t
	}
	if ev.Time > st.LastTime {
		st.LastTime = ev.Time
	}
	if len(ev.Values) > 0 {
		if st.Values == nil {
			st.Values = make(map[string]float64, len(ev.Values))
		}
		for k, v := range ev.Values {
			st.Values[k] = v
		}
	}
	if ev.Row != nil {
		foldRow(st, ev.Row, lim.rows())
	}
	if ev.Points != nil && len(ev.Points.TS) > 0 && ev.Points.Valid() {
		if ev.Points.Upsert {
			foldUpsert(&st.Points, ev.Points, lim.points(), lim.Ragged)
		} else {
			foldPoints(&st.Points, ev.Points, lim.points(), lim.Ragged)
		}
	}
	return cut
}

func foldRow(st *wire.State, r *wire.Row, max int) {
	if i := slices.IndexFunc(st.Rows, func(x wire.Row) bool { return x.Key == r.Key }); i >= 0 {
		st.Rows = slices.Delete(st.Rows, i, i+1)
	}
	if r.Op == wire.RowDelete {
		return
	}
	st.Rows = slices.Insert(st.Rows, 0, *r)
	if len(st.Rows) > max {
		clear(st.Rows[max:])
		st.Rows = st.Rows[:max]
	}
}

// foldPoints appends p to the aligned table t. A series missing from p gets
// NaN for p's timestamps; a series new to t gets NaN for its past, or, with
// ragged, nothing (see Limits.Ragged). When the table grows past 5/4 of max
// it is cut back to max, so trimming costs O(1) per point amortised.
// Matching p's columns to t's is one pass over each (not a search of t per
// column of p: 1,000 new series into 1,000 held took 4 ms that way).
func foldPoints(t *wire.Points, p *wire.Points, max int, ragged bool) {
	old := len(t.TS)
	t.TS = append(t.TS, p.TS...)
	src := make(map[string]int, len(p.Cols)) // p's column → index, -1 once matched
	for j := range p.Cols {
		src[p.Cols[j].Name] = j
	}
	for i := range t.Cols {
		tc := &t.Cols[i]
		if j, ok := src[tc.Name]; ok && j >= 0 {
			tc.Vals = append(tc.Vals, p.Cols[j].Vals...)
			src[tc.Name] = -1
			continue
		}
		for range p.TS {
			tc.Vals = append(tc.Vals, math.NaN())
		}
	}
	for j := range p.Cols {
		c := &p.Cols[j]
		if src[c.Name] < 0 {
			continue
		}
		src[c.Name] = -1 // a repeated name in p is one column
		if ragged {
			t.Cols = append(t.Cols, wire.Column{Name: c.Name, Vals: slices.Clone(c.Vals)})
			continue
		}
		vals := make([]float64, old, old+len(c.Vals))
		for i := range vals {
			vals[i] = math.NaN()
		}
		t.Cols = append(t.Cols, wire.Column{Name: c.Name, Vals: append(vals, c.Vals...)})
	}
	trimPoints(t, max)
}

// trimPoints cuts t back to its newest max rows once it holds more than 5/4
// of max.
func trimPoints(t *wire.Points, max int) {
	if n := len(t.TS); n > max+max/4 {
		t.TS = append(t.TS[:0], t.TS[n-max:]...)
		for i := range t.Cols {
			if v := t.Cols[i].Vals; len(v) > max {
				t.Cols[i].Vals = append(v[:0], v[len(v)-max:]...)
			}
		}
	}
}

// foldUpsert folds p (p.Upsert) into t: a sample at a timestamp t holds
// replaces t's value there for each series p carries (the others keep
// theirs); a sample at a timestamp t does not hold inserts a row in time
// order, NaN for the series p does not carry. A derived stream's tables are
// small (an m4 stream: 4 rows per bucket) and its updates land at or near
// the end, so each sample is a comparison with the last row, or a binary
// search and an insert of O(rows) for a late bucket. With repeated
// timestamps in t the first is replaced. New series, ragged and the points
// cap are as in foldPoints.
func foldUpsert(t *wire.Points, p *wire.Points, max int, ragged bool) {
	held := make(map[string]int, len(t.Cols))
	for i := range t.Cols {
		held[t.Cols[i].Name] = i
	}
	dst := make([]int, len(p.Cols)) // p's column → t's, -1 for a repeated name
	seen := make(map[string]bool, len(p.Cols))
	for j := range p.Cols {
		name := p.Cols[j].Name
		if seen[name] { // a repeated name in p is one column, the first's
			dst[j] = -1
			continue
		}
		seen[name] = true
		if i, ok := held[name]; ok {
			dst[j] = i
			continue
		}
		var vals []float64 // ragged: no rows of its own yet
		if !ragged {
			vals = make([]float64, len(t.TS))
			for i := range vals {
				vals[i] = math.NaN()
			}
		}
		held[name] = len(t.Cols)
		dst[j] = len(t.Cols)
		t.Cols = append(t.Cols, wire.Column{Name: name, Vals: vals})
	}
	for k, ts := range p.TS {
		n := len(t.TS)
		i := n
		if n > 0 && ts <= t.TS[n-1] {
			i, _ = slices.BinarySearch(t.TS, ts)
		}
		if i == n || t.TS[i] != ts {
			insertRow(t, i, ts)
		}
		for j := range p.Cols {
			if dst[j] >= 0 {
				setAt(&t.Cols[dst[j]], len(t.TS), i, p.Cols[j].Vals[k])
			}
		}
	}
	trimPoints(t, max)
}

// insertRow inserts timestamp ts at row i of t, NaN in every column. A
// ragged column that starts after row i is left as it is: its padding grows
// by the row.
func insertRow(t *wire.Points, i int, ts int64) {
	n := len(t.TS) // rows before the insert
	t.TS = slices.Insert(t.TS, i, ts)
	for c := range t.Cols {
		col := &t.Cols[c]
		if pad := n - len(col.Vals); i >= pad {
			col.Vals = slices.Insert(col.Vals, i-pad, math.NaN())
		}
	}
}

// setAt sets row i of column c of a table of n rows to v. A ragged column
// that starts after row i grows at its front to start there.
func setAt(c *wire.Column, n, i int, v float64) {
	pad := n - len(c.Vals)
	if i >= pad {
		c.Vals[i-pad] = v
		return
	}
	vals := make([]float64, n-i)
	vals[0] = v
	for k := 1; k < pad-i; k++ {
		vals[k] = math.NaN()
	}
	copy(vals[pad-i:], c.Vals)
	c.Vals = vals
}

func clonePoints(p wire.Points) wire.Points {
	out := wire.Points{TS: slices.Clone(p.TS), Cols: make([]wire.Column, len(p.Cols))}
	for i, c := range p.Cols {
		out.Cols[i] = wire.Column{Name: c.Name, Vals: slices.Clone(c.Vals)}
	}
	return out
}

// Clone returns a deep copy of st (row field maps are shared: rows are
// replaced, never mutated in place).
func Clone(st *wire.State) wire.State {
	out := wire.State{LastTime: st.LastTime, Points: clonePoints(st.Points)}
	if st.Values != nil {
		out.Values = make(map[string]float64, len(st.Values))
		for k, v := range st.Values {
			out.Values[k] = v
		}
	}
	out.Rows = slices.Clone(st.Rows)
	return out
}

// Package series holds a series' recent points in a preallocated ring of
// timestamps and values: appending never allocates, and reading a time window
// gives slices into the ring (at most two pieces, where it wraps), not a copy.
// The browser keeps one per chart series; the server can keep them too.
package series

import "sort"

// DefaultCapacity is how many points a ring holds unless told otherwise.
const DefaultCapacity = 100_000

// Ring is a fixed-capacity ring of (timestamp, value) points in append order.
// Timestamps should not decrease; Append refuses one that does, so that
// windows are found by binary search and decimation sees sorted input.
// It is not safe for concurrent use.
type Ring struct {
	ts   []int64
	vs   []float64
	head int // index of the oldest point
	n    int
}

// New returns a ring of the given capacity (DefaultCapacity if ≤ 0), with
// all its memory allocated now.
func New(capacity int) *Ring {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Ring{ts: make([]int64, capacity), vs: make([]float64, capacity)}
}

// Len is how many points the ring holds; Cap how many it can.
func (r *Ring) Len() int { return r.n }
func (r *Ring) Cap() int { return len(r.ts) }

// Append adds a point, dropping the oldest when full. It reports false (and
// keeps nothing) for a timestamp older than the newest one held.
func (r *Ring) Append(t int64, v float64) bool {
	if r.n > 0 && t < r.ts[r.index(r.n-1)] {
		return false
	}
	if r.n < len(r.ts) {
		i := r.index(r.n)
		r.ts[i], r.vs[i] = t, v
		r.n++
		return true
	}
	r.ts[r.head], r.vs[r.head] = t, v
	r.head = (r.head + 1) % len(r.ts)
	return true
}

// AppendAll adds aligned columns of points and returns how many it kept
// (it stops at the first timestamp that goes back in time).
func (r *Ring) AppendAll(ts []int64, vs []float64) int {
	n := min(len(ts), len(vs))
	for i := range n {
		if !r.Append(ts[i], vs[i]) {
			return i
		}
	}
	return n
}

// Reset empties the ring, keeping its memory.
func (r *Ring) Reset() { r.head, r.n = 0, 0 }

func (r *Ring) index(k int) int { return (r.head + k) % len(r.ts) }

// First and Last are the oldest and newest timestamps; ok is false if empty.
func (r *Ring) First() (t int64, ok bool) {
	if r.n == 0 {
		return 0, false
	}
	return r.ts[r.head], true
}

func (r *Ring) Last() (t int64, ok bool) {
	if r.n == 0 {
		return 0, false
	}
	return r.ts[r.index(r.n-1)], true
}

// Window is the points with from ≤ t ≤ to, as up to two pieces of the ring
// in time order (TS[0]/VS[0], then TS[1]/VS[1]). The slices alias the ring:
// valid until the next Append.
type Window struct {
	TS [2][]int64
	VS [2][]float64
}

// Len is the number of points in the window.
func (w *Window) Len() int { return len(w.TS[0]) + len(w.TS[1]) }

// Window returns the points with from ≤ t ≤ to, found by binary search.
func (r *Ring) Window(from, to int64) Window {
	lo := sort.Search(r.n, func(k int) bool { return r.ts[r.index(k)] >= from })
	hi := sort.Search(r.n, func(k int) bool { return r.ts[r.index(k)] > to })
	return r.span(lo, hi)
}

// All returns every point held.
func (r *Ring) All() Window { return r.span(0, r.n) }

// span is the points k in [lo, hi) (k counted from the oldest) as pieces.
func (r *Ring) span(lo, hi int) Window {
	var w Window
	if lo >= hi {
		return w
	}
	a, b := r.index(lo), r.index(hi-1)
	if a <= b {
		w.TS[0], w.VS[0] = r.ts[a:b+1], r.vs[a:b+1]
		return w
	}
	w.TS[0], w.VS[0] = r.ts[a:], r.vs[a:]
	w.TS[1], w.VS[1] = r.ts[:b+1], r.vs[:b+1]
	return w
}

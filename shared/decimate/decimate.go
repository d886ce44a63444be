// Package decimate reduces a series to what a chart can show.
//
//   - M4 keeps, for each pixel column of the chart, the first, the lowest,
//     the highest and the last point that fall in it: a line drawn through
//     them covers the same pixels as one drawn through every point, with at
//     most 4 points per column however many there were.
//   - LTTB (largest triangle three buckets) keeps a fixed number of points
//     that preserve the series' shape, for when the output size is fixed
//     rather than tied to pixels (server-side history, sparklines).
//
// Input timestamps must not decrease (equal ones are fine); a decrease is an
// error, never a silently wrong chart. NaN values are gaps: they are not
// minima or maxima, and a column that holds one keeps a NaN point so the
// drawn line breaks there. Output x are ascending and x and y have equal
// lengths: a valid uPlot series.
package decimate

import (
	"errors"
	"math"
)

// ErrUnsorted reports input whose timestamps go back in time.
var ErrUnsorted = errors.New("timestamps decrease")

// M4 accumulates points into width pixel columns spanning [from, to] and
// emits at most 4 points per column. Feed it with Add (several calls for a
// ring's pieces, in time order), then read the result with Finish. Reuse it
// with Reset to avoid allocating per frame.
type M4 struct {
	from, to int64
	width    int
	scale    float64 // columns per time unit

	xs, ys []float64
	col    int // the column being accumulated; -1 before the first point
	c      column
	last   int64
	seen   bool
	err    error
}

// column is one pixel column's candidates, by index of arrival.
type column struct {
	n                 int
	first, min, max   point
	lastPt, gap       point
	hasFinite, hasGap bool
}

type point struct {
	t int64
	v float64
	k int // arrival order within the column, to keep time order on ties
}

// NewM4 returns an accumulator for width columns over [from, to]. xs and ys
// are reused for the output (pass the previous frame's to avoid allocation).
func NewM4(from, to int64, width int, xs, ys []float64) *M4 {
	m := &M4{}
	m.Reset(from, to, width, xs[:0], ys[:0])
	return m
}

// Reset starts over with a new range and width, keeping the output buffers.
func (m *M4) Reset(from, to int64, width int, xs, ys []float64) {
	if width < 1 {
		width = 1
	}
	if to <= from {
		to = from + 1
	}
	*m = M4{from: from, to: to, width: width, scale: float64(width) / float64(to-from), xs: xs[:0], ys: ys[:0], col: -1}
}

// Add feeds points in time order. Points outside [from, to] are ignored.
func (m *M4) Add(ts []int64, vs []float64) error {
	if m.err != nil {
		return m.err
	}
	n := min(len(ts), len(vs))
	for i := range n {
		t, v := ts[i], vs[i]
		if m.seen && t < m.last {
			m.err = ErrUnsorted
			return m.err
		}
		m.last, m.seen = t, true
		if t < m.from || t > m.to {
			continue
		}
		col := m.column(t)
		if col != m.col {
			m.flush()
			m.col = col
		}
		m.add(t, v)
	}
	return nil
}

// column is the pixel column of t, which must be in [from, to].
func (m *M4) column(t int64) int {
	return min(int(float64(t-m.from)*m.scale), m.width-1) // t == to: the last
}

func (m *M4) add(t int64, v float64) {
	c := &m.c
	p := point{t, v, c.n}
	c.n++
	if math.IsNaN(v) {
		c.gap, c.hasGap = p, true
		return
	}
	if !c.hasFinite {
		c.first, c.min, c.max, c.lastPt, c.hasFinite = p, p, p, p, true
		return
	}
	if v < c.min.v {
		c.min = p
	}
	if v > c.max.v {
		c.max = p
	}
	c.lastPt = p
}

// flush emits the current column's points in arrival (time) order: first,
// min, max and last of its finite values, the last replaced by a NaN point
// when the column holds a gap, so that at most 4 come out.
func (m *M4) flush() {
	c := &m.c
	if c.n == 0 {
		return
	}
	var pts [4]point
	k := 0
	if c.hasFinite {
		pts[k] = c.first
		k++
		for _, p := range []point{c.min, c.max} {
			if p.k != c.first.k {
				pts[k] = p
				k++
			}
		}
	}
	switch {
	case c.hasGap:
		pts[k] = c.gap
		k++
	case c.hasFinite && c.lastPt.k != c.first.k && c.lastPt.k != c.min.k && c.lastPt.k != c.max.k:
		pts[k] = c.lastPt
		k++
	}
	// Sort up to 4 by arrival (insertion sort), dropping duplicates.
	for i := 1; i < k; i++ {
		for j := i; j > 0 && pts[j].k < pts[j-1].k; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	prev := -1
	for _, p := range pts[:k] {
		if p.k == prev {
			continue
		}
		prev = p.k
		m.xs = append(m.xs, float64(p.t))
		m.ys = append(m.ys, p.v)
	}
	m.c = column{}
}

// Finish returns the decimated series (aliasing the buffers given to NewM4
// or Reset) or the input's error.
func (m *M4) Finish() (xs, ys []float64, err error) {
	if m.err != nil {
		return nil, nil, m.err
	}
	m.flush()
	return m.xs, m.ys, nil
}

// LTTB picks n points of the series (ts, vs) that keep its shape, appending
// them to xs and ys: always the first and the last, and from each of n-2
// buckets between them the point forming the largest triangle with the
// previously kept point and the next bucket's average. A series of n points
// or fewer comes back whole. NaN values are skipped, except that a bucket of
// only NaN keeps one so the gap stays visible.
func LTTB(ts []int64, vs []float64, n int, xs, ys []float64) ([]float64, []float64, error) {
	size := min(len(ts), len(vs))
	for i := 1; i < size; i++ {
		if ts[i] < ts[i-1] {
			return nil, nil, ErrUnsorted
		}
	}
	xs, ys = xs[:0], ys[:0]
	if n >= size || n < 3 {
		if n < 3 && size > 2 {
			n = 2
			xs = append(xs, float64(ts[0]), float64(ts[size-1]))
			ys = append(ys, vs[0], vs[size-1])
			return xs, ys, nil
		}
		for i := range size {
			xs = append(xs, float64(ts[i]))
			ys = append(ys, vs[i])
		}
		return xs, ys, nil
	}
	xs = append(xs, float64(ts[0]))
	ys = append(ys, vs[0])
	every := float64(size-2) / float64(n-2)
	a := 0 // the point kept last
	for b := range n - 2 {
		start := int(float64(b)*every) + 1
		end := min(int(float64(b+1)*every)+1, size-1)
		// The next bucket's average (the last point for the last bucket).
		nStart, nEnd := end, min(int(float64(b+2)*every)+1, size-1)
		if b == n-3 {
			nStart, nEnd = size-1, size
		}
		var avgT, avgV float64
		cnt := 0
		for j := nStart; j < nEnd; j++ {
			if !math.IsNaN(vs[j]) {
				avgT += float64(ts[j])
				avgV += vs[j]
				cnt++
			}
		}
		if cnt > 0 {
			avgT /= float64(cnt)
			avgV /= float64(cnt)
		}
		best, bestArea := -1, -1.0
		at, av := float64(ts[a]), vs[a]
		for j := start; j < end; j++ {
			if math.IsNaN(vs[j]) {
				continue
			}
			area := math.Abs((at-avgT)*(vs[j]-av) - (at-float64(ts[j]))*(avgV-av))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		if best < 0 {
			best = start // a bucket of gaps: keep one, as a gap
		}
		xs = append(xs, float64(ts[best]))
		ys = append(ys, vs[best])
		a = best
	}
	xs = append(xs, float64(ts[size-1]))
	ys = append(ys, vs[size-1])
	return xs, ys, nil
}

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
	"runtime"
	"sort"
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
	// worker takes the second half of a large Add on another core; kept
	// across Reset with its buffers, so reuse does not allocate.
	worker *M4
}

// parallelMin is the smallest Add split over two goroutines (when Go has
// two or more processors: never in the browser). One pass over a million
// points is bound by memory bandwidth (~3 ms for 16 MB on the 2-core
// machine); two cores read it in about half that.
const parallelMin = 1 << 18

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
	*m = M4{from: from, to: to, width: width, scale: float64(width) / float64(to-from), xs: xs[:0], ys: ys[:0], col: -1, worker: m.worker}
}

// Add feeds points in time order. Points outside [from, to] are ignored.
// The points of one pixel column are folded in one tight loop over locals
// (run), not point by point through the column's state.
func (m *M4) Add(ts []int64, vs []float64) error {
	if m.err != nil {
		return m.err
	}
	n := min(len(ts), len(vs))
	ts, vs = ts[:n], vs[:n]
	if n >= parallelMin && runtime.GOMAXPROCS(0) > 1 {
		if split := m.split(ts); split > 0 {
			return m.addSplit(ts, vs, split)
		}
	}
	return m.add(ts, vs)
}

// split is an index near the middle of ts where a new pixel column starts,
// or 0 when there is none worth splitting at.
func (m *M4) split(ts []int64) int {
	mid := len(ts) / 2
	t := ts[mid]
	if t < m.from || t > m.to {
		return 0
	}
	end := m.columnEnd(m.column(t))
	// ts is meant to be sorted: search for the next column's first point.
	// On unsorted input the split is arbitrary, and the halves' own checks
	// and the one at the seam report it.
	i := mid + sort.Search(len(ts)-mid, func(i int) bool { return ts[mid+i] >= end })
	if i >= len(ts) {
		return 0
	}
	return i
}

// addSplit folds ts[:split] here and ts[split:] on another goroutine into a
// fresh accumulator, then appends its columns: the halves share no column.
func (m *M4) addSplit(ts []int64, vs []float64, split int) error {
	w := m.worker
	if w == nil {
		w = &M4{}
	}
	w.Reset(m.from, m.to, m.width, w.xs, w.ys)
	done := make(chan error, 1)
	go func() { done <- w.add(ts[split:], vs[split:]) }()
	err := m.add(ts[:split], vs[:split])
	werr := <-done
	m.worker = w
	if err != nil {
		return err
	}
	if werr != nil || ts[split] < ts[split-1] {
		m.err = ErrUnsorted
		return m.err
	}
	m.flush()
	m.xs = append(m.xs, w.xs...)
	m.ys = append(m.ys, w.ys...)
	m.col, m.c, m.last, m.seen = w.col, w.c, w.last, w.seen
	return nil
}

// add is Add on one goroutine.
func (m *M4) add(ts []int64, vs []float64) error {
	n := len(ts)
	for i := 0; i < n; {
		t := ts[i]
		if m.seen && t < m.last {
			m.err = ErrUnsorted
			return m.err
		}
		m.last, m.seen = t, true
		if t < m.from || t > m.to {
			i++
			continue
		}
		col := m.column(t)
		if col != m.col {
			m.flush()
			m.col = col
		}
		i = m.run(ts, vs, i, m.columnEnd(col))
	}
	return nil
}

// columnEnd is the first time of the column after col (to+1 for the last).
func (m *M4) columnEnd(col int) int64 {
	if col >= m.width-1 {
		return m.to + 1
	}
	e := m.from + int64(float64(col+1)/m.scale)
	for e > m.from && m.column(e-1) > col {
		e--
	}
	for e <= m.to && m.column(e) <= col {
		e++
	}
	return e
}

// run folds ts[i:] into the current column while the points stay before hi
// and in time order (ts[i] is known to be both), and returns where it
// stopped. Ties keep the earliest extreme; the last gap is kept, as point by
// point folding would.
func (m *M4) run(ts []int64, vs []float64, i int, hi int64) int {
	vs = vs[:len(ts)] // one bounds check here, none in the loop
	prev := ts[i]
	minI, maxI, gapI := -1, -1, -1
	minV, maxV := math.Inf(1), math.Inf(-1)
	j := i
	for ; j < len(ts); j++ {
		t := ts[j]
		if t >= hi || t < prev {
			break
		}
		prev = t
		v := vs[j]
		// NaN compares false, so a gap never becomes an extreme.
		if v < minV {
			minV, minI = v, j
		}
		if v > maxV {
			maxV, maxI = v, j
		}
		if v != v {
			gapI = j
		}
	}
	// The first and last non-NaN points of the run, found from its ends.
	firstI, lastI := -1, -1
	for k := i; k < j; k++ {
		if vs[k] == vs[k] {
			firstI = k
			break
		}
	}
	for k := j - 1; k >= i && firstI >= 0; k-- {
		if vs[k] == vs[k] {
			lastI = k
			break
		}
	}
	if firstI >= 0 {
		// Only infinities of one sign: the other extreme is the first.
		if minI < 0 {
			minI, minV = firstI, vs[firstI]
		}
		if maxI < 0 {
			maxI, maxV = firstI, vs[firstI]
		}
	}
	m.last = prev
	c := &m.c
	base := c.n - i // arrival order of index j is base+j
	pt := func(j int) point { return point{ts[j], vs[j], base + j} }
	if firstI >= 0 {
		if !c.hasFinite {
			c.first, c.min, c.max, c.hasFinite = pt(firstI), pt(minI), pt(maxI), true
		} else {
			if minV < c.min.v {
				c.min = pt(minI)
			}
			if maxV > c.max.v {
				c.max = pt(maxI)
			}
		}
		c.lastPt = pt(lastI)
	}
	if gapI >= 0 {
		c.gap, c.hasGap = pt(gapI), true
	}
	c.n += j - i
	return j
}

// column is the pixel column of t, which must be in [from, to].
func (m *M4) column(t int64) int {
	return min(int(float64(t-m.from)*m.scale), m.width-1) // t == to: the last
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

package decimate

import (
	"math"
	"sort"
)

// Columns decimates a growing aligned table (one timestamp column shared by
// k series) incrementally. Pixel columns are aligned to absolute time (each
// covers Span milliseconds starting at a multiple of Span), so as the window
// slides only the newest columns change and the chart scrolls by whole
// columns. Each frame, Update re-reads only the rows from the start of the
// newest column it holds, not the whole window: O(points arrived), not
// O(points held). A new span (a resize, a zoom, another window) or Reset
// starts over from the whole table.
//
// Per column and series it keeps the first and last row, the lowest and
// highest value and the first gap (NaN), with every series' values at those
// rows so that the output stays aligned for uPlot.
type Columns struct {
	span int64 // ms per pixel column
	k    int   // series
	cols []aggColumn
	// Output buffers and scratch, reused. The output holds the rows of the
	// first valid columns as emitted last time; emit rewrites only the rest.
	ts    []int64
	vals  [][]float64
	out   []int // output rows of each column in cols, for the valid ones
	valid int
	mark  []bool
}

type aggColumn struct {
	index         int64    // absolute column number: t / span
	rows          []aggRow // candidate rows, at most 2+3k, in time order once finished
	first, last   int      // positions in rows
	min, max, gap []int
}

type aggRow struct {
	t int64
	v []float64 // all series at this row
}

// Reset forgets everything: the next Update reads the whole table.
func (c *Columns) Reset() { c.cols, c.valid = c.cols[:0], 0 }

// Update folds the table's rows into columns of span ms for the window
// [from, to] and returns the decimated window (slices reused across calls,
// valid until the next one). ts must not decrease; vals[s] has len(ts)
// values or is treated as all gaps.
func (c *Columns) Update(ts []int64, vals [][]float64, from, to, span int64) ([]int64, [][]float64) {
	if span < 1 {
		span = 1
	}
	if span != c.span || len(vals) != c.k {
		c.span, c.k = span, len(vals)
		c.cols, c.valid = c.cols[:0], 0
	}
	// Re-read from the start of the newest column held (it may have grown),
	// or from the window's start when nothing is held.
	start := floorDiv(from, span) * span
	if n := len(c.cols); n > 0 {
		start = max(start, c.cols[n-1].index*span)
		c.cols = c.cols[:n-1]
		c.valid = min(c.valid, n-1)
	}
	i := sort.Search(len(ts), func(i int) bool { return ts[i] >= start })
	for ; i < len(ts); i++ {
		t := ts[i]
		if t > to {
			break
		}
		idx := floorDiv(t, span)
		if n := len(c.cols); n == 0 || c.cols[n-1].index != idx {
			c.cols = append(c.cols, c.newColumn(idx))
		}
		c.add(&c.cols[len(c.cols)-1], t, vals, i)
	}
	// Drop columns that left the window.
	first := floorDiv(from, span)
	drop := 0
	for drop < len(c.cols) && c.cols[drop].index < first {
		drop++
	}
	if drop > 0 {
		c.cols = append(c.cols[:0], c.cols[drop:]...)
		// Their rows leave the front of the output.
		gone := 0
		for _, r := range c.out[:min(drop, c.valid)] {
			gone += r
		}
		if drop >= c.valid {
			c.valid, gone = 0, 0
		} else {
			c.out = append(c.out[:0], c.out[drop:c.valid]...)
			c.valid -= drop
			c.ts = append(c.ts[:0], c.ts[gone:]...)
			for s := range c.vals {
				c.vals[s] = append(c.vals[s][:0], c.vals[s][gone:]...)
			}
		}
	}
	return c.emit()
}

// Keep is the earliest time the next Update re-reads: a caller streaming a
// table through Update may drop every row before it. Without columns held
// it returns the smallest int64 (keep everything).
func (c *Columns) Keep() int64 {
	if n := len(c.cols); n > 0 {
		return c.cols[n-1].index * c.span
	}
	return math.MinInt64
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (c *Columns) newColumn(index int64) aggColumn {
	col := aggColumn{index: index, first: -1, last: -1, min: make([]int, c.k), max: make([]int, c.k), gap: make([]int, c.k)}
	for s := range c.k {
		col.min[s], col.max[s], col.gap[s] = -1, -1, -1
	}
	return col
}

// add considers row i (time t) for the column. Every row is held as the
// column's last until a later row replaces it; it stays if it is the first,
// or some series' extreme or first gap. Rows that stop being any of these
// are compacted away, so a column holds at most 2+3k rows.
func (c *Columns) add(col *aggColumn, t int64, vals [][]float64, i int) {
	k := len(vals)
	if cap(c.mark) < 3*k {
		c.mark = make([]bool, 3*k)
	}
	mark := c.mark[:3*k] // min, max, gap flags per series
	clear(mark)
	for s := range vals {
		v := math.NaN()
		if i < len(vals[s]) {
			v = vals[s][i]
		}
		switch {
		case math.IsNaN(v):
			mark[2*k+s] = col.gap[s] < 0
		case col.min[s] < 0:
			mark[s], mark[k+s] = true, true
		case v < col.rows[col.min[s]].v[s]:
			mark[s] = true
		case v > col.rows[col.max[s]].v[s]:
			mark[k+s] = true
		}
	}
	var recycled []float64
	if col.last >= 0 && col.last != col.first && !col.referenced(col.last) {
		recycled = col.rows[col.last].v // the newest row held: drop it, reuse its values
		col.rows = col.rows[:col.last]
	}
	row := aggRow{t: t, v: recycled[:0]}
	for s := range vals {
		v := math.NaN()
		if i < len(vals[s]) {
			v = vals[s][i]
		}
		row.v = append(row.v, v)
	}
	col.rows = append(col.rows, row)
	pos := len(col.rows) - 1
	if col.first < 0 {
		col.first = pos
	}
	col.last = pos
	for s := range k {
		if mark[s] {
			col.min[s] = pos
		}
		if mark[k+s] {
			col.max[s] = pos
		}
		if mark[2*k+s] {
			col.gap[s] = pos
		}
	}
	if len(col.rows) > 2+3*k {
		col.compact()
	}
}

// compact keeps only the rows still first, last, an extreme or a gap.
func (col *aggColumn) compact() {
	remap := make([]int, len(col.rows))
	kept := col.rows[:0]
	for pos, r := range col.rows {
		if pos == col.first || pos == col.last || col.referenced(pos) {
			remap[pos] = len(kept)
			kept = append(kept, r)
		} else {
			remap[pos] = -1
		}
	}
	col.rows = kept
	col.first, col.last = remap[col.first], remap[col.last]
	for s := range col.min {
		for _, p := range []*int{&col.min[s], &col.max[s], &col.gap[s]} {
			if *p >= 0 {
				*p = remap[*p]
			}
		}
	}
}

// referenced reports whether row pos is some series' extreme or gap.
func (col *aggColumn) referenced(pos int) bool {
	for s := range col.min {
		if col.min[s] == pos || col.max[s] == pos || col.gap[s] == pos {
			return true
		}
	}
	return false
}

// emit writes every column to the output as at most four rows, shared by
// all series: the column's first row, then each series' two extremes in the
// order they occurred, then the last row. The two middle rows are placed at
// thirds of the column's time range: every series' extremes are then drawn
// in their own column, in their own order, so the line is what drawing every
// point would give at this width, from 4 rows per column whatever the number
// of series (the candidate rows kept are up to 2+3k). A column where some
// series has both values and a gap gets a fifth row between the extremes,
// NaN for those series, so the line breaks there.
func (c *Columns) emit() ([]int64, [][]float64) {
	if len(c.vals) != c.k {
		c.vals, c.valid = make([][]float64, c.k), 0
	}
	// Keep the rows of the columns unchanged since the last emit.
	rows := 0
	for _, r := range c.out[:c.valid] {
		rows += r
	}
	c.out = c.out[:c.valid]
	c.ts = c.ts[:rows]
	for s := range c.vals {
		c.vals[s] = c.vals[s][:rows]
	}
	for i := c.valid; i < len(c.cols); i++ {
		before := len(c.ts)
		c.emitColumn(&c.cols[i])
		c.out = append(c.out, len(c.ts)-before)
	}
	c.valid = len(c.cols)
	return c.ts, c.vals
}

func (c *Columns) emitColumn(col *aggColumn) {
	if len(col.rows) <= 2 {
		for _, r := range col.rows {
			c.ts = append(c.ts, r.t)
			for s := range c.vals {
				c.vals[s] = append(c.vals[s], r.v[s])
			}
		}
		return
	}
	first, last := col.rows[col.first], col.rows[col.last]
	t0, t3 := first.t, last.t
	third := (t3 - t0) / 3
	// A gap row breaks a series' line inside the column; a series with no
	// value in it (all gaps: one the stream does not have) has no line to
	// break, and its first and last rows are gaps already.
	gaps := false
	for s := range c.vals {
		gaps = gaps || col.gap[s] >= 0 && col.min[s] >= 0
	}
	c.ts = append(c.ts, t0, t0+third)
	if gaps {
		c.ts = append(c.ts, t0+third+third/2)
	}
	c.ts = append(c.ts, t3-third, t3)
	for s := range c.vals {
		e1, e2 := math.NaN(), math.NaN()
		if lo, hi := col.min[s], col.max[s]; lo >= 0 {
			if lo > hi {
				lo, hi = hi, lo
			}
			e1, e2 = col.rows[lo].v[s], col.rows[hi].v[s]
		}
		c.vals[s] = append(c.vals[s], first.v[s], e1)
		if gaps {
			g := e1 // no gap in this series: a repeat, drawn as nothing
			if col.gap[s] >= 0 {
				g = math.NaN()
			}
			c.vals[s] = append(c.vals[s], g)
		}
		c.vals[s] = append(c.vals[s], e2, last.v[s])
	}
}

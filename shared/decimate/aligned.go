package decimate

import (
	"math"
	"slices"
)

// M4Indices decimates aligned series (one timestamp column ts shared by
// every series in cols, as wire.Points holds them) to width pixel columns
// over [from, to]. It appends to dst the indices to keep, ascending: per
// column the first and last point and, for every series, its lowest and
// highest point and its first gap (NaN). Every series drawn through the kept
// indices covers the same pixels as drawn through all of them; a column
// keeps at most 2 + 3·len(cols) points. Timestamps must not decrease.
func M4Indices(ts []int64, cols [][]float64, from, to int64, width int, dst []int) ([]int, error) {
	dst = dst[:0]
	if width < 1 {
		width = 1
	}
	if to <= from {
		to = from + 1
	}
	scale := float64(width) / float64(to-from)
	k := len(cols)
	// Per series: index of min, max and first NaN in the current column.
	mins, maxs, gaps := make([]int, k), make([]int, k), make([]int, k)
	col, first, last := -1, -1, -1
	var pick []int
	flush := func() {
		if first < 0 {
			return
		}
		pick = append(pick[:0], first, last)
		for s := range k {
			for _, i := range [3]int{mins[s], maxs[s], gaps[s]} {
				if i >= 0 {
					pick = append(pick, i)
				}
			}
		}
		slices.Sort(pick)
		for j, i := range pick {
			if j == 0 || i != pick[j-1] {
				dst = append(dst, i)
			}
		}
	}
	reset := func() {
		first, last = -1, -1
		for s := range k {
			mins[s], maxs[s], gaps[s] = -1, -1, -1
		}
	}
	reset()
	for i, t := range ts {
		if i > 0 && t < ts[i-1] {
			return nil, ErrUnsorted
		}
		if t < from || t > to {
			continue
		}
		c := min(int(float64(t-from)*scale), width-1)
		if c != col {
			flush()
			reset()
			col = c
		}
		if first < 0 {
			first = i
		}
		last = i
		for s, vs := range cols {
			if i >= len(vs) {
				continue
			}
			v := vs[i]
			switch {
			case math.IsNaN(v):
				if gaps[s] < 0 {
					gaps[s] = i
				}
			case mins[s] < 0:
				mins[s], maxs[s] = i, i
			case v < vs[mins[s]]:
				mins[s] = i
			case v > vs[maxs[s]]:
				maxs[s] = i
			}
		}
	}
	flush()
	return dst, nil
}

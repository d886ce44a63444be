package decimate

import (
	"math"
	"math/rand/v2"
	"testing"
)

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// TestColumnsIncrementalEqualsFull: folding a table frame by frame as it
// grows and the window slides gives exactly what one pass over the final
// table gives; every column keeps each series' extremes and gaps, at most
// 2+3k rows, in time order.
func TestColumnsIncrementalEqualsFull(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 50 {
		k := 1 + rng.IntN(4)
		n := 2000 + rng.IntN(20000)
		ts, _ := randomSeries(rng, n)
		for i := range ts {
			ts[i] += 1_700_000_000_000 // realistic epoch milliseconds
		}
		vals := make([][]float64, k)
		for s := range vals {
			_, vals[s] = randomSeries(rng, n)
		}
		window := int64(500 + rng.IntN(5000))
		span := int64(1 + rng.IntN(40))
		var inc Columns
		var gotTS []int64
		var gotVals [][]float64
		for end := 0; end < n; {
			end = min(n, end+1+rng.IntN(300)) // a frame's worth of new rows
			to := ts[end-1]
			gotTS, gotVals = inc.Update(ts[:end], vals, to-window, to, span)
		}
		to := ts[n-1]
		var full Columns
		wantTS, wantVals := full.Update(ts, vals, to-window, to, span)
		if len(gotTS) != len(wantTS) {
			t.Fatalf("trial %d: incremental %d rows, full %d", trial, len(gotTS), len(wantTS))
		}
		for i := range gotTS {
			if gotTS[i] != wantTS[i] {
				t.Fatalf("trial %d: row %d at %d, want %d", trial, i, gotTS[i], wantTS[i])
			}
			if i > 0 && gotTS[i] < gotTS[i-1] {
				t.Fatalf("trial %d: not in time order", trial)
			}
		}
		for s := range k {
			if !sameFloats(gotVals[s], wantVals[s]) {
				t.Fatalf("trial %d: series %d differs", trial, s)
			}
		}
		// Extremes and gaps per absolute column, and the bound.
		perCol := map[int64]int{}
		for _, tt := range gotTS {
			perCol[floorDiv(tt, span)]++
		}
		for c, cnt := range perCol {
			if cnt > 5 {
				t.Fatalf("trial %d: column %d drawn with %d rows for %d series, want at most 4, 5 with a gap", trial, c, cnt, k)
			}
		}
		for s := range k {
			lo, hi, gap := map[int64]float64{}, map[int64]float64{}, map[int64]bool{}
			for i, tt := range ts {
				if tt < floorDiv(to-window, span)*span || tt > to {
					continue
				}
				c, v := floorDiv(tt, span), vals[s][i]
				if math.IsNaN(v) {
					gap[c] = true
					continue
				}
				if x, ok := lo[c]; !ok || v < x {
					lo[c] = v
				}
				if x, ok := hi[c]; !ok || v > x {
					hi[c] = v
				}
			}
			klo, khi, kgap := map[int64]float64{}, map[int64]float64{}, map[int64]bool{}
			for i, tt := range gotTS {
				c, v := floorDiv(tt, span), gotVals[s][i]
				if math.IsNaN(v) {
					kgap[c] = true
					continue
				}
				if x, ok := klo[c]; !ok || v < x {
					klo[c] = v
				}
				if x, ok := khi[c]; !ok || v > x {
					khi[c] = v
				}
			}
			for c := range lo {
				if klo[c] != lo[c] || khi[c] != hi[c] {
					t.Fatalf("trial %d series %d column %d: kept [%v, %v] of [%v, %v]", trial, s, c, klo[c], khi[c], lo[c], hi[c])
				}
			}
			for c := range gap {
				if !kgap[c] {
					t.Fatalf("trial %d series %d column %d: gap dropped", trial, s, c)
				}
			}
		}
	}
}

// BenchmarkColumnsFrame: one frame's update when 50 points per series
// arrived, with 100k points held per series over 4 series at 1000 columns:
// the per-frame cost must not grow with the points held.
func BenchmarkColumnsFrame(b *testing.B) {
	const n, k = 100_000, 4
	ts := make([]int64, n)
	vals := make([][]float64, k)
	for s := range vals {
		vals[s] = make([]float64, n)
	}
	for i := range n {
		ts[i] = int64(i) * 10
		for s := range vals {
			vals[s][i] = math.Sin(float64(i) / float64(100+s))
		}
	}
	window := int64(n * 10)
	span := window / 1000
	var c Columns
	end := n / 2
	c.Update(ts[:end], vals, ts[end-1]-window, ts[end-1], span)
	b.ResetTimer()
	for b.Loop() {
		end += 50
		if end > n {
			end = n / 2
			c.Reset()
			c.Update(ts[:end], vals, ts[end-1]-window, ts[end-1], span)
		}
		c.Update(ts[:end], vals, ts[end-1]-window, ts[end-1], span)
	}
}

// Each series' extremes come out in the order they happened, whatever the
// other series do, so the drawn line goes up then down (or down then up) as
// the data did.
func TestColumnsKeepTheOrderOfEachSeriesExtremes(t *testing.T) {
	t.Parallel()
	// One column of 100 rows: series 0 peaks then dips, series 1 dips then
	// peaks, series 2 has a gap.
	ts := make([]int64, 100)
	vals := [][]float64{make([]float64, 100), make([]float64, 100), make([]float64, 100)}
	for i := range ts {
		ts[i] = int64(i)
		vals[0][i], vals[1][i], vals[2][i] = 0, 0, 1
	}
	vals[0][20], vals[0][70] = 9, -9
	vals[1][30], vals[1][80] = -5, 5
	vals[2][50] = math.NaN()
	var c Columns
	gotTS, got := c.Update(ts, vals, 0, 99, 100)
	if len(gotTS) != 5 {
		t.Fatalf("%d rows for a column with a gap, want 5: %v", len(gotTS), gotTS)
	}
	if gotTS[0] != 0 || gotTS[4] != 99 {
		t.Fatalf("first and last rows at %d and %d, want 0 and 99", gotTS[0], gotTS[4])
	}
	want := [][]float64{{0, 9, 9, -9, 0}, {0, -5, -5, 5, 0}, {1, 1, math.NaN(), 1, 1}}
	for s := range want {
		if !sameFloats(got[s], want[s]) {
			t.Fatalf("series %d: got %v, want %v", s, got[s], want[s])
		}
	}
}

package decimate

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randomSeries(rng *rand.Rand, n int) ([]int64, []float64) {
	ts, vs := make([]int64, n), make([]float64, n)
	t := int64(0)
	v := 0.0
	for i := range n {
		t += rng.Int64N(3) // duplicates (0) and gaps
		v += rng.NormFloat64()
		if rng.IntN(200) == 0 {
			v += 1000 * rng.NormFloat64() // spikes
		}
		ts[i], vs[i] = t, v
		if rng.IntN(500) == 0 {
			vs[i] = math.NaN()
		}
	}
	return ts, vs
}

// checkUPlot: ascending x, equal lengths.
func checkUPlot(t *testing.T, xs, ys []float64) {
	t.Helper()
	if len(xs) != len(ys) {
		t.Fatalf("%d x, %d y", len(xs), len(ys))
	}
	for i := 1; i < len(xs); i++ {
		if xs[i] < xs[i-1] {
			t.Fatalf("x[%d]=%v after %v: not ascending", i, xs[i], xs[i-1])
		}
	}
}

// TestM4KeepsEveryColumnsExtremes: on random series with duplicates, spikes
// and NaN, each pixel column's output holds its min and max (and a NaN when
// it had one), never more than 4 points, as a valid uPlot series.
func TestM4KeepsEveryColumnsExtremes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 200 {
		n := 1 + rng.IntN(5000)
		ts, vs := randomSeries(rng, n)
		from, to := ts[0]+int64(rng.IntN(50)), ts[n-1]-int64(rng.IntN(50))
		if to <= from {
			to = from + 1
		}
		width := 1 + rng.IntN(400)
		// Feed in two pieces, as a ring that wraps would.
		cut := rng.IntN(n + 1)
		m := NewM4(from, to, width, nil, nil)
		if err := m.Add(ts[:cut], vs[:cut]); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(ts[cut:], vs[cut:]); err != nil {
			t.Fatal(err)
		}
		xs, ys, err := m.Finish()
		if err != nil {
			t.Fatal(err)
		}
		checkUPlot(t, xs, ys)
		colOf := NewM4(from, to, width, nil, nil).column // the same rounding
		type ext struct {
			min, max       float64
			finite, gap    bool
			outMin, outMax float64
			outGap         bool
			out            int
		}
		cols := map[int]*ext{}
		get := func(c int) *ext {
			if cols[c] == nil {
				cols[c] = &ext{min: math.Inf(1), max: math.Inf(-1), outMin: math.Inf(1), outMax: math.Inf(-1)}
			}
			return cols[c]
		}
		for i := range n {
			if ts[i] < from || ts[i] > to {
				continue
			}
			e := get(colOf(ts[i]))
			if math.IsNaN(vs[i]) {
				e.gap = true
				continue
			}
			e.finite = true
			e.min, e.max = min(e.min, vs[i]), max(e.max, vs[i])
		}
		for i := range xs {
			e := get(colOf(int64(xs[i])))
			e.out++
			if math.IsNaN(ys[i]) {
				e.outGap = true
				continue
			}
			e.outMin, e.outMax = min(e.outMin, ys[i]), max(e.outMax, ys[i])
		}
		for c, e := range cols {
			if e.out > 4 {
				t.Fatalf("trial %d: column %d has %d points", trial, c, e.out)
			}
			if e.finite && (e.outMin != e.min || e.outMax != e.max) {
				t.Fatalf("trial %d: column %d kept [%v, %v] of [%v, %v]", trial, c, e.outMin, e.outMax, e.min, e.max)
			}
			if e.gap != e.outGap {
				t.Fatalf("trial %d: column %d gap in %v, out %v", trial, c, e.gap, e.outGap)
			}
		}
	}
}

func TestM4EdgeCases(t *testing.T) {
	t.Parallel()
	// Unsorted input is an error, not a chart.
	m := NewM4(0, 100, 10, nil, nil)
	if err := m.Add([]int64{1, 5, 3}, []float64{1, 2, 3}); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("got %v, want ErrUnsorted", err)
	}
	if _, _, err := m.Finish(); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("Finish after an error: %v", err)
	}
	// Unsorted across pieces too.
	m = NewM4(0, 100, 10, nil, nil)
	_ = m.Add([]int64{10, 20}, []float64{1, 2})
	if err := m.Add([]int64{15}, []float64{3}); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("across pieces: got %v", err)
	}
	// Empty input, everything outside the range, and a zero-width range.
	for _, tc := range []struct {
		ts       []int64
		from, to int64
		width    int
		want     int
	}{
		{nil, 0, 100, 10, 0},
		{[]int64{200, 300}, 0, 100, 10, 0},
		{[]int64{5, 5, 5, 5, 5}, 5, 5, 10, 4},      // one column of equal times: first, min, max, last at most
		{[]int64{0, 1, 2, 3, 4, 5, 6}, 0, 6, 1, 4}, // one column
		{[]int64{0, 100}, 0, 100, 10, 2},           // t == to lands in the last column
	} {
		vs := make([]float64, len(tc.ts))
		for i := range vs {
			vs[i] = float64(i % 3)
		}
		m := NewM4(tc.from, tc.to, tc.width, nil, nil)
		if err := m.Add(tc.ts, vs); err != nil {
			t.Fatal(err)
		}
		xs, ys, _ := m.Finish()
		checkUPlot(t, xs, ys)
		if len(xs) > tc.want || (tc.want > 0 && len(xs) == 0) {
			t.Errorf("%v over [%d,%d] width %d: %d points, want ≤ %d", tc.ts, tc.from, tc.to, tc.width, len(xs), tc.want)
		}
	}
	// A single spike among a million flat points survives.
	n := 1_000_000
	ts, vs := make([]int64, n), make([]float64, n)
	for i := range n {
		ts[i] = int64(i)
	}
	vs[777_777] = 1e9
	m = NewM4(0, int64(n-1), 800, nil, nil)
	_ = m.Add(ts, vs)
	xs, ys, _ := m.Finish()
	found := false
	for i := range xs {
		if ys[i] == 1e9 && xs[i] == 777_777 {
			found = true
		}
	}
	if !found || len(xs) > 4*800 {
		t.Fatalf("spike kept %v, %d points", found, len(xs))
	}
}

func TestM4ReuseDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ts, vs := randomSeries(rng, 100_000)
	m := NewM4(ts[0], ts[len(ts)-1], 1000, make([]float64, 0, 4000), make([]float64, 0, 4000))
	xs, ys, _ := m.Finish()
	allocs := testing.AllocsPerRun(20, func() {
		m.Reset(ts[0], ts[len(ts)-1], 1000, xs, ys)
		_ = m.Add(ts, vs)
		xs, ys, _ = m.Finish()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

func TestLTTB(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	ts, vs := randomSeries(rng, 10_000)
	for _, n := range []int{2, 3, 10, 500, 9_999, 10_000, 20_000} {
		xs, ys, err := LTTB(ts, vs, n, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkUPlot(t, xs, ys)
		want := min(n, len(ts))
		if len(xs) != want {
			t.Fatalf("n=%d: %d points, want %d", n, len(xs), want)
		}
		if xs[0] != float64(ts[0]) || xs[len(xs)-1] != float64(ts[len(ts)-1]) {
			t.Fatalf("n=%d: first/last not kept", n)
		}
	}
	if _, _, err := LTTB([]int64{3, 1}, []float64{1, 2}, 10, nil, nil); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("unsorted: %v", err)
	}
	// A spike in a long flat series is kept.
	flat := make([]float64, 100_000)
	flatT := make([]int64, 100_000)
	for i := range flatT {
		flatT[i] = int64(i)
	}
	flat[54_321] = 1e6
	xs, ys, _ := LTTB(flatT, flat, 100, nil, nil)
	kept := false
	for i := range xs {
		kept = kept || ys[i] == 1e6
	}
	if !kept || len(xs) != 100 {
		t.Fatalf("spike kept %v in %d points", kept, len(xs))
	}
}

func benchSeries(n int) ([]int64, []float64) {
	return randomSeries(rand.New(rand.NewPCG(9, 9)), n)
}

func BenchmarkM4(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		ts, vs := benchSeries(n)
		b.Run(itoa(n), func(b *testing.B) {
			m := NewM4(ts[0], ts[n-1], 1000, make([]float64, 0, 4000), make([]float64, 0, 4000))
			xs, ys, _ := m.Finish()
			for b.Loop() {
				m.Reset(ts[0], ts[n-1], 1000, xs, ys)
				_ = m.Add(ts, vs)
				xs, ys, _ = m.Finish()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
		})
	}
}

func BenchmarkLTTB(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		ts, vs := benchSeries(n)
		b.Run(itoa(n), func(b *testing.B) {
			xs, ys := make([]float64, 0, 1000), make([]float64, 0, 1000)
			for b.Loop() {
				xs, ys, _ = LTTB(ts, vs, 1000, xs, ys)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
		})
	}
}

func itoa(n int) string {
	if n >= 1_000_000 {
		return "1M"
	}
	return "100k"
}

// TestM4IndicesKeepsEachSeriesExtremes: on aligned random series, the kept
// indices hold, per column and series, the min, the max and a gap if there
// was one, ascending and within the per-column bound.
func TestM4IndicesKeepsEachSeriesExtremes(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := range 100 {
		n := 1 + rng.IntN(3000)
		ts, _ := randomSeries(rng, n)
		k := 1 + rng.IntN(4)
		cols := make([][]float64, k)
		for s := range cols {
			_, cols[s] = randomSeries(rng, n)
		}
		width := 1 + rng.IntN(300)
		from, to := ts[0], ts[n-1]
		idx, err := M4Indices(ts, cols, from, to, width, nil)
		if err != nil {
			t.Fatal(err)
		}
		colOf := NewM4(from, to, width, nil, nil).column
		perCol := map[int]int{}
		for j, i := range idx {
			if j > 0 && i <= idx[j-1] {
				t.Fatalf("trial %d: indices not strictly ascending at %d", trial, j)
			}
			perCol[colOf(ts[i])]++
		}
		for c, cnt := range perCol {
			if cnt > 2+3*k {
				t.Fatalf("trial %d: column %d keeps %d points for %d series", trial, c, cnt, k)
			}
		}
		kept := map[int]bool{}
		for _, i := range idx {
			kept[i] = true
		}
		for s, vs := range cols {
			lo, hi := map[int]float64{}, map[int]float64{}
			keptLo, keptHi := map[int]float64{}, map[int]float64{}
			gap, keptGap := map[int]bool{}, map[int]bool{}
			for i := range n {
				c := colOf(ts[i])
				if math.IsNaN(vs[i]) {
					gap[c] = true
					keptGap[c] = keptGap[c] || kept[i]
					continue
				}
				if v, ok := lo[c]; !ok || vs[i] < v {
					lo[c] = vs[i]
				}
				if v, ok := hi[c]; !ok || vs[i] > v {
					hi[c] = vs[i]
				}
				if kept[i] {
					if v, ok := keptLo[c]; !ok || vs[i] < v {
						keptLo[c] = vs[i]
					}
					if v, ok := keptHi[c]; !ok || vs[i] > v {
						keptHi[c] = vs[i]
					}
				}
			}
			for c := range lo {
				if keptLo[c] != lo[c] || keptHi[c] != hi[c] {
					t.Fatalf("trial %d series %d column %d: kept [%v, %v] of [%v, %v]", trial, s, c, keptLo[c], keptHi[c], lo[c], hi[c])
				}
			}
			for c := range gap {
				if !keptGap[c] {
					t.Fatalf("trial %d series %d column %d: gap dropped", trial, s, c)
				}
			}
		}
	}
	if _, err := M4Indices([]int64{2, 1}, nil, 0, 10, 5, nil); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("unsorted: %v", err)
	}
}

func BenchmarkM4Indices_4Series(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		ts, _ := benchSeries(n)
		cols := make([][]float64, 4)
		for s := range cols {
			_, cols[s] = benchSeries(n)
		}
		b.Run(itoa(n), func(b *testing.B) {
			idx := make([]int, 0, 16000)
			for b.Loop() {
				idx, _ = M4Indices(ts, cols, ts[0], ts[n-1], 1000, idx)
			}
			b.ReportMetric(float64(n*4)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
		})
	}
}

// A large Add is split over two goroutines at a column boundary: its output
// must be exactly that of feeding the same points piece by piece, and a
// decrease anywhere, the seam included, must still be refused.
func TestM4SplitEqualsSequential(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{parallelMin, 3 * parallelMin / 2, 1_000_000} {
		ts, vs := randomSeries(rng, n)
		for _, width := range []int{1, 7, 1000, 4000} {
			whole := NewM4(ts[0], ts[n-1], width, nil, nil)
			if err := whole.Add(ts, vs); err != nil {
				t.Fatal(err)
			}
			gotX, gotY, _ := whole.Finish()
			pieces := NewM4(ts[0], ts[n-1], width, nil, nil)
			for i := 0; i < n; i += 1000 {
				if err := pieces.Add(ts[i:min(n, i+1000)], vs[i:min(n, i+1000)]); err != nil {
					t.Fatal(err)
				}
			}
			wantX, wantY, _ := pieces.Finish()
			if !sameFloats(gotX, wantX) || !sameFloats(gotY, wantY) {
				t.Fatalf("n %d width %d: split output (%d points) differs from sequential (%d)", n, width, len(gotX), len(wantX))
			}
		}
		// A decrease right at the middle, where the split falls.
		bad := append([]int64(nil), ts...)
		mid := n / 2
		bad[mid] = bad[mid-1] - 1000
		m := NewM4(bad[0], bad[n-1], 1000, nil, nil)
		if err := m.Add(bad, vs); !errors.Is(err, ErrUnsorted) {
			t.Fatalf("n %d: a decrease at the middle gave %v, want ErrUnsorted", n, err)
		}
	}
}

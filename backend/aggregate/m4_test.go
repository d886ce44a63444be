package aggregate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func m4Spec(t testing.TB, bucket time.Duration, field string) *agg.Spec {
	t.Helper()
	s, err := agg.ParseM4(agg.M4Name("src", bucket))
	if err != nil {
		t.Fatal(err)
	}
	s.Field = field
	return s
}

func pts(ts []int64, cols ...wire.Column) *wire.Event {
	return &wire.Event{Time: ts[len(ts)-1], Points: &wire.Points{TS: ts, Cols: cols}}
}

func series(name string, vals ...float64) wire.Column { return wire.Column{Name: name, Vals: vals} }

func TestM4IsAComputer(t *testing.T) {
	if _, ok := New(m4Spec(t, time.Second, "")).(*M4); !ok {
		t.Fatal("New of an m4 spec is not an *M4")
	}
}

func TestM4EmitsFourRowsPerBucket(t *testing.T) {
	m := New(m4Spec(t, time.Second, ""))
	// Bucket [1000, 2000): a's max (9 at 1300) before its min (-4 at 1600);
	// b's min before its max.
	m.Add(pts([]int64{1000, 1300, 1600, 1999}, series("a", 1, 9, -4, 2), series("b", 5, 3, 8, 6)))
	evs := m.Emit(time.Now())
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	ev := evs[0]
	p := ev.Points
	if p == nil || !p.Upsert || ev.Time != 1999 || ev.Stream != "" || ev.Seq != 0 {
		t.Fatalf("got %+v, want an upsert points event at the newest source time, unnamed", ev)
	}
	if want := []int64{1000, 1333, 1666, 1999}; !slices.Equal(p.TS, want) {
		t.Fatalf("got ts %v, want %v", p.TS, want)
	}
	if got, want := p.Col("a"), []float64{1, 9, -4, 2}; !slices.Equal(got, want) {
		t.Fatalf("got a %v, want first, max, min, last %v", got, want)
	}
	if got, want := p.Col("b"), []float64{5, 3, 8, 6}; !slices.Equal(got, want) {
		t.Fatalf("got b %v, want first, min, max, last %v", got, want)
	}
	if evs := m.Emit(time.Now()); evs != nil {
		t.Fatalf("got %v from an Emit with nothing new, want nil", evs)
	}
}

func TestM4EmitsOnlyChangedBuckets(t *testing.T) {
	m := New(m4Spec(t, time.Second, ""))
	m.Add(pts([]int64{0, 1000, 2000}, series("a", 1, 2, 3)))
	if evs := m.Emit(time.Now()); len(evs) != 1 || len(evs[0].Points.TS) != 12 {
		t.Fatalf("got %v, want one event of 3 buckets", evs)
	}
	// The newest bucket updating live.
	m.Add(pts([]int64{2500}, series("a", 7)))
	evs := m.Emit(time.Now())
	if len(evs) != 1 || evs[0].Points.TS[0] != 2000 || len(evs[0].Points.TS) != 4 {
		t.Fatalf("got %v, want the newest bucket alone", evs)
	}
	if got, want := evs[0].Points.Col("a"), []float64{3, 3, 7, 7}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if m.Late() != 0 {
		t.Fatalf("got %d late, want 0: the newest bucket is open", m.Late())
	}
	// A late sample updates its closed bucket, and says so.
	m.Add(pts([]int64{1200}, series("a", -5)))
	evs = m.Emit(time.Now())
	if len(evs) != 1 || evs[0].Points.TS[0] != 1000 || len(evs[0].Points.TS) != 4 {
		t.Fatalf("got %v, want bucket 1000 alone", evs)
	}
	if got, want := evs[0].Points.Col("a"), []float64{2, 2, -5, -5}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if m.Late() != 1 {
		t.Fatalf("got %d late, want 1", m.Late())
	}
	// Full has every bucket; a sample at a time already held is not the
	// first (the earlier arrival is), and max before min puts max first.
	m.Add(pts([]int64{1001}, series("a", 4)))
	m.Add(pts([]int64{1000}, series("a", 0)))
	full := m.Full(time.Now())
	if len(full) != 1 || !slices.Equal(full[0].Points.TS, []int64{0, 333, 666, 999, 1000, 1333, 1666, 1999, 2000, 2333, 2666, 2999}) {
		t.Fatalf("got %v, want the three buckets", full)
	}
	if got, want := full[0].Points.Col("a")[4:8], []float64{2, 4, -5, -5}; !slices.Equal(got, want) {
		t.Fatalf("got bucket 1000 %v, want %v", got, want)
	}
	if m.Emit(time.Now()) != nil {
		t.Fatal("Full left buckets to emit")
	}
}

func TestM4SeriesAndField(t *testing.T) {
	all := New(m4Spec(t, time.Second, ""))
	one := New(m4Spec(t, time.Second, "b"))
	ev := pts([]int64{0, 1000}, series("a", 1, 2), series("b", 3, math.NaN()))
	all.Add(ev)
	one.Add(ev)
	p := all.Emit(time.Now())[0].Points
	if len(p.Cols) != 2 {
		t.Fatalf("got %d columns, want a and b", len(p.Cols))
	}
	// b has no sample in bucket 1000 (NaN is none): NaN there.
	if b := p.Col("b"); b[0] != 3 || !math.IsNaN(b[4]) || !math.IsNaN(b[7]) {
		t.Fatalf("got b %v, want 3s then NaN", b)
	}
	q := one.Emit(time.Now())[0].Points
	if len(q.Cols) != 1 || q.Cols[0].Name != "b" || len(q.TS) != 4 {
		t.Fatalf("got %+v, want b's one bucket", q)
	}
	// A bucket changed in a only carries a.
	all.Add(pts([]int64{1500}, series("a", 9)))
	if p := all.Emit(time.Now())[0].Points; len(p.Cols) != 1 || p.Cols[0].Name != "a" {
		t.Fatalf("got %+v, want a alone", p)
	}
}

func TestM4BoundsItsHistory(t *testing.T) {
	m := New(m4Spec(t, time.Second, ""))
	for k := range int64(M4Buckets + 500) {
		m.Add(pts([]int64{k * 1000}, series("a", float64(k))))
	}
	full := m.Full(time.Now())
	n := 0
	for _, ev := range full {
		n += len(ev.Points.TS) / 4
		if len(ev.Points.TS) > 4*m4EventBuckets {
			t.Fatalf("an event of %d rows, want at most %d", len(ev.Points.TS), 4*m4EventBuckets)
		}
	}
	if n != M4Buckets || full[0].Points.TS[0] != 500_000 {
		t.Fatalf("got %d buckets from %d, want the newest %d from 500000", n, full[0].Points.TS[0], M4Buckets)
	}
	size := m.Size()
	if size <= 0 || size > 300_000 {
		t.Fatalf("got size %d, want about the history's bytes", size)
	}
	// A sample older than the full history is dropped.
	m.Add(pts([]int64{1000}, series("a", 1)))
	if evs := m.Emit(time.Now()); evs != nil {
		t.Fatalf("got %v, want nothing for a sample past the history", evs)
	}
	for k := range int64(M4Buckets) {
		m.Add(pts([]int64{(M4Buckets + 500 + k) * 1000}, series("a", 1)))
	}
	if got := m.Size(); got > size+size/4 {
		t.Fatalf("got size %d after another history, want about %d", got, size)
	}
	neg := New(m4Spec(t, time.Second, ""))
	neg.Add(pts([]int64{-1}, series("a", 1)))
	if ts := neg.Emit(time.Now())[0].Points.TS[0]; ts != -1000 {
		t.Fatalf("got bucket %d for ts -1, want -1000", ts)
	}
}

// TestM4KeepsEveryMinAndMax feeds random samples (several series, some
// late, some NaN) through M4, folds what it emits into a livestate table
// the way hub and page do, and checks every bucket of every series there
// against the raw samples: first, last, min and max, and min and max in the
// order they happened. A Full into a fresh table reads the same.
func TestM4KeepsEveryMinAndMax(t *testing.T) {
	const w = 500
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 16))
		m := New(m4Spec(t, w*time.Millisecond, ""))
		type sample struct {
			ts int64
			v  float64
		}
		raw := map[string][]sample{}
		var live wire.State
		names := []string{"s0", "s1", "s2"}
		now := int64(0)
		for range 300 {
			n := 1 + rng.IntN(40)
			ts := make([]int64, n)
			for i := range ts {
				now += int64(rng.IntN(30))
				ts[i] = now
			}
			if rng.IntN(8) == 0 { // a late batch, up to 20 buckets back
				back := int64(rng.IntN(20 * w))
				for i := range ts {
					ts[i] = max(0, ts[i]-back)
				}
			}
			var cols []wire.Column
			for _, name := range names {
				if rng.IntN(3) == 0 {
					continue
				}
				c := wire.Column{Name: name, Vals: make([]float64, n)}
				for i := range c.Vals {
					c.Vals[i] = math.Round(rng.NormFloat64() * 100)
					if rng.IntN(20) == 0 {
						c.Vals[i] = math.NaN()
						continue
					}
					raw[name] = append(raw[name], sample{ts[i], c.Vals[i]})
				}
				cols = append(cols, c)
			}
			m.Add(&wire.Event{Time: now, Points: &wire.Points{TS: ts, Cols: cols}})
			if rng.IntN(3) == 0 {
				for _, ev := range m.Emit(time.Now()) {
					livestate.Fold(&live, &ev, livestate.Limits{Points: 1 << 20})
				}
			}
		}
		for _, ev := range m.Emit(time.Now()) {
			livestate.Fold(&live, &ev, livestate.Limits{Points: 1 << 20})
		}
		var rebuilt wire.State
		for _, ev := range m.Full(time.Now()) {
			livestate.Fold(&rebuilt, &ev, livestate.Limits{Points: 1 << 20})
		}
		for name, ss := range raw {
			type want struct {
				first, last, lo, hi sample
			}
			buckets := map[int64]*want{}
			for _, s := range ss {
				b := s.ts - s.ts%w
				x := buckets[b]
				if x == nil {
					buckets[b] = &want{s, s, s, s}
					continue
				}
				if s.ts < x.first.ts {
					x.first = s
				}
				if s.ts >= x.last.ts {
					x.last = s
				}
				if s.v < x.lo.v || s.v == x.lo.v && s.ts < x.lo.ts {
					x.lo = s
				}
				if s.v > x.hi.v || s.v == x.hi.v && s.ts < x.hi.ts {
					x.hi = s
				}
			}
			for _, st := range []*wire.State{&live, &rebuilt} {
				tab := livestate.Aligned(&st.Points)
				col := tab.Col(name)
				if col == nil {
					t.Fatalf("seed %d: no column %s", seed, name)
				}
				for b, x := range buckets {
					i, ok := slices.BinarySearch(tab.TS, b)
					if !ok || i+3 >= len(tab.TS) || tab.TS[i+3] != b+w-1 {
						t.Fatalf("seed %d %s: bucket %d is not 4 rows in the table", seed, name, b)
					}
					got := col[i : i+4]
					mid := []float64{x.lo.v, x.hi.v}
					if x.hi.ts < x.lo.ts {
						mid = []float64{x.hi.v, x.lo.v}
					}
					if wantRows := []float64{x.first.v, mid[0], mid[1], x.last.v}; !slices.Equal(got, wantRows) {
						t.Fatalf("seed %d %s bucket %d: got %v, want first, min/max in order, last %v", seed, name, b, got, wantRows)
					}
				}
			}
		}
		if m.Late() == 0 {
			t.Fatalf("seed %d: no late events counted", seed)
		}
	}
}

func BenchmarkM4Add_10Series100Points(b *testing.B) {
	b.ReportAllocs()
	m := New(m4Spec(b, 500*time.Millisecond, ""))
	cols := make([]wire.Column, 10)
	for i := range cols {
		cols[i] = wire.Column{Name: string(rune('a' + i)), Vals: make([]float64, 100)}
		for k := range cols[i].Vals {
			cols[i].Vals[k] = float64(k * i)
		}
	}
	ts := make([]int64, 100)
	b.ResetTimer()
	for n := range b.N {
		for k := range ts {
			ts[k] = int64(n*100 + k)
		}
		m.Add(&wire.Event{Points: &wire.Points{TS: ts, Cols: cols}})
		if n%25 == 0 {
			m.Emit(time.Time{})
		}
	}
}

package livestate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

func upsert(ts []int64, cols ...wire.Column) *wire.Event {
	return &wire.Event{Points: &wire.Points{TS: ts, Cols: cols, Upsert: true}}
}

func col(name string, vals ...float64) wire.Column { return wire.Column{Name: name, Vals: vals} }

// showTable renders p as "ts:a=1,b=NaN ts:..." with columns in name order, for
// failures that say what the table holds.
func showTable(p wire.Points) string {
	q := Aligned(&p)
	names := make([]string, len(q.Cols))
	for i := range q.Cols {
		names[i] = q.Cols[i].Name
	}
	slices.Sort(names)
	s := ""
	for r, ts := range q.TS {
		s += fmt.Sprintf("%d:", ts)
		for k, n := range names {
			if k > 0 {
				s += ","
			}
			s += fmt.Sprintf("%s=%g", n, q.Col(n)[r])
		}
		s += " "
	}
	return s
}

func TestFoldUpsert(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		events []*wire.Event
		want   string
	}{
		{"appends in order",
			[]*wire.Event{upsert([]int64{1, 2}, col("a", 1, 2)), upsert([]int64{3}, col("a", 3))},
			"1:a=1 2:a=2 3:a=3 "},
		{"replaces at an equal timestamp, only the carried series",
			[]*wire.Event{upsert([]int64{1, 2}, col("a", 1, 2), col("b", 10, 20)), upsert([]int64{2}, col("a", 5))},
			"1:a=1,b=10 2:a=5,b=20 "},
		{"inserts a late sample in time order",
			[]*wire.Event{upsert([]int64{10, 30}, col("a", 1, 3)), upsert([]int64{20}, col("a", 2)), upsert([]int64{5}, col("a", 0))},
			"5:a=0 10:a=1 20:a=2 30:a=3 "},
		{"an inserted row is NaN in the series it does not carry",
			[]*wire.Event{upsert([]int64{10, 30}, col("a", 1, 3), col("b", 7, 9)), upsert([]int64{20}, col("a", 2))},
			"10:a=1,b=7 20:a=2,b=NaN 30:a=3,b=9 "},
		{"a new series is NaN before its samples",
			[]*wire.Event{upsert([]int64{10, 20}, col("a", 1, 2)), upsert([]int64{10}, col("b", 5))},
			"10:a=1,b=5 20:a=2,b=NaN "},
		{"the newest bucket updated live, again and again",
			[]*wire.Event{upsert([]int64{0, 1, 2, 3}, col("a", 1, 1, 1, 1)), upsert([]int64{0, 1, 2, 3}, col("a", 1, 0, 9, 4)), upsert([]int64{0, 1, 2, 3}, col("a", 1, -1, 9, 2))},
			"0:a=1 1:a=-1 2:a=9 3:a=2 "},
		{"a repeated series in one event is the first",
			[]*wire.Event{upsert([]int64{1}, col("a", 1), col("a", 2))},
			"1:a=1 "},
		{"NaN replaces too",
			[]*wire.Event{upsert([]int64{1}, col("a", 1)), upsert([]int64{1}, col("a", nan))},
			"1:a=NaN "},
		{"after plain appends",
			[]*wire.Event{{Points: &wire.Points{TS: []int64{1, 3}, Cols: []wire.Column{col("a", 1, 3)}}}, upsert([]int64{2, 3}, col("a", 2, 4))},
			"1:a=1 2:a=2 3:a=4 "},
	}
	for _, tt := range tests {
		for _, ragged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s ragged %v", tt.name, ragged), func(t *testing.T) {
				var st wire.State
				for _, ev := range tt.events {
					Fold(&st, ev, Limits{Ragged: ragged})
				}
				if got := showTable(st.Points); got != tt.want {
					t.Fatalf("got %s, want %s", got, tt.want)
				}
				if !ragged {
					for _, c := range st.Points.Cols {
						if len(c.Vals) != len(st.Points.TS) {
							t.Fatalf("column %s has %d values for %d timestamps", c.Name, len(c.Vals), len(st.Points.TS))
						}
					}
				}
			})
		}
	}
}

// TestFoldUpsertMatchesModel folds random upserts (new, equal and late
// timestamps, series coming and going) dense and ragged, and compares both
// with a map of timestamp → series → value after every event.
func TestFoldUpsertMatchesModel(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		model := map[int64]map[string]float64{}
		var dense, ragged wire.State
		for range 200 {
			n := 1 + rng.IntN(5)
			set := map[int64]bool{}
			for len(set) < n {
				set[int64(rng.IntN(60))] = true
			}
			ts := make([]int64, 0, n)
			for k := range set {
				ts = append(ts, k)
			}
			slices.Sort(ts)
			var cols []wire.Column
			for _, name := range []string{"a", "b", "c", "d"} {
				if rng.IntN(2) == 0 {
					continue
				}
				c := wire.Column{Name: name, Vals: make([]float64, n)}
				for i := range c.Vals {
					c.Vals[i] = float64(rng.IntN(1000))
				}
				cols = append(cols, c)
			}
			ev := upsert(ts, cols...)
			for i, k := range ts {
				if model[k] == nil {
					model[k] = map[string]float64{}
				}
				for _, c := range cols {
					model[k][c.Name] = c.Vals[i]
				}
			}
			Fold(&dense, ev, Limits{})
			Fold(&ragged, ev, Limits{Ragged: true})
			want := modelTable(model)
			if got := showTable(dense.Points); got != want {
				t.Fatalf("seed %d dense: got %s, want %s", seed, got, want)
			}
			if got := showTable(ragged.Points); got != want {
				t.Fatalf("seed %d ragged: got %s, want %s", seed, got, want)
			}
		}
	}
}

func modelTable(m map[int64]map[string]float64) string {
	var p wire.Points
	names := map[string]bool{}
	for k, row := range m {
		p.TS = append(p.TS, k)
		for n := range row {
			names[n] = true
		}
	}
	slices.Sort(p.TS)
	for n := range names {
		c := wire.Column{Name: n, Vals: make([]float64, len(p.TS))}
		for i, k := range p.TS {
			v, ok := m[k][n]
			if !ok {
				v = math.NaN()
			}
			c.Vals[i] = v
		}
		p.Cols = append(p.Cols, c)
	}
	return showTable(p)
}

func TestFoldUpsertRespectsLimits(t *testing.T) {
	var st wire.State
	lim := Limits{Points: 8, Series: 2}
	for b := int64(0); b < 40; b++ {
		ts := []int64{b * 4, b*4 + 1, b*4 + 2, b*4 + 3}
		Fold(&st, upsert(ts, col("a", 1, 2, 3, 4), col("b", 1, 2, 3, 4), col("c", 1, 2, 3, 4)), lim)
	}
	p := st.Points
	if n := len(p.TS); n < 8 || n > 10 {
		t.Fatalf("got %d rows, want between the cap 8 and 5/4 of it", n)
	}
	if p.TS[len(p.TS)-1] != 159 {
		t.Fatalf("got newest ts %d, want 159", p.TS[len(p.TS)-1])
	}
	if len(p.Cols) != 2 || p.Col("c") != nil {
		t.Fatalf("got series %v, want a and b only (series cap 2)", showTable(p))
	}
	// A trimmed event is still an upsert: replacing the newest bucket does
	// not append rows.
	s := Stream{Name: "s", Epoch: 1, Limits: lim}
	s.State = st
	before := len(s.State.Points.TS)
	ev := &wire.Event{Epoch: 1, Seq: 1, Points: &wire.Points{TS: []int64{156, 157}, Cols: []wire.Column{col("a", 9, 9), col("z", 1, 1)}, Upsert: true}}
	if _, err := s.Apply(ev); err != nil {
		t.Fatal(err)
	}
	if s.Trimmed == nil || !ev.Points.Upsert {
		t.Fatalf("got trimmed %v upsert %v, want a trimmed upsert", s.Trimmed, ev.Points.Upsert)
	}
	if got := len(s.State.Points.TS); got != before || s.State.Points.Col("a")[got-4] != 9 {
		t.Fatalf("got %d rows, a=%v; want %d rows with 156 replaced", got, s.State.Points.Col("a"), before)
	}
}

func BenchmarkFoldUpsert_NewestBucket(b *testing.B) {
	b.ReportAllocs()
	var st wire.State
	cols := []wire.Column{col("a", 1, 2, 3, 4), col("b", 1, 2, 3, 4)}
	for k := int64(0); k < 750; k++ {
		Fold(&st, upsert([]int64{k * 4, k*4 + 1, k*4 + 2, k*4 + 3}, cols...), Limits{})
	}
	ev := upsert([]int64{749 * 4, 749*4 + 1, 749*4 + 2, 749*4 + 3}, cols...)
	b.ResetTimer()
	for range b.N {
		Fold(&st, ev, Limits{})
	}
}

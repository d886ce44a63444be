package livestate

import (
	"fmt"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

// table returns a state holding cols series over rows timestamps.
func table(cols, rows int) wire.State {
	var st wire.State
	p := &wire.Points{TS: make([]int64, rows)}
	for i := range p.TS {
		p.TS[i] = int64(i)
	}
	for c := 0; c < cols; c++ {
		p.Cols = append(p.Cols, wire.Column{Name: fmt.Sprintf("s%d", c), Vals: make([]float64, rows)})
	}
	Fold(&st, &wire.Event{Points: p}, Limits{Points: rows})
	return st
}

// newColumns is an event of n series none of which the table holds, at one
// timestamp past the table's last.
func newColumns(n, rows int) *wire.Event {
	p := &wire.Points{TS: []int64{int64(rows)}}
	for c := 0; c < n; c++ {
		p.Cols = append(p.Cols, wire.Column{Name: fmt.Sprintf("new%d", c), Vals: []float64{1}})
	}
	return &wire.Event{Points: p}
}

func benchNewColumns(b *testing.B, cols, rows, added int, ragged bool) {
	base := table(cols, rows)
	ev := newColumns(added, rows)
	lim := Limits{Points: rows * 2, Series: cols + added, Ragged: ragged}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st := Clone(&base)
		b.StartTimer()
		Fold(&st, ev, lim)
	}
}

func BenchmarkNewColumn_1Into1000x3000(b *testing.B)        { benchNewColumns(b, 1000, 3000, 1, false) }
func BenchmarkNewColumn_1Into1000x3000_Ragged(b *testing.B) { benchNewColumns(b, 1000, 3000, 1, true) }
func BenchmarkNewColumn_1000Into1000x3000(b *testing.B)     { benchNewColumns(b, 1000, 3000, 1000, false) }
func BenchmarkNewColumn_1000Into1000x3000_Ragged(b *testing.B) {
	benchNewColumns(b, 1000, 3000, 1000, true)
}
func BenchmarkNewColumn_1000Into1000x10(b *testing.B) { benchNewColumns(b, 1000, 10, 1000, false) }
func BenchmarkNewColumn_1000Into1000x10_Ragged(b *testing.B) {
	benchNewColumns(b, 1000, 10, 1000, true)
}
func BenchmarkNewColumn_1Into1x3000(b *testing.B)        { benchNewColumns(b, 1, 3000, 1, false) }
func BenchmarkNewColumn_1Into1x3000_Ragged(b *testing.B) { benchNewColumns(b, 1, 3000, 1, true) }

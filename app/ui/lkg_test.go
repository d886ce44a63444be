package ui

import (
	"math"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func TestCompactDecimatesTheWindow(t *testing.T) {
	st := &livestate.Stream{Name: "m", Epoch: 7, Seq: 100_000, State: wire.State{Values: map[string]float64{"q": 1}}}
	n := 100_000
	st.State.Points.TS = make([]int64, n)
	a, b := make([]float64, n), make([]float64, n)
	for i := range n {
		st.State.Points.TS[i] = int64(i) * 20
		a[i], b[i] = math.Sin(float64(i)/50), float64(i%7)
	}
	st.State.Points.Cols = []wire.Column{{Name: "a", Vals: a}, {Name: "b", Vals: b}}
	for i := range 500 {
		st.State.Rows = append(st.State.Rows, wire.Row{Key: string(rune('a' + i%26))})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		snap := compact(st, 60_000, lkgColumns, lkgRows)
		if len(snap.State.Rows) != lkgRows {
			t.Errorf("got %d rows, want %d", len(snap.State.Rows), lkgRows)
		}
		p := snap.State.Points
		if len(p.TS) == 0 || len(p.TS) > 5*(lkgColumns+1) || p.TS[0] < st.State.Points.TS[n-1]-60_000 {
			t.Errorf("got %d points from %d, want at most %d within the last 60 s", len(p.TS), p.TS[0], 5*(lkgColumns+1))
		}
		b, err := wire.Encode(snap)
		if err != nil || len(b) > lkgMaxBytes {
			t.Errorf("encoded %d bytes, %v", len(b), err)
		}
		t.Logf("%d points → %d, %d bytes", n, len(p.TS), len(b))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("compact did not return")
	}
}

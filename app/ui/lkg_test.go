package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
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
		snap := compact(st, 60_000, lkgColumns, lkgRows, nil)
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

// TestLKGRecordRoundTrip: what a save writes, a cold start reads back: the
// spec, whose data it is, its age, and each stream's cursor and state.
func TestLKGRecordRoundTrip(t *testing.T) {
	spec := &dashboard.Dashboard{ID: "d", Title: "D", Panels: []dashboard.Panel{
		{ID: "k", Kind: dashboard.KindKPI, Stream: "a", Field: "q"},
		{ID: "c", Kind: dashboard.KindTimeSeries, Stream: "b", Series: []string{"v"}, WindowSeconds: 10},
		{ID: "t", Kind: dashboard.KindTable, Stream: "never-received", Columns: []dashboard.Column{{Field: "x"}}},
	}}
	specJSON, _ := json.Marshal(spec)
	streams := map[string]*livestate.Stream{
		"a":              {Name: "a", Epoch: 3, Seq: 9, State: wire.State{Values: map[string]float64{"q": 42}}},
		"b":              {Name: "b", Epoch: 3, Seq: 5, State: wire.State{Points: wire.Points{TS: []int64{0, 5_000, 20_000}, Cols: []wire.Column{{Name: "v", Vals: []float64{1, 2, 3}}}}}},
		"never-received": {Name: "never-received"},
	}
	rec, _ := lkgRecord(spec, streams, lkgHeader{Format: lkgFormat, Who: "op @ t", AsOf: 1234, Spec: specJSON}, map[string]lkgFrame{}, true, time.Unix(1, 0))
	got, h, snaps := decodeLKG(rec)
	if got == nil || got.Title != "D" || h.Who != "op @ t" || h.AsOf != 1234 {
		t.Fatalf("got spec %+v, header %+v; want the spec saved, op @ t, 1234", got, h)
	}
	if len(snaps) != 2 || snaps[0].Stream != "a" || snaps[0].Seq != 9 || snaps[0].State.Values["q"] != 42 || snaps[1].Stream != "b" || snaps[1].Epoch != 3 {
		t.Fatalf("got snapshots %+v, want a at {3 9} with q=42, then b", snaps)
	}
	if ts := snaps[1].State.Points.TS; len(ts) == 0 || ts[0] < 10_000 {
		t.Fatalf("b's points at %v, want only the last 10 s (the chart's window)", ts)
	}
	for _, bad := range [][]byte{nil, []byte("{}\n"), []byte(`{"format":99}` + "\n"), []byte("no header"),
		[]byte(fmt.Sprintf(`{"format":%d,"spec":{"id":"d","title":"D"}}`, lkgFormat) + "\n")} { // no panels
		if spec, _, _ := decodeLKG(bad); spec != nil {
			t.Errorf("decodeLKG(%q) gave a spec, want none", bad)
		}
	}
	// A cut record keeps what is whole: the spec and the first snapshot.
	if _, _, snaps := decodeLKG(rec[:len(rec)-10]); len(snaps) != 1 {
		t.Errorf("a cut record gave %d snapshots, want 1", len(snaps))
	}
}

// TestLKGSavesOneStreamAtATime: a periodic save re-encodes only the stream
// stored longest ago and keeps the others' stored snapshots (so a save costs
// one decimation), says the rest are pending, and a save on hide encodes
// every stream that moved.
func TestLKGSavesOneStreamAtATime(t *testing.T) {
	spec := &dashboard.Dashboard{ID: "d", Panels: []dashboard.Panel{
		{ID: "a", Kind: dashboard.KindKPI, Stream: "a", Field: "q"},
		{ID: "b", Kind: dashboard.KindKPI, Stream: "b", Field: "q"},
		{ID: "c", Kind: dashboard.KindKPI, Stream: "c", Field: "q"},
	}}
	streams := map[string]*livestate.Stream{}
	for _, n := range []string{"a", "b", "c"} {
		streams[n] = &livestate.Stream{Name: n, Epoch: 1, Seq: 1, State: wire.State{Values: map[string]float64{"q": 1}}}
	}
	frames := map[string]lkgFrame{}
	specJSON, _ := json.Marshal(spec)
	h := lkgHeader{Format: lkgFormat, Spec: specJSON}
	t0 := time.Unix(100, 0)
	// First save on hide: everything.
	rec, pending := lkgRecord(spec, streams, h, frames, true, t0)
	if _, _, snaps := decodeLKG(rec); len(snaps) != 3 || pending {
		t.Fatalf("a save on hide stored %d streams (pending %v), want all 3", len(snaps), pending)
	}
	// All three move; periodic saves take one each, the stalest first.
	for _, n := range []string{"a", "b", "c"} {
		streams[n].Seq = 2
	}
	frames["b"] = lkgFrame{epoch: 1, seq: 1, b: frames["b"].b, at: t0.Add(-time.Hour)} // b stored longest ago
	want := []string{"b", "a", "c"}
	for i, name := range want {
		rec, pending := lkgRecord(spec, streams, h, frames, false, t0.Add(time.Duration(i+1)*time.Second))
		if frames[name].seq != 2 {
			t.Fatalf("save %d did not re-encode %s", i, name)
		}
		moved := 0
		for _, f := range frames {
			if f.seq == 2 {
				moved++
			}
		}
		if moved != i+1 || pending != (i < 2) {
			t.Fatalf("after save %d: %d streams re-encoded (pending %v), want %d (pending %v)", i, moved, pending, i+1, i < 2)
		}
		if _, _, snaps := decodeLKG(rec); len(snaps) != 3 {
			t.Fatalf("save %d stored %d streams, want all 3 (the others at their older cursor)", i, len(snaps))
		}
	}
}

// TestLKGFoldsALongTableOverSeveralSaves: the first pass over a long table
// is spread over saves (lkgFoldRows each); until it is done the stream is
// pending, and once done its stored points are those of a single pass.
func TestLKGFoldsALongTableOverSeveralSaves(t *testing.T) {
	spec := &dashboard.Dashboard{ID: "d", Panels: []dashboard.Panel{
		{ID: "c", Kind: dashboard.KindTimeSeries, Stream: "m", Series: []string{"v"}, WindowSeconds: 3600},
	}}
	n := 3*lkgFoldRows + 123
	p := wire.Points{TS: make([]int64, n), Cols: []wire.Column{{Name: "v", Vals: make([]float64, n)}}}
	for i := range n {
		p.TS[i] = int64(i) * 10
		p.Cols[0].Vals[i] = float64(i%977) - float64(i%13)
	}
	st := &livestate.Stream{Name: "m", Epoch: 1, Seq: 7, State: wire.State{Points: p}}
	streams := map[string]*livestate.Stream{"m": st}
	specJSON, _ := json.Marshal(spec)
	h := lkgHeader{Format: lkgFormat, Spec: specJSON}
	frames := map[string]lkgFrame{}
	saves := 0
	for frames["m"].seq != 7 {
		if saves++; saves > 10 {
			t.Fatal("the table was not stored after 10 saves")
		}
		lkgRecord(spec, streams, h, frames, false, time.Unix(int64(saves), 0))
	}
	if saves < 4 {
		t.Fatalf("stored after %d saves, want the pass spread over at least 4 (%d rows, %d per save)", saves, n, lkgFoldRows)
	}
	// One pass: the same columns, from a fresh Columns over the whole table.
	share := lkgMaxBytes - len(specJSON) - 1024
	cols := min(lkgColumns, share*3/4/(4*9*2))
	one, err := wire.Encode(compact(st, 3_600_000, cols, lkgRows, nil))
	if err != nil || !bytes.Equal(frames["m"].b, one) {
		t.Fatalf("folded over %d saves the stored snapshot differs from one pass (%d vs %d bytes, %v)", saves, len(frames["m"].b), len(one), err)
	}
}

// TestLKGFoldsStreamsInPanelOrder: the first pass over long tables folds
// the first panel's stream to the end before the next one starts, so the
// first panel's stream is stored after its own pass (a warm visit draws it
// from the stored state) rather than every stream at the end of all passes.
func TestLKGFoldsStreamsInPanelOrder(t *testing.T) {
	spec := &dashboard.Dashboard{ID: "d"}
	streams := map[string]*livestate.Stream{}
	n := 2*lkgFoldRows + 10
	for _, name := range []string{"b", "a", "c"} { // panel order, not name order
		spec.Panels = append(spec.Panels, dashboard.Panel{ID: "p" + name, Kind: dashboard.KindTimeSeries, Stream: name, Series: []string{"v"}, WindowSeconds: 3600})
		p := wire.Points{TS: make([]int64, n), Cols: []wire.Column{{Name: "v", Vals: make([]float64, n)}}}
		for i := range n {
			p.TS[i] = int64(i) * 10
		}
		streams[name] = &livestate.Stream{Name: name, Epoch: 1, Seq: 9, State: wire.State{Points: p}}
	}
	names := spec.Streams()
	frames := map[string]lkgFrame{}
	var order []string
	for range 6 {
		name := nextFold(spec, names, streams, frames)
		order = append(order, name)
		frames[name] = foldLKG(streams[name], 3_600_000, 64<<10, frames[name])
	}
	// A stream is storable once at most lkgFoldRows rows wait: after its
	// second fold here.
	want := "b b a a c c"
	if got := fmt.Sprint(order); got != "["+want+"]" {
		t.Fatalf("folded %v, want [%s]: the panels' order, each stream storable before the next starts", got, want)
	}
	// Storable in that order: b after 2 folds, a after 4, c after 6.
	frames = map[string]lkgFrame{}
	stored := map[string]int{}
	for i := 1; i <= 6; i++ {
		name := nextFold(spec, names, streams, frames)
		frames[name] = foldLKG(streams[name], 3_600_000, 64<<10, frames[name])
		for _, s := range names {
			if _, ok := stored[s]; !ok && waitingRows(streams[s], 3_600_000, frames[s]) <= lkgFoldRows {
				stored[s] = i
			}
		}
	}
	if stored["b"] != 2 || stored["a"] != 4 || stored["c"] != 6 {
		t.Fatalf("storable after folds %v, want b 2, a 4, c 6", stored)
	}
}

package sla

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// TestOpenRollupBinsAreItsSketches: an open rollup adds its reports' bins
// into plain counts (binCounts) and makes sketches of them only when sealed
// for a store, or when cloned for a query. Whatever order the bins come in
// (windows growing below and above, zero counts at the edges, stages left
// out), the sketches are bin for bin those of adding every report's bins
// into a sketch, as the rollup did before; its size is the same before and
// after, and as such a sketch's window counts.
func TestOpenRollupBinsAreItsSketches(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 18))
	ru := newRollup("acme", "d", "p", t0.Truncate(time.Minute))
	want := map[string]*ddsketch.DDSketch{}
	for n := range 200 {
		var p wire.PanelReport
		for _, st := range sla.Stages {
			if rng.IntN(4) == 0 {
				continue // a stage this report leaves out
			}
			// Medians from 0.1 ms to a minute: the window grows both ways.
			median := math.Exp(rng.Float64()*13 - 2.3)
			ms := make([]float64, 1+rng.IntN(50))
			for i := range ms {
				ms[i] = min(median*math.Exp(rng.NormFloat64()/2), sla.MaxMs)
			}
			h := hist(st, ms...)
			if n%7 == 0 && h.Index[0] > sla.MinBin && h.Index[len(h.Index)-1] < sla.MaxBin {
				// Zero counts at the edges of the range (past every
				// window) and inside.
				h.Index = append([]int32{sla.MinBin}, append(h.Index, sla.MaxBin)...)
				h.Counts = append([]uint32{0}, append(h.Counts, 0)...)
				h.Counts[len(h.Counts)/2] = 0
			}
			p.Stages = append(p.Stages, h)
			if want[st] == nil {
				want[st] = newSketch()
			}
			for k, b := range h.Index {
				if c := h.Counts[k]; c > 0 {
					want[st].GetPositiveValueStore().AddWithCount(int(b), float64(c))
				}
			}
		}
		ru.addReport(uint64(n), &p)
	}
	wantSize := int64(256 + 8*len(ru.Screens))
	for _, sk := range want {
		st := sk.GetPositiveValueStore()
		if lo, err := st.MinIndex(); err == nil {
			hi, _ := st.MaxIndex()
			wantSize += 128 + 8*int64(hi-lo+1)
		}
	}
	if got := ru.size(); got != wantSize {
		t.Fatalf("open rollup's size: got %d, want %d", got, wantSize)
	}
	same := func(what string, got *Rollup) {
		t.Helper()
		if len(got.Stages) != len(want) {
			t.Fatalf("%s: %d stages, want %d", what, len(got.Stages), len(want))
		}
		for st, w := range want {
			if d := binDiff(got.Stages[st], w); d != "" {
				t.Fatalf("%s: stage %s: %s", what, st, d)
			}
		}
	}
	c := ru.clone()
	same("clone of the open rollup", c)
	if len(ru.Stages) != 0 {
		t.Fatalf("cloning changed the open rollup: %d sketches", len(ru.Stages))
	}
	ru.seal()
	same("sealed", ru)
	if got := ru.size(); got != wantSize {
		t.Fatalf("sealed rollup's size: got %d, want %d", got, wantSize)
	}
}

// binDiff says how two sketches' bins differ, "" if they do not.
func binDiff(got, want *ddsketch.DDSketch) string {
	bins := func(sk *ddsketch.DDSketch) map[int]float64 {
		m := map[int]float64{}
		sk.GetPositiveValueStore().ForEach(func(i int, c float64) bool { m[i] += c; return false })
		return m
	}
	if got == nil {
		return "missing"
	}
	g, w := bins(got), bins(want)
	if len(g) != len(w) {
		return fmt.Sprintf("%d bins, want %d", len(g), len(w))
	}
	for i, c := range w {
		if g[i] != c {
			return fmt.Sprintf("bin %d: got %v, want %v", i, g[i], c)
		}
	}
	if got.GetCount() != want.GetCount() || got.GetZeroCount() != want.GetZeroCount() {
		return fmt.Sprintf("count %v (zero %v), want %v (%v)", got.GetCount(), got.GetZeroCount(), want.GetCount(), want.GetZeroCount())
	}
	return ""
}

// TestStageIndex: stageIndex is slices.Index over sla.Stages.
func TestStageIndex(t *testing.T) {
	for _, name := range append(slices.Clone(sla.Stages), "", "teleport", "Total", sla.StageTotal+" ") {
		if got, want := stageIndex(name), slices.Index(sla.Stages, name); got != want {
			t.Errorf("stageIndex(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestTakeAllocatesNothingOnceOpen: a screen's next report into rollups
// already open (a stale period merged into one the screen reported, bins
// inside the window) allocates nothing; each stale period cost one before
// (its screen's slice, moved to the heap with the period's cause).
func TestTakeAllocatesNothingOnceOpen(t *testing.T) {
	reg := metrics.New()
	s := New(Config{Metrics: reg, Stages: metrics.NewStages(reg, 0)})
	r := report("screen-1", t0, 20, 30, 40, 50)
	r.Panels = append(r.Panels, r.Panels[0])
	r.Panels[1].Panel = "q"
	step := 100 * time.Millisecond
	at := t0
	take := func() {
		r.From, r.To = at.UnixNano(), at.Add(step).UnixNano()
		for i := range r.Panels {
			r.Panels[i].FreshMs, r.Panels[i].StaleMs = 50, 50
			r.Panels[i].Stale[0].Start = t0.UnixNano()
		}
		at = at.Add(step)
		if err := s.Take("acme", r, at); err != nil {
			t.Fatal(err)
		}
	}
	take() // opens the rollups
	if n := testing.AllocsPerRun(100, take); n != 0 {
		t.Errorf("%v allocations a report, want 0", n)
	}
	if got := reg.Lookup("telltale_sla_reports_total").Load(); got != 102 {
		t.Errorf("%d reports taken, want 102", got)
	}
}

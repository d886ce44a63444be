package ui

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestAMissingSeriesIsAColumnOfGaps: a chart naming a series its stream
// lacks is handed, in every way it is drawn (decimated to its width, before
// its width is known, zoomed), the series it has unchanged and the other as
// a column of gaps as long as the timestamps.
func TestAMissingSeriesIsAColumnOfGaps(t *testing.T) {
	for _, tt := range []struct {
		name  string
		width int
		zoom  bool
	}{
		{"decimated", 500, false},
		{"width unknown", 0, false},
		{"zoomed", 500, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newChartRig(2) // p1 draws only v: the reference
			r.charts.width, r.charts.cols = tt.width, map[string][][]float64{}
			r.shell.spec.Panels[0].Series = []string{"v", "amount"}
			r.shell.spec.Panels[1].Stream = "s0"
			if tt.zoom {
				pts := r.streams["s0"].State.Points
				zoom := Range{pts.TS[2000], pts.TS[2600]}
				r.shell.setZoom("p0", zoom)
				r.shell.setZoom("p1", zoom)
			}
			r.frame(time.Unix(1000, 0), 0)
			ts, cols := r.charts.ts["chart-p0"], r.charts.cols["chart-p0"]
			if len(ts) == 0 || len(cols) != 2 {
				t.Fatalf("drew %d rows in %d columns, want rows in 2", len(ts), len(cols))
			}
			for i, c := range cols {
				if len(c) != len(ts) {
					t.Fatalf("column %d has %d values for %d rows", i, len(c), len(ts))
				}
			}
			for i, v := range cols[1] {
				if !math.IsNaN(v) {
					t.Fatalf("amount[%d] = %v, want a gap", i, v)
				}
			}
			// The series it has is drawn as a chart of it alone draws it:
			// the same extremes in every pixel column.
			pts := r.streams["s0"].State.Points
			to := pts.TS[len(pts.TS)-1]
			from := to - 60_000
			if tt.zoom {
				from, to = pts.TS[2000], pts.TS[2600]
			}
			span := int64(1)
			if tt.width > 0 {
				span = (to - from + int64(tt.width) - 1) / int64(tt.width)
			}
			got, want := extremes(ts, cols[0], span), extremes(r.charts.ts["chart-p1"], r.charts.cols["chart-p1"][0], span)
			if len(want) == 0 || !maps.Equal(got, want) {
				t.Fatalf("v drawn next to a missing series has extremes in %d columns, alone in %d: not the same", len(got), len(want))
			}
		})
	}
}

func TestLacks(t *testing.T) {
	st := &livestate.Stream{Name: "orders", Epoch: 7, Seq: 3, State: wire.State{
		Values: map[string]float64{"orders_today": 12},
		Rows: []wire.Row{
			{Key: "b", Fields: map[string]any{"id": "b", "total": 3.5}},
			{Key: "a", Fields: map[string]any{"id": "a", "note": "old"}},
		},
		Points: wire.Points{TS: []int64{1, 2}, Cols: []wire.Column{{Name: "orders_per_min", Vals: []float64{1, 2}}}},
	}}
	for _, tt := range []struct {
		name  string
		panel dashboard.Panel
		want  []string
	}{
		{"series", dashboard.Panel{Kind: dashboard.KindTimeSeries, Series: []string{"orders_per_min", "amount"}}, []string{"amount"}},
		{"all series", dashboard.Panel{Kind: dashboard.KindTimeSeries, Series: []string{"orders_per_min"}}, nil},
		{"kpi gauge", dashboard.Panel{Kind: dashboard.KindKPI, Field: "orders_today"}, nil},
		{"kpi unknown gauge", dashboard.Panel{Kind: dashboard.KindKPI, Field: "revenue"}, []string{"revenue"}},
		{"kpi newest row's field", dashboard.Panel{Kind: dashboard.KindKPI, Field: "row.total"}, nil},
		// An older row's field is not the newest row's: the KPI shows "—".
		{"kpi field only an older row has", dashboard.Panel{Kind: dashboard.KindKPI, Field: "row.note"}, []string{"row.note"}},
		{"table column some row has", dashboard.Panel{Kind: dashboard.KindTable, Columns: []dashboard.Column{{Field: "id"}, {Field: "note"}, {Field: "total"}}}, nil},
		{"table key column", dashboard.Panel{Kind: dashboard.KindTable, Columns: []dashboard.Column{{Field: "key"}, {Field: "id"}}}, nil},
		{"stat gauge", dashboard.Panel{Kind: dashboard.KindStat, Field: "orders_today"}, nil},
		{"stat unknown gauge", dashboard.Panel{Kind: dashboard.KindStat, Field: "revenue"}, []string{"revenue"}},
		{"bucketed stat without its series", dashboard.Panel{Kind: dashboard.KindStat, Field: "value", Agg: &agg.Def{Window: "1m"}}, []string{"value"}},
		{"status field an older row has", dashboard.Panel{Kind: dashboard.KindStatus, Field: "note"}, nil},
		{"status field no row has", dashboard.Panel{Kind: dashboard.KindStatus, Field: "state"}, []string{"state"}},
		{"table column no row has", dashboard.Panel{Kind: dashboard.KindTable, Columns: []dashboard.Column{{Field: "id"}, {Field: "ghost"}, {Field: "eta"}}}, []string{"ghost", "eta"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := lacks(tt.panel, st); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Before its snapshot a stream lacks everything and nothing is known.
	empty := &livestate.Stream{Name: "orders"}
	if got := lacks(dashboard.Panel{Kind: dashboard.KindKPI, Field: "revenue"}, empty); got != nil {
		t.Fatalf("before the snapshot: got %q, want nothing", got)
	}
}

// TestMissingFollowsTheStream: the names are judged again when the stream
// moves (a series that starts later clears the note), counted for
// telltaleStats, and a new spec starts over.
func TestMissingFollowsTheStream(t *testing.T) {
	d := &dashboard.Dashboard{Panels: []dashboard.Panel{
		{ID: "chart", Kind: dashboard.KindTimeSeries, Stream: "s", Series: []string{"v", "amount"}},
		{ID: "kpi", Kind: dashboard.KindKPI, Stream: "s", Field: "nope"},
		{ID: "other", Kind: dashboard.KindKPI, Stream: "quiet", Field: "x"},
	}}
	st := &livestate.Stream{Name: "s", Epoch: 1, Seq: 1, State: wire.State{Points: wire.Points{TS: []int64{1}, Cols: []wire.Column{{Name: "v", Vals: []float64{1}}}}}}
	streams := map[string]*livestate.Stream{"s": st, "quiet": {Name: "quiet"}}
	var m missing
	m.update(d, streams)
	if n, by := m.counts(); n != 2 || !slices.Equal(by["chart"], []string{"amount"}) || !slices.Equal(by["kpi"], []string{"nope"}) || by["other"] != nil {
		t.Fatalf("counted %d: %v; want amount for chart, nope for kpi, nothing for the stream without a snapshot", n, by)
	}
	// amount arrives: not judged until the stream moves...
	st.State.Points.Cols = append(st.State.Points.Cols, wire.Column{Name: "amount", Vals: []float64{2}})
	st.Seq++
	m.update(d, streams)
	if got := m.of("chart"); got != nil {
		t.Fatalf("after amount arrived the chart still lacks %q", got)
	}
	// ...and a spec that names something else is judged afresh.
	d2 := &dashboard.Dashboard{Panels: []dashboard.Panel{{ID: "chart", Kind: dashboard.KindTimeSeries, Stream: "s", Series: []string{"w"}}}}
	m.update(d2, streams)
	if n, by := m.counts(); n != 1 || !slices.Equal(by["chart"], []string{"w"}) {
		t.Fatalf("with a new spec: counted %d: %v, want w for chart only", n, by)
	}
}

// extremes is each pixel column's lowest and highest finite value.
func extremes(ts []int64, vals []float64, span int64) map[int64][2]float64 {
	out := map[int64][2]float64{}
	for i, v := range vals {
		if math.IsNaN(v) {
			continue
		}
		c := ts[i] / span
		e, ok := out[c]
		if !ok {
			e = [2]float64{v, v}
		}
		out[c] = [2]float64{min(e[0], v), max(e[1], v)}
	}
	return out
}

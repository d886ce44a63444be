package ui

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		name string
		def  agg.Def
		want string
	}{
		{"the brief's", agg.Def{Source: "orders", Fn: "sum", Field: "total", Filter: "status in (paid, shipped)", GroupBy: "region", Window: "1m"},
			"sum(total) where status in (paid, shipped) by region, every 1m"},
		{"count of rows", agg.Def{Source: "orders", Fn: "count", Window: "10s"}, "count, every 10s"},
		{"sliding", agg.Def{Source: "picks", Fn: "p95", Field: "ms", Window: "last 5m"}, "p95(ms), over the last 5m"},
		{"calendar in a zone", agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "today", TZ: "Europe/Paris"}, "sum(total), today (Europe/Paris)"},
		{"current with top", agg.Def{Source: "orders", Fn: "count", GroupBy: "status", Top: 5, Window: "current"}, "count by status (top 5), over the rows as they are now"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(&tt.def); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWindowOf(t *testing.T) {
	for _, tt := range []struct {
		name  string
		panel dashboard.Panel
		want  time.Duration
	}{
		{"raw default", dashboard.Panel{}, time.Minute},
		{"declared", dashboard.Panel{WindowSeconds: 300, Agg: &agg.Def{Window: "1m"}}, 5 * time.Minute},
		{"60 buckets of a tumbling aggregate", dashboard.Panel{Agg: &agg.Def{Window: "1m"}}, time.Hour},
		{"never under a minute", dashboard.Panel{Agg: &agg.Def{Window: "100ms"}}, time.Minute},
		{"a gauge window has no buckets", dashboard.Panel{Agg: &agg.Def{Window: "last 5m"}}, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := windowOf(tt.panel); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRankedColumns: a chart of an aggregate's groups ranks them by the
// newest closed bucket, largest first, gaps after numbers, "other" last.
func TestRankedColumns(t *testing.T) {
	nan := math.NaN()
	pts := func(ts []int64, cols ...wire.Column) *wire.Points { return &wire.Points{TS: ts, Cols: cols} }
	for _, tt := range []struct {
		name string
		pts  *wire.Points
		want []string
	}{
		{"empty", pts(nil), nil},
		{"one bucket: its values", pts([]int64{0}, wire.Column{Name: "eu", Vals: []float64{1}}, wire.Column{Name: "us", Vals: []float64{5}}), []string{"us", "eu"}},
		{"the closed bucket, not the live one", pts([]int64{0, 60},
			wire.Column{Name: "eu", Vals: []float64{9, 1}}, wire.Column{Name: "us", Vals: []float64{5, 3}}), []string{"eu", "us"}},
		{"the live bucket repeated (appended, not upserted)", pts([]int64{0, 60, 60, 60},
			wire.Column{Name: "eu", Vals: []float64{9, 1, 2, 3}}, wire.Column{Name: "us", Vals: []float64{5, 3, 4, 11}}), []string{"eu", "us"}},
		{"other last, gaps after numbers, ties by name", pts([]int64{0},
			wire.Column{Name: agg.Other, Vals: []float64{100}}, wire.Column{Name: "b", Vals: []float64{nan}},
			wire.Column{Name: "z", Vals: []float64{2}}, wire.Column{Name: "a", Vals: []float64{2}}, wire.Column{Name: "m", Vals: []float64{7}}),
			[]string{"m", "a", "z", "b", agg.Other}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := rankedColumns(tt.pts); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestColoursStayWithNames: a name keeps its colour however the names are
// ranked and whichever come later; eleven groups (the default top 10 and
// "other") all differ; "other" is grey.
func TestColoursStayWithNames(t *testing.T) {
	var c colours
	names := []string{"eu", "us", "apac", "latam", "mea", "nordics", "uk", "de", "fr", "jp", agg.Other}
	first := map[string]string{}
	seen := map[string]bool{}
	for _, n := range names {
		col := c.colour(n)
		first[n] = col
		if seen[col] {
			t.Fatalf("%s got %s, which another group has", n, col)
		}
		seen[col] = true
	}
	if first[agg.Other] != otherColor {
		t.Fatalf("other is %s, want %s", first[agg.Other], otherColor)
	}
	slices.Reverse(names)
	for _, n := range names {
		if got := c.colour(n); got != first[n] {
			t.Fatalf("%s is now %s, was %s", n, got, first[n])
		}
	}
	// A fresh page colours a name the same when it is free.
	var d colours
	if got := d.colour("eu"); got != first["eu"] {
		t.Fatalf("eu on a fresh page is %s, want %s (its hash's)", got, first["eu"])
	}
}

// aggRig is a shell with one time-series panel over a tumbling aggregate
// that lists no series, and its derived stream.
func aggRig() (*chartRig, *livestate.Stream) {
	charts := &fakeCharts{width: 500, hidden: map[string]bool{}, lengths: map[string]int{}, ranges: map[string]Range{}, ts: map[string][]int64{}, cols: map[string][][]float64{}}
	st := &livestate.Stream{Name: "agg.00000000000000aa", Epoch: 1}
	spec := &dashboard.Dashboard{ID: "d", Panels: []dashboard.Panel{{ID: "opm", Kind: dashboard.KindTimeSeries, Stream: st.Name,
		Agg: &agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1m"}}}}
	r := &chartRig{charts: charts, streams: map[string]*livestate.Stream{st.Name: st}}
	r.shell = &Shell{spec: spec, bridges: Bridges{Charts: charts}}
	return r, st
}

// emit folds one emission of the aggregate: bucket ts, one column per group.
func emit(t *testing.T, st *livestate.Stream, ts int64, groups map[string]float64) {
	t.Helper()
	p := &wire.Points{TS: []int64{ts}, Upsert: true}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	}) {
		p.Cols = append(p.Cols, wire.Column{Name: name, Vals: []float64{groups[name]}})
	}
	if err := livestate.Fold(&st.State, &wire.Event{Seq: st.Seq + 1, Time: ts, Points: p}, livestate.Limits{}); err != nil {
		t.Fatal(err)
	}
	st.Seq++
}

// TestChartDrawsEveryGroup: a time series over an aggregate that names no
// series draws every column of its stream, ranked, each in the colour it
// keeps; a group that appears later is added (the chart is made again with
// it) and the data handed over is in the chart's order; new values that do
// not change the ranking do not remake it.
func TestChartDrawsEveryGroup(t *testing.T) {
	r, st := aggRig()
	r.shell.spec.Panels[0].Labels = map[string]string{"eu": "Europe"}
	t0 := time.Unix(1_000_000, 0)
	const id = "chart-opm"
	emit(t, st, 0, map[string]float64{"eu": 3, "us": 7})
	r.frame(t0, 0)
	if n := len(r.charts.created); n != 1 {
		t.Fatalf("%d charts made, want 1", n)
	}
	spec := r.charts.created[0]
	if !slices.Equal(spec.Series, []string{"us", "eu"}) || len(spec.Colors) != 2 || spec.Colors[0] == spec.Colors[1] {
		t.Fatalf("chart made with series %q colours %q, want us, eu in two colours", spec.Series, spec.Colors)
	}
	if !slices.Equal(spec.Labels, []string{"us", "Europe"}) {
		t.Fatalf("labels %q, want us and the panel's label of eu", spec.Labels)
	}
	colourOf := map[string]string{"us": spec.Colors[0], "eu": spec.Colors[1]}
	if got := r.charts.cols[id]; len(got) != 2 || got[0][0] != 7 || got[1][0] != 3 {
		t.Fatalf("data %v, want us (7) then eu (3)", got)
	}

	// The live bucket moves; the order holds: no new chart.
	emit(t, st, 0, map[string]float64{"eu": 4, "us": 8})
	r.frame(t0.Add(time.Second), 0)
	if n := len(r.charts.created); n != 1 {
		t.Fatalf("%d charts made after a value changed, want still 1", n)
	}

	// A new bucket and a new group: the chart is made again with it, ranked
	// by the bucket that closed (apac has no value there: after the others).
	emit(t, st, 60_000, map[string]float64{"eu": 1, "us": 1, "apac": 2})
	r.frame(t0.Add(2*time.Second), 0)
	if n := len(r.charts.created); n != 2 {
		t.Fatalf("%d charts made after a group appeared, want 2", n)
	}
	if spec = r.charts.created[1]; !slices.Equal(spec.Series, []string{"us", "eu", "apac"}) {
		t.Fatalf("series %q, want us, eu, apac", spec.Series)
	}
	colourOf["apac"] = spec.Colors[2]
	if !r.charts.live[id] {
		t.Fatalf("the chart is not there after it was made again")
	}
	got := r.charts.cols[id]
	last := len(r.charts.ts[id]) - 1
	if len(got) != 3 || got[2][last] != 2 || !math.IsNaN(got[2][0]) {
		t.Fatalf("data %v, want apac's column a gap then 2", got)
	}

	// eu overtakes in that bucket, which closes: the order follows, and
	// every name keeps its colour.
	emit(t, st, 60_000, map[string]float64{"eu": 10, "us": 1, "apac": 2})
	emit(t, st, 120_000, map[string]float64{"eu": 0, "us": 0, "apac": 0})
	r.frame(t0.Add(3*time.Second), 0)
	if n := len(r.charts.created); n != 3 {
		t.Fatalf("%d charts made after the ranking changed, want 3", n)
	}
	spec = r.charts.created[2]
	if !slices.Equal(spec.Series, []string{"eu", "apac", "us"}) {
		t.Fatalf("series %q, want eu, apac, us", spec.Series)
	}
	for i, name := range spec.Series {
		if spec.Colors[i] != colourOf[name] {
			t.Fatalf("%s changed colour: %s, was %s", name, spec.Colors[i], colourOf[name])
		}
	}
	got = r.charts.cols[id]
	last = len(r.charts.ts[id]) - 2 // the closed bucket's (last) row
	for i, want := range []float64{10, 2, 1} {
		if got[i][last] != want {
			t.Fatalf("column %d (%s) %v, want %v in the closed bucket", i, spec.Series[i], got[i], want)
		}
	}
}

// TestUngroupedChartIsLabelledByItsFunction: the one series of an
// ungrouped aggregate, "value" (Resolve lists it), is shown as what it is,
// unless the panel labels it.
func TestUngroupedChartIsLabelledByItsFunction(t *testing.T) {
	p := dashboard.Panel{Kind: dashboard.KindTimeSeries, Series: []string{agg.Value}, Agg: &agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "1m"}}
	if got := chartSpec(p).Labels; !slices.Equal(got, []string{"sum(total)"}) {
		t.Fatalf("labels %q, want sum(total)", got)
	}
	p.Labels = map[string]string{agg.Value: "Revenue"}
	if got := chartSpec(p).Labels; !slices.Equal(got, []string{"Revenue"}) {
		t.Fatalf("labels %q, want the panel's", got)
	}
	// Buckets are few: each is marked, so a lone one is seen.
	if !chartSpec(p).Marks {
		t.Fatalf("an aggregate's chart does not mark its samples")
	}
	p.Agg = nil
	if chartSpec(p).Marks {
		t.Fatalf("a raw chart marks its samples (costly at 100k points)")
	}
}

func TestGroupsOf(t *testing.T) {
	rows := []rowView{
		{key: "new", fields: map[string]any{"value": 3.0}},
		{key: agg.Other, fields: map[string]any{"value": 50.0}},
		{key: "packed", fields: map[string]any{"value": int64(9)}},
		{key: "odd", fields: map[string]any{"value": "x"}},
	}
	got := groupsOf(rows)
	var names []string
	for _, g := range got {
		names = append(names, g.name)
	}
	if want := []string{"packed", "new", "odd", agg.Other}; !slices.Equal(names, want) {
		t.Fatalf("got %q, want %q", names, want)
	}
	if got[0].v != 9 || !math.IsNaN(got[2].v) {
		t.Fatalf("values %v, want 9 first and no value for odd", got)
	}
}

// TestLacksOfAggregates: a panel over an aggregate that has not emitted is
// not missing anything (its head says it waits); a grouped KPI's groups are
// whatever rows there are; a table column the groups lack is still
// reported.
func TestLacksOfAggregates(t *testing.T) {
	grouped := &agg.Def{Source: "orders", Fn: "count", GroupBy: "status", Window: "current"}
	ungrouped := &agg.Def{Source: "orders", Fn: "count", Window: "1m"}
	silent := &livestate.Stream{Name: "agg.x", Epoch: 3}
	rows := &livestate.Stream{Name: "agg.x", Epoch: 3, Seq: 2, State: wire.State{Rows: []wire.Row{{Key: "new", Fields: map[string]any{"value": 2.0}}}}}
	points := &livestate.Stream{Name: "agg.x", Epoch: 3, Seq: 2, State: wire.State{Points: wire.Points{TS: []int64{0}, Cols: []wire.Column{{Name: "value", Vals: []float64{4}}}}}}
	for _, tt := range []struct {
		name  string
		panel dashboard.Panel
		st    *livestate.Stream
		want  []string
	}{
		{"kpi waiting", dashboard.Panel{Kind: dashboard.KindKPI, Field: "value", Agg: ungrouped}, silent, nil},
		{"table waiting", dashboard.Panel{Kind: dashboard.KindTable, Agg: grouped, Columns: []dashboard.Column{{Field: "key"}, {Field: "value"}}}, silent, nil},
		{"raw stream without events still lacks", dashboard.Panel{Kind: dashboard.KindKPI, Field: "value"}, silent, []string{"value"}},
		{"grouped kpi", dashboard.Panel{Kind: dashboard.KindKPI, Field: "value", Agg: grouped}, rows, nil},
		{"table of groups", dashboard.Panel{Kind: dashboard.KindTable, Agg: grouped, Columns: []dashboard.Column{{Field: "key"}, {Field: "value"}}}, rows, nil},
		{"table column the groups lack", dashboard.Panel{Kind: dashboard.KindTable, Agg: grouped, Columns: []dashboard.Column{{Field: "key"}, {Field: "total"}}}, rows, []string{"total"}},
		{"chart of every column", dashboard.Panel{Kind: dashboard.KindTimeSeries, Agg: ungrouped}, points, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := lacks(tt.panel, tt.st); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFreshnessOfAggregates: a derived stream's cadence is learnt from when
// it moves, never below its EmitMs, and not from its buckets' timestamps
// (a "1m" table would hold it to a minute): a source gone quiet makes the
// aggregate stale as soon as a raw stream of that rhythm would be.
func TestFreshnessOfAggregates(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	def := &agg.Def{Source: "orders", Fn: "count", Window: "1m", EmitMs: 2000}
	p := dashboard.Panel{ID: "opm", Stream: "agg.00000000000000aa", Agg: def}
	// Its snapshot: ten one-minute buckets.
	var ts []int64
	var vals []float64
	for i := range 10 {
		ts = append(ts, t0.Add(time.Duration(i-9)*time.Minute).UnixMilli())
		vals = append(vals, 1)
	}
	st := &livestate.Stream{Name: p.Stream, Epoch: 1, Seq: 10, State: wire.State{LastTime: t0.UnixMilli(), Points: wire.Points{TS: ts, Cols: []wire.Column{{Name: "value", Vals: vals}}}}}
	streams := map[string]*livestate.Stream{p.Stream: st}
	s := &Shell{}
	s.trackArrivals(streams, t0)
	if f := s.freshness(p, t0.Add(61*time.Second)); !f.stale || f.expect != 0 {
		t.Fatalf("a minute after a snapshot of buckets: %+v, want stale on the default (its buckets are no cadence)", f)
	}
	// It moves every 500 ms (faster than it can: learnt, then floored at EmitMs).
	now := t0
	for range 10 {
		now = now.Add(500 * time.Millisecond)
		st.Seq++
		s.trackArrivals(streams, now)
	}
	if f := s.freshness(p, now); f.expect != 2*time.Second {
		t.Fatalf("cadence %v, want the 2 s emit floor", f.expect)
	}
	if f := s.freshness(p, now.Add(7*time.Second)); f.stale {
		t.Fatalf("7 s quiet: %+v, want fresh (4 × 2 s)", f)
	}
	if f := s.freshness(p, now.Add(9*time.Second)); !f.stale {
		t.Fatalf("9 s quiet: %+v, want stale", f)
	}
	// The same stream read raw would be held to the 500 ms it showed.
	raw := p
	raw.Agg = nil
	if f := s.freshness(raw, now); f.expect >= time.Second {
		t.Fatalf("raw cadence %v, want about 500 ms", f.expect)
	}
}

// TestZoomedChartFollowsTheRanking: a zoomed chart of every group that is
// made again in another order hands over each group's values under its own
// name, and a bucket updated in place is shown updated.
func TestZoomedChartFollowsTheRanking(t *testing.T) {
	r, st := aggRig()
	const id = "chart-opm"
	t0 := time.Unix(1_000_000, 0)
	emit(t, st, 0, map[string]float64{"eu": 3, "us": 7})
	emit(t, st, 60_000, map[string]float64{"eu": 1, "us": 2})
	r.frame(t0, 0)
	r.shell.setZoom("opm", Range{0, 180_000})
	r.frame(t0.Add(time.Second), 0)
	at := func(ts int64) int {
		t.Helper()
		i := slices.Index(r.charts.ts[id], ts)
		if i < 0 {
			t.Fatalf("no row at %d in %v", ts, r.charts.ts[id])
		}
		return i
	}
	if got := r.charts.cols[id]; got[0][at(0)] != 7 || got[1][at(0)] != 3 {
		t.Fatalf("zoomed: %v, want us 7 then eu 3 at 0", got)
	}
	// eu overtakes in the bucket at 60 s, which closes.
	emit(t, st, 60_000, map[string]float64{"eu": 9, "us": 2})
	emit(t, st, 120_000, map[string]float64{"eu": 0, "us": 0})
	r.frame(t0.Add(2*time.Second), 0)
	if s := r.charts.created[len(r.charts.created)-1].Series; !slices.Equal(s, []string{"eu", "us"}) {
		t.Fatalf("series %q, want eu, us", s)
	}
	got := r.charts.cols[id]
	if got[0][at(0)] != 3 || got[1][at(0)] != 7 {
		t.Fatalf("zoomed after the ranking changed: %v at %v, want eu 3 then us 7 at 0", got, r.charts.ts[id])
	}
	if i := slices.Index(r.charts.ts[id], 60_000); i < 0 || got[0][i] != 9 {
		t.Fatalf("zoomed: the bucket at 60 s shows %v at %v, want eu 9 (updated in place)", got, r.charts.ts[id])
	}
}

// TestLKGStoresLateBuckets: the stored record of an aggregate's stream has
// a bucket a late event changed after the last save, as it is now.
func TestLKGStoresLateBuckets(t *testing.T) {
	st := &livestate.Stream{Name: "agg.00000000000000aa", Epoch: 1}
	emit(t, st, 0, map[string]float64{"eu": 1})
	emit(t, st, 60_000, map[string]float64{"eu": 2})
	emit(t, st, 120_000, map[string]float64{"eu": 3})
	now := time.Unix(1_000_000, 0)
	f := encodeLKG(st, time.Hour.Milliseconds(), 1<<20, now, lkgFrame{})
	emit(t, st, 60_000, map[string]float64{"eu": 5}) // late
	f = encodeLKG(st, time.Hour.Milliseconds(), 1<<20, now.Add(time.Second), f)
	fr, err := wire.Decode(f.b)
	snap, ok := fr.(wire.Snapshot)
	if err != nil || !ok {
		t.Fatalf("stored %T, %v; want a snapshot", fr, err)
	}
	p := snap.State.Points
	if i := slices.Index(p.TS, 60_000); i < 0 || p.Col("eu")[i] != 5 {
		t.Fatalf("stored %v %v, want eu 5 at 60 s", p.TS, p.Cols)
	}
}

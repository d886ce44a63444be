package ui

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func TestLevelOf(t *testing.T) {
	r := dashboard.Rules{
		Thresholds: []dashboard.Threshold{{Value: 10, Level: dashboard.LevelWarn}, {Value: 30, Level: dashboard.LevelCritical}},
		ValueMap:   map[string]dashboard.Level{"delayed": dashboard.LevelCritical, "on_time": dashboard.LevelOK, "true": dashboard.LevelWarn},
	}
	tests := []struct {
		name string
		v    any
		want dashboard.Level
	}{
		{"nil", nil, dashboard.LevelNone},
		{"float under", 5.0, dashboard.LevelNone},
		{"float at warn", 10.0, dashboard.LevelWarn},
		{"int64 critical", int64(45), dashboard.LevelCritical},
		{"uint8", uint8(12), dashboard.LevelWarn},
		{"mapped string", "delayed", dashboard.LevelCritical},
		{"mapped ok", "on_time", dashboard.LevelOK},
		{"unmapped string", "loading", dashboard.LevelNone},
		{"number as a string", " 31 ", dashboard.LevelCritical},
		{"bool by the value map", true, dashboard.LevelWarn},
		{"bool unmapped", false, dashboard.LevelNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := levelOf(r, tt.v); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	for l, want := range map[dashboard.Level]string{dashboard.LevelOK: "✓", dashboard.LevelWarn: "▲", dashboard.LevelCritical: "✖", dashboard.LevelNone: ""} {
		if got := levelMark(l); got != want {
			t.Errorf("mark of %q: got %q, want %q", l, got, want)
		}
	}
	if got := levelClass(dashboard.LevelCritical); got != "tt-level-critical" {
		t.Errorf("class: got %q", got)
	}
	num := func(v float64) string { return Format{Decimals: -1}.Number(plainLocale{}, v) }
	if got, want := ruleText(dashboard.LevelNone, dashboard.Rules{Thresholds: r.Thresholds}, num), "no level — critical ≥ 30 · warn ≥ 10"; got != want {
		t.Errorf("rule: got %q, want %q", got, want)
	}
	if got := ruleText(dashboard.LevelNone, dashboard.Rules{}, num); got != "" {
		t.Errorf("rule of no rules: got %q, want none", got)
	}
}

func TestRelativeAndDuration(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	rel := Format{Name: dashboard.FormatRelative, Decimals: -1}
	dur := Format{Name: dashboard.FormatDuration, Decimals: -1}
	tests := []struct {
		name string
		f    Format
		v    any
		want string
	}{
		{"just now", rel, float64(now.Add(-2 * time.Second).UnixMilli()), "just now"},
		{"seconds", rel, float64(now.Add(-45 * time.Second).UnixMilli()), "45 s ago"},
		{"minutes", rel, now.Add(-5*time.Minute - 20*time.Second).UnixMilli(), "5 min ago"},
		{"hours from RFC 3339", rel, now.Add(-3 * time.Hour).Format(time.RFC3339), "3 h ago"},
		{"days", rel, float64(now.Add(-72 * time.Hour).UnixMilli()), "3 d ago"},
		{"ahead", rel, float64(now.Add(2 * time.Minute).UnixMilli()), "in 2 min"},
		{"relative of text", rel, "soon", "soon"},
		{"ms", dur, 850.4, "850 ms"},
		{"zero", dur, 0, "0 ms"},
		{"seconds with a tenth", dur, 4250.0, "4.2 s"},
		{"seconds", dur, 42_000.0, "42 s"},
		{"minutes", dur, 125_000.0, "2m 05s"},
		{"hours", dur, 3_780_000.0, "1h 03m"},
		{"days", dur, 187_200_000.0, "2d 04h"},
		{"negative", dur, -125_000.0, "-2m 05s"},
		{"duration of text", dur, "n/a", "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Value(plainLocale{}, tt.v, now); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := duration(math.NaN()); got != "—" {
		t.Fatalf("NaN: got %q", got)
	}
}

func TestHistoryAndChange(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var h history
	for i := range 120 { // a value a second for 2 minutes: 100, 101, ...
		h.add(t0.Add(time.Duration(i)*time.Second), float64(100+i))
	}
	h.add(t0.Add(119*time.Second+500*time.Millisecond), 300) // the same second: replaces
	if n := len(h.v); n != 120 || h.v[n-1] != 300 {
		t.Fatalf("got %d samples ending %v, want 120 ending 300", len(h.v), h.v[len(h.v)-1])
	}
	if v, ok := h.ago(time.Minute); !ok || v != 159 {
		t.Fatalf("a minute before the newest: got %v %v, want 159", v, ok)
	}
	if _, ok := h.ago(time.Hour); ok {
		t.Fatal("an hour back: got a value, want none (the page saw 2 minutes)")
	}
	h.add(t0.Add(200*time.Second), math.NaN()) // ignored
	if len(h.v) != 120 {
		t.Fatalf("NaN was kept")
	}

	tests := []struct {
		name        string
		now, before float64
		ok          bool
		want        string
	}{
		{"up", 112, 100, true, "▲ 12%"},
		{"down a little", 96.5, 100, true, "▼ 3.5%"},
		{"flat", 100, 100, true, "= 0%"},
		{"from a negative", -50, -100, true, "▲ 50%"},
		{"nothing to compare", 100, 0, false, "—"},
		{"from zero", 5, 0, true, "—"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := change(tt.now, tt.before, tt.ok); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	for d, want := range map[time.Duration]string{time.Hour: "1 h ago", 5 * time.Minute: "5 min ago", 90 * time.Second: "90 s ago"} {
		if got := spanText(d); got != want {
			t.Errorf("%v: got %q, want %q", d, got, want)
		}
	}
}

func TestHistoryThinsInsteadOfDropping(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var h history
	for i := range 3 * historyMax {
		h.add(t0.Add(time.Duration(i)*time.Second), float64(i))
	}
	if len(h.v) > historyMax {
		t.Fatalf("holds %d samples, want at most %d", len(h.v), historyMax)
	}
	if h.at[0] != t0 {
		t.Fatalf("the oldest sample is %v, want the first one kept (%v): a long compare still finds a value", h.at[0], t0)
	}
	if _, ok := h.ago(80 * time.Minute); !ok {
		t.Fatal("80 min back: want a value")
	}
}

func TestSparkline(t *testing.T) {
	if got := sparkline([]float64{1}, 200, 40); got != "" {
		t.Fatalf("one value: got %q, want nothing", got)
	}
	if got, want := sparkline([]float64{0, 10, 5}, 200, 40), "0.0,40.0 100.0,0.0 200.0,20.0"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := sparkline([]float64{3, 3}, 200, 40), "0.0,20.0 200.0,20.0"; got != want {
		t.Fatalf("flat: got %q, want %q", got, want)
	}
}

func TestTableOrder(t *testing.T) {
	cols := []dashboard.Column{{Field: "key", Title: "Truck"}, {Field: "region", Title: "Region"}, {Field: "delay", Title: "Delay", Format: dashboard.FormatInt}}
	row := func(key, region string, delay any) rowView {
		f := map[string]any{"region": region}
		if delay != nil {
			f["delay"] = delay
		}
		return rowView{key: key, fields: f}
	}
	rows := []rowView{row("t3", "south", 90.0), row("t1", "north", 45.0), row("t4", "east", nil), row("t2", "South", int64(12)), row("t5", "west", "late")}
	keys := func(rs []rowView) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.key)
		}
		return strings.Join(out, ",")
	}
	now := time.Now()
	tests := []struct {
		name  string
		order tableOrder
		want  string
	}{
		{"newest first", tableOrder{}, "t3,t1,t4,t2,t5"},
		{"by delay", tableOrder{by: 3}, "t2,t1,t3,t5,t4"},
		{"by delay, descending", tableOrder{by: 3, desc: true}, "t5,t3,t1,t2,t4"},
		{"by key", tableOrder{by: 1}, "t1,t2,t3,t4,t5"},
		{"filter any case", tableOrder{filter: "SOUTH"}, "t3,t2"},
		{"filter on a formatted cell", tableOrder{filter: "45"}, "t1"},
		{"filter and sort", tableOrder{by: 3, filter: "south"}, "t2,t3"},
		{"filter matches nothing", tableOrder{filter: "nowhere"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := keys(rows)
			if got := keys(tt.order.apply(rows, cols, plainLocale{}, now)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if keys(rows) != before {
				t.Fatal("apply reordered the frame's rows")
			}
		})
	}

	var o tableOrder
	for i, want := range []struct {
		by         int
		aria, mark string
	}{{3, "ascending", " ▲"}, {3, "descending", " ▼"}, {0, "none", ""}} {
		o = o.next(2)
		if o.by != want.by || o.ariaSort(2) != want.aria || o.sortMark(2) != want.mark {
			t.Fatalf("click %d: got by %d, %s %q; want by %d, %s %q", i+1, o.by, o.ariaSort(2), o.sortMark(2), want.by, want.aria, want.mark)
		}
	}
	if o = o.next(1).next(2); o.by != 3 || o.desc || o.ariaSort(1) != "none" {
		t.Fatalf("another column: got %+v, want column 3 ascending", o)
	}
}

func TestTilesOf(t *testing.T) {
	p := dashboard.Panel{Kind: dashboard.KindStatus, Field: "state", LabelField: "name",
		ValueMap: map[string]dashboard.Level{"delayed": dashboard.LevelCritical, "on_time": dashboard.LevelOK}}
	rows := []rowView{
		{key: "t2", fields: map[string]any{"name": "Truck 2", "state": "on_time"}},
		{key: "t1", fields: map[string]any{"name": "Truck 1", "state": "delayed"}},
		{key: "t3", fields: map[string]any{"state": "loading"}},
	}
	got := tilesOf(p, rows, plainLocale{}, Format{Decimals: -1}, time.Now())
	want := []tile{
		{key: "t1", label: "Truck 1", text: "delayed", level: dashboard.LevelCritical},
		{key: "t2", label: "Truck 2", text: "on_time", level: dashboard.LevelOK},
		{key: "t3", label: "t3", text: "loading", level: dashboard.LevelNone},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tiles, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tile %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRecordHistory(t *testing.T) {
	bucket := dashboard.Panel{ID: "b", Kind: dashboard.KindStat, Stream: "agg.1", Field: "value", Agg: &agg.Def{Source: "orders", Fn: "count", Window: "1m"}}
	gauge := dashboard.Panel{ID: "g", Kind: dashboard.KindKPI, Stream: "metrics", Field: "queue", CompareSeconds: 60}
	row := dashboard.Panel{ID: "r", Kind: dashboard.KindStat, Stream: "orders", Field: "row.total"}
	s := &Shell{spec: &dashboard.Dashboard{Panels: []dashboard.Panel{bucket, gauge, row}}}
	st := &livestate.Stream{}
	st.State.Points = wire.Points{TS: []int64{0, 60_000, 120_000, 120_000}, Cols: []wire.Column{{Name: "value", Vals: []float64{4, 10, 3, 12}}}}
	streams := map[string]*livestate.Stream{"agg.1": st}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i, q := range []float64{40, 50} {
		v := view{values: map[string]map[string]float64{"metrics": {"queue": q}}, rows: map[string][]rowView{"orders": {{key: "o1", fields: map[string]any{"total": int64(20 + i)}}}}}
		s.recordHistory(&v, streams, t0.Add(time.Duration(i)*time.Minute))
		s.view = v
	}
	if got := s.hist["b"].v; len(got) != 3 || got[1] != 10 || got[2] != 12 {
		t.Fatalf("bucketed stat: got %v, want [4 10 12]: the live bucket held twice is one", got)
	}
	if v, ok := s.valueOf(bucket); !ok || v != 12 {
		t.Fatalf("bucketed stat's value: got %v %v, want the newest bucket, 12", v, ok)
	}
	if before, ok := s.hist["g"].ago(time.Minute); !ok || before != 40 {
		t.Fatalf("gauge a minute back: got %v %v, want 40", before, ok)
	}
	if v, ok := s.valueOf(row); !ok || v != 21 {
		t.Fatalf("row field: got %v %v, want 21", v, ok)
	}
}

package dashboard

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func valid() Dashboard {
	return Dashboard{ID: "ops", Title: "Ops", Panels: []Panel{
		{ID: "k", Kind: KindKPI, Stream: "orders", Field: "orders_today"},
		{ID: "t", Kind: KindTimeSeries, Stream: "metrics", Series: []string{"a"}},
		{ID: "f", Kind: KindTable, Stream: "orders", Columns: []Column{{Field: "id", Title: "ID"}}},
		{ID: "s", Kind: KindStat, Stream: "metrics", Field: "queue"},
		{ID: "g", Kind: KindStatus, Stream: "fleet", Field: "status", ValueMap: map[string]Level{"delayed": LevelCritical}},
	}}
}

func ladder(vs ...float64) []Threshold {
	levels := []Level{LevelOK, LevelWarn, LevelCritical}
	out := make([]Threshold, len(vs))
	for i, v := range vs {
		out[i] = Threshold{Value: v, Level: levels[i%3]}
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*Dashboard)
		wantErr string
	}{
		{"valid", func(*Dashboard) {}, ""},
		{"no id", func(d *Dashboard) { d.ID = "" }, "no id"},
		{"id with a slash", func(d *Dashboard) { d.ID = "ops/night" }, `dashboard id "ops/night": want 1–64 characters of a-z`},
		{"id in capitals", func(d *Dashboard) { d.ID = "Ops" }, `dashboard id "Ops"`},
		{"no panels", func(d *Dashboard) { d.Panels = nil }, "no panels"},
		{"repeated panel id", func(d *Dashboard) { d.Panels[1].ID = "k" }, "repeated id"},
		{"bad stream", func(d *Dashboard) { d.Panels[0].Stream = "a/b" }, "stream name"},
		{"kpi without field", func(d *Dashboard) { d.Panels[0].Field = "" }, "no field"},
		{"series missing", func(d *Dashboard) { d.Panels[1].Series = nil }, "no series"},
		{"table without columns", func(d *Dashboard) { d.Panels[2].Columns = nil }, "no columns"},
		{"unknown kind", func(d *Dashboard) { d.Panels[0].Kind = "pie" }, "unknown kind"},
		{"too wide", func(d *Dashboard) { d.Panels[0].Width = 13 }, "width"},
		{"rows at the maximum", func(d *Dashboard) { d.Panels[2].Rows = MaxRows }, ""},
		{"negative rows", func(d *Dashboard) { d.Panels[2].Rows = -1 }, "keeps -1 rows, want 1–10000"},
		{"too many rows", func(d *Dashboard) { d.Panels[2].Rows = MaxRows + 1 }, "keeps 10001 rows"},
		{"money kpi in euros", func(d *Dashboard) { d.Panels[0].Format, d.Panels[0].Currency = FormatMoney, "EUR" }, ""},
		{"unknown kpi format", func(d *Dashboard) { d.Panels[0].Format = "currency" }, `panel k: unknown format "currency", want one of number, int, money`},
		{"unknown column format", func(d *Dashboard) { d.Panels[2].Columns[0].Format = "currency" }, `column id: unknown format "currency"`},
		{"currency not a code", func(d *Dashboard) { d.Panels[0].Format, d.Panels[0].Currency = FormatMoney, "€" }, "not an ISO 4217 code"},
		{"currency without money", func(d *Dashboard) { d.Panels[2].Columns[0].Currency = "USD" }, `currency USD needs format "money"`},
		{"decimals", func(d *Dashboard) { n := 2; d.Panels[0].Decimals = &n }, ""},
		{"too many decimals", func(d *Dashboard) { n := 11; d.Panels[2].Columns[0].Decimals = &n }, "decimals 11 is outside 0–10"},
		{"label of a series", func(d *Dashboard) { d.Panels[1].Labels = map[string]string{"a": "Alpha"} }, ""},
		{"label of no series", func(d *Dashboard) { d.Panels[1].Labels = map[string]string{"b": "Beta"} }, `labels names "b"`},
		{"column without field", func(d *Dashboard) { d.Panels[2].Columns[0].Field = "" }, "column #1 has no field"},
		{"negative priority", func(d *Dashboard) { d.Panels[2].Columns[0].Priority = -1 }, "priority -1 is negative"},
		{"dashboard sla", func(d *Dashboard) { d.SLA = &SLA{P95Ms: 1000, FreshWithin: "5s", For: "5m"} }, ""},
		{"panel sla", func(d *Dashboard) { d.Panels[0].SLA = &SLA{FreshPct: 99.5, For: "30s"} }, ""},
		{"panel sla only a period under a dashboard target", func(d *Dashboard) { d.SLA, d.Panels[0].SLA = &SLA{P95Ms: 1000}, &SLA{For: "1m"} }, ""},
		{"stat without field", func(d *Dashboard) { d.Panels[3].Field = "" }, "dashboard ops: stat panel s has no field"},
		{"status without field", func(d *Dashboard) { d.Panels[4].Field = "" }, "dashboard ops: status panel g has no field: name the row field its tiles are coloured by"},
		{"status without rules", func(d *Dashboard) { d.Panels[4].ValueMap = nil }, "dashboard ops: panel g: a status panel colours its tiles: give it thresholds or a value_map"},
		{"status by thresholds", func(d *Dashboard) { d.Panels[4].ValueMap, d.Panels[4].Thresholds = nil, ladder(1) }, ""},
		{"bar without agg", func(d *Dashboard) { d.Panels[3].Kind = KindBar }, "dashboard ops: bar panel s has no agg: a bar panel draws the groups of an aggregate with group_by"},
		{"unknown kind lists them all", func(d *Dashboard) { d.Panels[0].Kind = "pie" }, `unknown kind "pie", want one of kpi, timeseries, table, stat, status, bar`},
		{"thresholds ascending", func(d *Dashboard) { d.Panels[0].Thresholds = ladder(1, 2, 3) }, ""},
		{"thresholds below", func(d *Dashboard) { d.Panels[3].Thresholds, d.Panels[3].Direction = ladder(1, 2), DirectionBelow }, ""},
		{"thresholds not ascending", func(d *Dashboard) { d.Panels[0].Thresholds = ladder(5, 5) }, "dashboard ops: panel k: thresholds #2: value 5 is not above the one before it (5): list thresholds by ascending value"},
		{"thresholds descending", func(d *Dashboard) { d.Panels[3].Thresholds = ladder(9, 1) }, "panel s: thresholds #2: value 1 is not above the one before it (9)"},
		{"unknown level", func(d *Dashboard) { d.Panels[0].Thresholds = []Threshold{{1, "red"}} }, `panel k: thresholds #1: unknown level "red", want ok, warn or critical`},
		{"missing level", func(d *Dashboard) { d.Panels[0].Thresholds = []Threshold{{Value: 1}} }, `thresholds #1: unknown level "", want ok, warn or critical`},
		{"unknown direction", func(d *Dashboard) { d.Panels[0].Thresholds, d.Panels[0].Direction = ladder(1), "under" }, `panel k: unknown direction "under", want above (high is bad, the default) or below (low is bad)`},
		{"direction without thresholds", func(d *Dashboard) { d.Panels[0].Direction = DirectionBelow }, "panel k: direction below without thresholds"},
		{"unknown value_map level", func(d *Dashboard) { d.Panels[4].ValueMap["late"] = "bad" }, `panel g: value_map "late": unknown level "bad", want ok, warn or critical`},
		{"thresholds on a chart", func(d *Dashboard) { d.Panels[1].Thresholds = ladder(1) }, "panel t: thresholds: a timeseries panel has none; kpi, stat, status and bar panels and table columns do"},
		{"thresholds on a table", func(d *Dashboard) { d.Panels[2].Thresholds = ladder(1) }, "panel f: thresholds: a table panel has none"},
		{"value_map on a kpi", func(d *Dashboard) { d.Panels[0].ValueMap = map[string]Level{"x": LevelOK} }, "panel k: value_map: a kpi panel has none; status panels and table columns do"},
		{"label_field on a table", func(d *Dashboard) { d.Panels[2].LabelField = "id" }, "panel f: label_field: a table panel has none; status panels do"},
		{"compare on a kpi", func(d *Dashboard) { d.Panels[0].CompareSeconds = 3600 }, ""},
		{"compare on a status", func(d *Dashboard) { d.Panels[4].CompareSeconds = 60 }, "panel g: compare_seconds: a status panel has none; kpi and stat panels do"},
		{"negative compare", func(d *Dashboard) { d.Panels[3].CompareSeconds = -1 }, "panel s: compare_seconds -1 is outside 0–86400 (a day)"},
		{"compare over a day", func(d *Dashboard) { d.Panels[3].CompareSeconds = MaxCompareSeconds + 1 }, "compare_seconds 86401 is outside 0–86400"},
		{"column thresholds", func(d *Dashboard) { d.Panels[2].Columns[0].Thresholds = ladder(1, 2) }, ""},
		{"column thresholds not ascending", func(d *Dashboard) { d.Panels[2].Columns[0].Thresholds = ladder(2, 1) }, "panel f: column id: thresholds #2: value 1 is not above the one before it (2)"},
		{"column value_map level", func(d *Dashboard) { d.Panels[2].Columns[0].ValueMap = map[string]Level{"late": "red"} }, `panel f: column id: value_map "late": unknown level "red"`},
		{"column direction alone", func(d *Dashboard) { d.Panels[2].Columns[0].Direction = DirectionAbove }, "panel f: column id: direction above without thresholds"},
		{"relative column", func(d *Dashboard) { d.Panels[2].Columns[0].Format = FormatRelative }, ""},
		{"duration column", func(d *Dashboard) { d.Panels[2].Columns[0].Format = FormatDuration }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.mutate(&d)
			err := d.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeepRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rows int
		want int
	}{
		{"zero means the default", 0, DefaultRows},
		{"set", 1000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Panel{Kind: KindTable, Rows: tt.rows}).KeepRows(); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
	var d Dashboard
	if err := json.Unmarshal([]byte(`{"id":"x","panels":[{"id":"f","kind":"table","stream":"s","rows":500,"columns":[{"field":"a","title":"A"}]}]}`), &d); err != nil || d.Panels[0].Rows != 500 {
		t.Fatalf("got %+v %v, want rows 500 from JSON", d.Panels, err)
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	d := valid()
	got := strings.Join(d.Streams(), ",")
	if want := "orders,metrics,fleet"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	one := `{"id":"x","panels":[{"id":"k","kind":"kpi","stream":"s","field":"row.total"}]}`
	if ds, err := Parse([]byte(one)); err != nil || len(ds) != 1 || ds[0].Panels[0].Field != "row.total" {
		t.Fatalf("one: got %+v %v", ds, err)
	}
	if ds, err := Parse([]byte("[" + one + "," + strings.Replace(one, `"x"`, `"y"`, 1) + "]")); err != nil || len(ds) != 2 {
		t.Fatalf("array: got %d %v, want 2", len(ds), err)
	}
	for _, bad := range []string{``, `[]`, `{"id":"x"}`, `{"id":`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Fatalf("%q: got nil, want an error", bad)
		}
	}
}

func TestRulesLevel(t *testing.T) {
	t.Parallel()
	above := Rules{Thresholds: []Threshold{{50, LevelWarn}, {90, LevelCritical}}}
	below := Rules{Thresholds: []Threshold{{5, LevelCritical}, {20, LevelWarn}, {100, LevelOK}}, Direction: DirectionBelow}
	nan := 0.0
	nan /= nan
	tests := []struct {
		name  string
		rules Rules
		v     float64
		want  Level
	}{
		{"above: under the first", above, 10, LevelNone},
		{"above: at a threshold", above, 50, LevelWarn},
		{"above: between", above, 89.9, LevelWarn},
		{"above: at the top", above, 90, LevelCritical},
		{"above: past the top", above, 1e9, LevelCritical},
		{"explicit above", Rules{Thresholds: above.Thresholds, Direction: DirectionAbove}, 95, LevelCritical},
		{"below: under the first", below, 1, LevelCritical},
		{"below: at a threshold", below, 5, LevelCritical},
		{"below: between", below, 12, LevelWarn},
		{"below: last step", below, 60, LevelOK},
		{"below: past the last", below, 101, LevelNone},
		{"no thresholds", Rules{}, 5, LevelNone},
		{"NaN", above, nan, LevelNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Number(tt.v); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	vm := Rules{ValueMap: map[string]Level{"delayed": LevelCritical, "on_time": LevelOK}}
	if got := vm.Text("delayed"); got != LevelCritical {
		t.Fatalf("delayed: got %q, want critical", got)
	}
	if got := vm.Text("loading"); got != LevelNone {
		t.Fatalf("loading: got %q, want none", got)
	}
}

func TestRulesDescribe(t *testing.T) {
	t.Parallel()
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	tests := []struct {
		name  string
		rules Rules
		want  string
	}{
		{"above, most urgent first", Rules{Thresholds: []Threshold{{50, LevelWarn}, {90, LevelCritical}}}, "critical ≥ 90 · warn ≥ 50"},
		{"below", Rules{Thresholds: []Threshold{{5, LevelCritical}, {20, LevelWarn}}, Direction: DirectionBelow}, "critical ≤ 5 · warn ≤ 20"},
		{"value map, sorted", Rules{ValueMap: map[string]Level{"on_time": LevelOK, "delayed": LevelCritical}}, "delayed: critical · on_time: ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.Describe(num); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A panel's sla overrides its dashboard's field by field; a panel of a
// dashboard without one has none.
func TestPanelSLA(t *testing.T) {
	t.Parallel()
	d := valid()
	if _, ok := d.PanelSLA(&d.Panels[0]); ok {
		t.Fatal("a panel of a dashboard without sla has a target")
	}
	d.SLA = &SLA{P95Ms: 1000, For: "10m"}
	d.Panels[1].SLA = &SLA{P95Ms: 3000, FreshWithin: "5s"}
	if got, ok := d.PanelSLA(&d.Panels[0]); !ok || got != (SLA{P95Ms: 1000, For: "10m"}) {
		t.Errorf("panel without its own sla: got %+v %v, want the dashboard's", got, ok)
	}
	got, ok := d.PanelSLA(&d.Panels[1])
	if want := (SLA{P95Ms: 3000, FreshWithin: "5s", For: "10m"}); !ok || got != want {
		t.Errorf("panel with its own sla: got %+v %v, want %+v", got, ok, want)
	}
	if got.Window() != 10*time.Minute || got.Within() != 5*time.Second {
		t.Errorf("window %v within %v, want 10m and 5s", got.Window(), got.Within())
	}
	if w := (SLA{P95Ms: 1}).Window(); w != DefaultSLAFor {
		t.Errorf("window without for: %v, want %v", w, DefaultSLAFor)
	}
}

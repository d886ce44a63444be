//go:build !js

package dashboard

import (
	"errors"
	"strings"
	"testing"

	"github.com/telltale/telltale/shared/agg"
)

func TestParseResolvesAggregates(t *testing.T) {
	t.Parallel()
	ds, err := Parse([]byte(aggFile))
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	want, _ := agg.Compile(agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "today"})
	p := d.Panels[0]
	if p.Stream != want.Stream() || p.Field != agg.Value {
		t.Errorf("kpi: got stream %q field %q, want %q %q", p.Stream, p.Field, want.Stream(), agg.Value)
	}
	if got := d.Panels[1].Series; len(got) != 1 || got[0] != agg.Value {
		t.Errorf("timeseries without group_by: got series %q, want [value]", got)
	}
	if got := d.Panels[2].Series; len(got) != 2 {
		t.Errorf("grouped timeseries: got series %q, want its own", got)
	}
	if d.Panels[4].Stream != p.Stream {
		t.Errorf("one aggregate written twice is two streams: %s, %s", p.Stream, d.Panels[4].Stream)
	}
	specs := d.Aggregates()
	if len(specs) != 4 {
		t.Fatalf("got %d aggregates, want 4 (one shared by two panels)", len(specs))
	}
	for i, s := range specs {
		if s.Stream() != d.Panels[i].Stream {
			t.Errorf("aggregate %d is %s, want panel %s's %s", i, s.Stream(), d.Panels[i].ID, d.Panels[i].Stream)
		}
	}
	if got := d.Streams(); len(got) != 4 || !agg.Derived(got[0]) {
		t.Errorf("Streams: got %q, want the 4 derived streams", got)
	}
	// Resolving again (the server does, on a spec it built or read) is a no-op.
	before := d.Panels[0]
	if err := d.Resolve(); err != nil || d.Panels[0].Stream != before.Stream {
		t.Fatalf("second Resolve: %v, stream %s", err, d.Panels[0].Stream)
	}
}

func TestParseAggMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new, wantErr string
	}{
		{"bad window", `"window": "today"}}`, `"window": "5x"}}`,
			`4:47: dashboard orders-desk: panel rev-today: window "5x" is not a duration`},
		{"misspelt key", `"field": "total", "window": "today"}}`, `"feild": "total", "window": "today"}}`,
			`4:81: dashboard orders-desk: panel rev-today: agg: unknown key "feild" (did you mean "field"?)`},
		{"key nothing is close to", `"group_by": "status"`, `"group_by": "status", "having": 3`,
			`8:71: dashboard orders-desk: panel open: agg: unknown key "having" (an aggregate's keys are source, fn, field, filter, group_by, top, window, tz, emit_ms)`},
		{"stream and agg", `{"id": "per-min", "kind": "timeseries",`, `{"id": "per-min", "kind": "timeseries", "stream": "orders",`,
			`5:5: dashboard orders-desk: panel per-min names stream "orders" and an aggregate`},
		{"kpi of buckets", `"window": "today"}}`, `"window": "1m"}}`,
			`4:47: dashboard orders-desk: panel rev-today: window "1m": a kpi shows one value`},
		{"kpi of another field", `{"id": "rev-today", "kind": "kpi",`, `{"id": "rev-today", "kind": "kpi", "field": "total",`,
			`4:65: dashboard orders-desk: panel rev-today: field "total": a kpi of an aggregate shows its "value"`},
		{"timeseries of a gauge", `"fn": "count", "window": "1m"}`, `"fn": "count", "window": "last 1m"}`,
			`5:52: dashboard orders-desk: panel per-min: window "last 1m": a timeseries draws buckets`},
		{"timeseries of other series", `{"id": "per-min", "kind": "timeseries",`, `{"id": "per-min", "kind": "timeseries", "series": ["n"],`,
			`5:69: dashboard orders-desk: panel per-min: series ["n"]: an aggregate without group_by is one series`},
		{"table without groups", `"group_by": "status", "window": "current"`, `"window": "current"`,
			`8:13: dashboard orders-desk: panel open: a table of an aggregate lists its groups`},
		{"table of another column", `{"field": "value"}`, `{"field": "total"}`,
			`8:13: dashboard orders-desk: panel open: column total: an aggregate's rows have the fields key`},
		{"unknown fn", `"fn": "count", "window": "1m"}`, `"fn": "median", "window": "1m"}`,
			`5:52: dashboard orders-desk: panel per-min: fn "median" is not one of count`},
		{"derived source", `"source": "orders", "fn": "count", "window": "1m"`, `"source": "agg.0011223344556677", "fn": "count", "window": "1m"`,
			`5:52: dashboard orders-desk: panel per-min: source "agg.0011223344556677" is a derived stream`},
		{"bad filter", `"fn": "count", "window": "1m"}`, `"fn": "count", "filter": "total >> 3", "window": "1m"}`,
			`5:52: dashboard orders-desk: panel per-min: filter "total >> 3": total >: want a value`},
		{"top as a string", `"group_by": "region",`, `"group_by": "region", "top": "5",`,
			`6:146: dashboard orders-desk: panel by-region: agg.top: want a whole number, got the string "5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(aggFile, tt.old) {
				t.Fatalf("aggFile lacks %q", tt.old)
			}
			_, err := Parse([]byte(strings.Replace(aggFile, tt.old, tt.new, 1)))
			if err == nil {
				t.Fatalf("got nil, want %s", tt.wantErr)
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.wantErr) {
				t.Fatalf("got  %s\nwant %s", got, tt.wantErr)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %T, want an *Error", err)
			}
		})
	}
}

// TestValidateAggregates: specs built in Go go through Resolve too.
func TestValidateAggregates(t *testing.T) {
	t.Parallel()
	d := Dashboard{ID: "x", Panels: []Panel{{ID: "k", Kind: KindKPI, Agg: &agg.Def{Source: "orders", Fn: "count", Window: "last 5m"}}}}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "Resolve sets it") {
		t.Fatalf("unresolved: got %v, want an error saying Resolve sets the stream", err)
	}
	if err := d.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("resolved: got %v, want nil", err)
	}
	d.Panels[0].Agg.Window = "last 1h"
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "not its aggregate's") {
		t.Fatalf("changed after Resolve: got %v, want an error", err)
	}
	raw := Dashboard{ID: "y", Panels: []Panel{{ID: "k", Kind: KindKPI, Stream: d.Panels[0].Stream, Field: "value"}}}
	if err := raw.Validate(); err == nil || !strings.Contains(err.Error(), "is a derived stream") {
		t.Fatalf("derived stream without agg: got %v, want an error", err)
	}
}

// TestGroupedPanelsThePageDraws: a kpi over a grouped gauge window (the page
// lists its groups ranked) and a grouped time series without series (the
// page plots every group) are valid; a raw time series still needs series.
func TestGroupedPanelsThePageDraws(t *testing.T) {
	t.Parallel()
	d := Dashboard{ID: "x", Panels: []Panel{
		{ID: "open", Kind: KindKPI, Agg: &agg.Def{Source: "orders", Fn: "count", GroupBy: "status", Window: "current"}},
		{ID: "per-min", Kind: KindTimeSeries, Agg: &agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1m"}},
	}}
	if err := d.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got := d.Panels[1].Series; len(got) != 0 {
		t.Fatalf("grouped timeseries: Resolve gave series %q, want none (every group)", got)
	}
	// Its labels may name any group: they are not known in advance.
	d.Panels[1].Labels = map[string]string{"eu": "Europe"}
	if err := d.Validate(); err != nil {
		t.Fatalf("labels of a chart of every group: got %v, want nil", err)
	}
	d.Panels[1].Series = []string{"us"}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "labels names") {
		t.Fatalf("labels outside listed series: got %v, want an error", err)
	}
	raw := Dashboard{ID: "y", Panels: []Panel{{ID: "c", Kind: KindTimeSeries, Stream: "orders"}}}
	if err := raw.Validate(); err == nil || !strings.Contains(err.Error(), "has no series") {
		t.Fatalf("raw timeseries without series: got %v, want an error", err)
	}
}

// TestAggregatesOfTheNewKinds: what a stat, status or bar panel over an
// aggregate may show, and what it says when it cannot.
func TestAggregatesOfTheNewKinds(t *testing.T) {
	t.Parallel()
	panel := func(kind, def, extra string) string {
		return `{"id": "d", "panels": [{"id": "p", "kind": "` + kind + `", "agg": ` + def + extra + `}]}`
	}
	const (
		bucket  = `{"source": "orders", "fn": "count", "window": "1m"}`
		gauge   = `{"source": "orders", "fn": "sum", "field": "total", "window": "today"}`
		groups  = `{"source": "orders", "fn": "count", "group_by": "region", "window": "current"}`
		buckets = `{"source": "orders", "fn": "count", "group_by": "region", "window": "1m"}`
		rules   = `, "thresholds": [{"value": 10, "level": "warn"}]`
	)
	tests := []struct {
		name, file, wantErr string
	}{
		{"stat of a bucket", panel("stat", bucket, ""), ""},
		{"stat of a gauge", panel("stat", gauge, `, "compare_seconds": 3600`), ""},
		{"stat of groups", panel("stat", groups, ""), `dashboard d: panel p: group_by "region": a stat shows one value: leave group_by out (a bar or status panel shows groups)`},
		{"stat naming another field", panel("stat", gauge, `, "field": "total"`), `dashboard d: panel p: field "total": a stat of an aggregate shows its "value" (leave field out)`},
		{"bar of groups", panel("bar", groups, rules), ""},
		{"bar of buckets", panel("bar", buckets, ""), `dashboard d: panel p: a bar panel of an aggregate shows its groups: want group_by and a gauge window ("last 5m", "today", "this hour", "current")`},
		{"bar without groups", panel("bar", gauge, ""), `a bar panel of an aggregate shows its groups`},
		{"status of groups", panel("status", groups, rules), ""},
		{"status of one value", panel("status", gauge, rules), `dashboard d: panel p: a status panel of an aggregate shows its groups`},
		{"status of groups without rules", panel("status", groups, ""), `dashboard d: panel p: a status panel colours its tiles: give it thresholds or a value_map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Parse([]byte(tt.file))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				if ds[0].Panels[0].Field != agg.Value {
					t.Fatalf("field %q, want %q (Resolve fills it in)", ds[0].Panels[0].Field, agg.Value)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

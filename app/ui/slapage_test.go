package ui

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/sla"
)

func TestSLAQuery(t *testing.T) {
	tests := []struct {
		name, query    string
		dashboard, per string
		page, api      string
	}{
		{"nothing: whole tenant, last hour", "", "", "1h", "/sla", "/api/v1/sla?from=-1h"},
		{"a dashboard", "dashboard=orders", "orders", "1h", "/sla?dashboard=orders", "/api/v1/sla?from=-1h&dashboard=orders"},
		{"a week", "dashboard=orders&period=7d", "orders", "7d", "/sla?dashboard=orders&period=7d", "/api/v1/sla?from=-7d&dashboard=orders"},
		{"a day, whole tenant", "period=24h", "", "24h", "/sla?period=24h", "/api/v1/sla?from=-24h"},
		{"unknown period is the default", "period=1y&dashboard=a%20b", "a b", "1h", "/sla?dashboard=a+b", "/api/v1/sla?from=-1h&dashboard=a+b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			q := slaQueryOf(v)
			if q.dashboard != tt.dashboard || q.period().key != tt.per {
				t.Fatalf("got dashboard %q period %q, want %q %q", q.dashboard, q.period().key, tt.dashboard, tt.per)
			}
			if got := q.page(); got != tt.page {
				t.Errorf("page: got %q, want %q", got, tt.page)
			}
			if got := q.api(); got != tt.api {
				t.Errorf("api: got %q, want %q", got, tt.api)
			}
			u, _ := url.Parse(q.page())
			if back := slaQueryOf(u.Query()); back != q {
				t.Errorf("page %q reads back as %+v, want %+v", q.page(), back, q)
			}
		})
	}
}

func TestSLAViewEmpty(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.Local)
	tests := []struct {
		name string
		a    *sla.Answer
		q    string
		want []string
	}{
		{"no answer", nil, "dashboard=orders", []string{"No page has reported for this dashboard in the last hour", "every 10 s"}},
		{"no panels, whole tenant, a week", &sla.Answer{}, "period=7d", []string{"No page has reported for any dashboard in the last 7 days"}},
		{"panels that painted nothing and were never fresh", &sla.Answer{Screens: 0, Panels: []sla.PanelSLA{{Dashboard: "d", Panel: "p"}}}, "dashboard=d&period=24h",
			[]string{"for this dashboard in the last 24 hours"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qv, _ := url.ParseQuery(tt.q)
			v := slaViewOf(tt.a, slaQueryOf(qv), plainLocale{}, now)
			if len(v.panels) != 0 {
				t.Fatalf("got %d panels, want none", len(v.panels))
			}
			for _, w := range tt.want {
				if !strings.Contains(v.empty, w) {
					t.Errorf("empty state %q does not say %q", v.empty, w)
				}
			}
			if v.screens != "0 screens reported" {
				t.Errorf("screens: got %q, want %q", v.screens, "0 screens reported")
			}
		})
	}
}

func TestSLAViewPanel(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.Local)
	min0 := now.Add(-10 * time.Minute).Truncate(time.Minute)
	a := &sla.Answer{
		Screens:          1204,
		RelativeAccuracy: 0.01,
		Panels: []sla.PanelSLA{{
			Dashboard: "orders", Panel: "latest", Painted: 12345,
			P50Ms: 120, P95Ms: 480.4, P99Ms: 1234, FreshPct: 97.26,
			Stages: []sla.StageSLA{
				{Stage: sla.StageTotal, Count: 10, P95Ms: 480, ShareOfTotalPct: 100},
				{Stage: sla.StageNetwork, Count: 10, P95Ms: 410, ShareOfTotalPct: 82.4},
				{Stage: sla.StageDatabase, Count: 10, P95Ms: 3, ShareOfTotalPct: 0.6},
				{Stage: sla.StageHub, Count: 0, P95Ms: 0, ShareOfTotalPct: 0}, // not measured
				{Stage: sla.StagePaint, Count: 10, P95Ms: 30, ShareOfTotalPct: 130},
			},
			Stale: []sla.StaleSLA{ // oldest first, as the server sends them
				{Start: now.Add(-26 * time.Hour), Ms: 900, Cause: "<gremlins>", Screens: 1},
				{Start: now.Add(-9 * time.Minute), Ms: 4200, Cause: sla.CauseSilent, Screens: 1},
				{Start: now.Add(-2 * time.Minute), Ms: 65_000, Cause: sla.CauseDisconnect, Screens: 3},
			},
			Minutes: []sla.MinuteSLA{
				{Minute: min0, Painted: 10, P95Ms: 400, P99Ms: 900},
				{Minute: min0.Add(time.Minute), Painted: 0}, // nothing painted: no point
				{Minute: min0.Add(4 * time.Minute), Painted: 5, P95Ms: 500, P99Ms: 1000},
				{Minute: min0.Add(5 * time.Minute), Painted: 5, P95Ms: 450, P99Ms: 800},
			},
		}},
	}
	one := func(q string) slaPanelView {
		qv, _ := url.ParseQuery(q)
		v := slaViewOf(a, slaQueryOf(qv), plainLocale{}, now)
		if v.empty != "" || len(v.panels) != 1 {
			t.Fatalf("got empty %q and %d panels, want one panel", v.empty, len(v.panels))
		}
		if v.screens != "1,204 screens reported" || v.accuracy != "quantiles within ±1%" {
			t.Errorf("got %q, %q", v.screens, v.accuracy)
		}
		return v.panels[0]
	}
	p := one("dashboard=orders")
	if p.title != "latest" || p.key != "orders/latest" {
		t.Errorf("title %q key %q, want latest, orders/latest", p.title, p.key)
	}
	if whole := one(""); whole.title != "orders · latest" {
		t.Errorf("whole tenant title: got %q, want %q", whole.title, "orders · latest")
	}
	for _, c := range [][2]string{
		{p.p50, "120 ms"}, {p.p95, "480 ms"}, {p.p99, "1.2 s"},
		{p.fresh, "97.3%"}, {p.level, "warn"}, {p.painted, "12,345 events painted"},
	} {
		if c[0] != c[1] {
			t.Errorf("got %q, want %q", c[0], c[1])
		}
	}

	// Stages: path order, no total, none unmeasured, shares clamped to 100.
	var stages []string
	for _, s := range p.stages {
		stages = append(stages, s.stage+"|"+s.label+"|"+s.text)
	}
	want := []string{
		"database|database|1% · p95 3 ms",
		"network|network|82% · p95 410 ms",
		"paint|page: paint|100% · p95 30 ms",
	}
	if !slices.Equal(stages, want) {
		t.Errorf("stages:\n got %q\nwant %q", stages, want)
	}
	if p.stages[2].share != 100 {
		t.Errorf("a share over 100 drew %v%% of the bar", p.stages[2].share)
	}

	// Stale periods: newest first; causes in words; screens when several;
	// the date only when not today.
	var stale []string
	for _, s := range p.stale {
		stale = append(stale, s.start+"|"+s.length+"|"+s.cause+"|"+s.screens)
	}
	wantStale := []string{
		"11:58:00|1m 05s|connection lost|on 3 screens",
		"11:51:00|4.2 s|stream silent|",
		now.Add(-26*time.Hour).Format("2006-01-02") + " 10:00:00|900 ms|&lt;gremlins&gt;|",
	}
	if !slices.Equal(stale, wantStale) {
		t.Errorf("stale:\n got %q\nwant %q", stale, wantStale)
	}
	if p.moreStale != 0 {
		t.Errorf("moreStale: got %d, want 0", p.moreStale)
	}

	// The chart: minutes that painted, a NaN breaking the line over the gap.
	m := min0.UnixMilli()
	wantTS := []int64{m, m + 60_000, m + 4*60_000, m + 5*60_000}
	if !slices.Equal(p.ts, wantTS) || !p.hasChart {
		t.Fatalf("ts: got %v, want %v", p.ts, wantTS)
	}
	if p.p95s[0] != 400 || !math.IsNaN(p.p95s[1]) || p.p95s[2] != 500 || p.p99s[3] != 800 || !math.IsNaN(p.p99s[1]) {
		t.Errorf("p95 %v p99 %v: want a NaN at the gap and the minutes' values", p.p95s, p.p99s)
	}
}

func TestSLAFreshLevel(t *testing.T) {
	tests := []struct {
		name  string
		pct   float64
		level string
		text  string
	}{
		{"all fresh", 100, "ok", "100.0%"},
		{"at the ok line", 99, "ok", "99.0%"},
		{"just under", 98.96, "warn", "99.0%"},
		{"at the warn line", 95, "warn", "95.0%"},
		{"critical", 42.04, "critical", "42.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := slaPanelOf(sla.PanelSLA{Panel: "p", Painted: 1, FreshPct: tt.pct}, false, plainLocale{}, time.Now())
			if p.level != tt.level || p.fresh != tt.text {
				t.Fatalf("got %q %q, want %q %q", p.level, p.fresh, tt.level, tt.text)
			}
			if p.painted != "1 event painted" || p.p95 != "—" || p.hasChart {
				t.Fatalf("got painted %q p95 %q chart %v, want one event, no p95, no chart", p.painted, p.p95, p.hasChart)
			}
		})
	}
}

// A long list of stale periods shows the newest slaStaleShown and counts
// the rest.
func TestSLAStaleCapped(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.Local)
	var in []sla.StaleSLA
	for i := range 500 {
		in = append(in, sla.StaleSLA{Start: now.Add(time.Duration(i-500) * time.Minute), Ms: int64(i), Cause: sla.CauseSilent})
	}
	out, more := staleOf(in, plainLocale{}, now)
	if len(out) != slaStaleShown || more != 500-slaStaleShown {
		t.Fatalf("got %d shown and %d more, want %d and %d", len(out), more, slaStaleShown, 500-slaStaleShown)
	}
	if out[0].length != "499 ms" || out[0].start != "11:59:00" {
		t.Fatalf("first shown: got %+v, want the newest (499 ms at 11:59:00)", out[0])
	}
}

// Over a long period a point is several minutes (the server's step): the
// line breaks only where a step is missing.
func TestSLAMinutesStep(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var in []sla.MinuteSLA
	for _, m := range []int{0, 10, 20, 50} {
		in = append(in, sla.MinuteSLA{Minute: t0.Add(time.Duration(m) * time.Minute), Painted: 1, P95Ms: 1, P99Ms: 2})
	}
	ts, p95, _ := minutesOf(in)
	var got []string
	for i := range ts {
		got = append(got, time.UnixMilli(ts[i]).UTC().Format("15:04")+"="+strconv.FormatFloat(p95[i], 'g', -1, 64))
	}
	want := []string{"00:00=1", "00:10=1", "00:20=1", "00:30=NaN", "00:50=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

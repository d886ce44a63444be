package ui

import (
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func TestLiteHint(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		stored      string
		narrowTouch bool
		on, off     bool
		why         string
	}{
		{name: "a desktop", query: ""},
		{name: "asked", query: "?lite=1", on: true, why: liteAsked},
		{name: "asked among others", query: "?x=2&lite=true", on: true, why: liteAsked},
		{name: "a phone", narrowTouch: true, on: true, why: liteNarrow},
		{name: "switched earlier in the session", stored: liteFrames, on: true, why: liteFrames},
		{name: "refused on a phone", query: "?lite=0", narrowTouch: true, stored: liteResyncs, off: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on, off, why := liteHint(tt.query, tt.stored, tt.narrowTouch)
			if on != tt.on || off != tt.off || why != tt.why {
				t.Fatalf("got on %v off %v why %q, want %v %v %q", on, off, why, tt.on, tt.off, tt.why)
			}
		})
	}
}

func TestLiteSpec(t *testing.T) {
	spec := &dashboard.Dashboard{ID: "d", Panels: []dashboard.Panel{
		{ID: "p0", Kind: dashboard.KindTimeSeries, Stream: "r0", Series: []string{"s0"}, WindowSeconds: 160},
		{ID: "p1", Kind: dashboard.KindTimeSeries, Stream: "r1"}, // 60 s
		{ID: "k", Kind: dashboard.KindKPI, Stream: "r0", Field: "v"},
		{ID: "a", Kind: dashboard.KindTimeSeries, Stream: "agg.0123456789abcdef", Agg: &agg.Def{Source: "orders", Fn: "count", Window: "1m"}},
		{ID: "m", Kind: dashboard.KindTimeSeries, Stream: "m4.500.r0"},
		{ID: "long", Kind: dashboard.KindTimeSeries, Stream: "a-stream-name-long-enough-that-its-m4-name-is-past-64-bytes"},
	}}
	out, buckets := liteSpec(spec, 375)
	want := map[string]string{"p0": "m4.500.r0", "p1": "m4.200.r1", "k": "r0", "a": "agg.0123456789abcdef", "m": "m4.500.r0",
		"long": "a-stream-name-long-enough-that-its-m4-name-is-past-64-bytes"}
	for _, p := range out.Panels {
		if p.Stream != want[p.ID] {
			t.Fatalf("panel %s: got stream %q, want %q", p.ID, p.Stream, want[p.ID])
		}
	}
	if len(buckets) != 2 || buckets["p0"] != 500*time.Millisecond || buckets["p1"] != 200*time.Millisecond {
		t.Fatalf("got buckets %v, want p0 500ms and p1 200ms", buckets)
	}
	if spec.Panels[0].Stream != "r0" {
		t.Fatal("liteSpec changed the spec it was given")
	}
	// The page subscribes the m4 streams, and the KPI's raw stream.
	if got := out.Streams(); !contains(got, "m4.500.r0") || !contains(got, "m4.200.r1") || !contains(got, "r0") || contains(got, "r1") {
		t.Fatalf("got streams %v", got)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestLiteBehind(t *testing.T) {
	t0 := time.Unix(1000, 0)
	fresh := func() *lite {
		return &lite{started: t0, buckets: map[string]time.Duration{"p": time.Second}}
	}
	slow, fast := 80*time.Millisecond, 10*time.Millisecond

	l := fresh()
	if why := l.behind(client.Info{LastResync: "r0: slow consumer: backlog over the connection's limit"}, fast, t0); why != liteResyncs {
		t.Fatalf("got %q after a slow-consumer resync, want %q", why, liteResyncs)
	}
	l = fresh()
	if why := l.behind(client.Info{LastResync: "r0: stream restarted"}, fast, t0); why != "" {
		t.Fatalf("got %q after a restart's resync, want none", why)
	}
	// Slow frames count only after the grace period, and only when most of
	// a window of frames is slow.
	l = fresh()
	for range 3 * keepUpFrames {
		if why := l.behind(client.Info{}, slow, t0.Add(liteGrace/2)); why != "" {
			t.Fatalf("got %q within the grace period", why)
		}
	}
	later := t0.Add(liteGrace + time.Second)
	l = fresh()
	for i := range 10 * keepUpFrames {
		d := fast
		if i%3 == 0 { // a third of the frames slow: it keeps up
			d = slow
		}
		if why := l.behind(client.Info{}, d, later); why != "" {
			t.Fatalf("frame %d: got %q with a third of the frames slow", i, why)
		}
	}
	got := ""
	for i := 0; i < keepUpFrames && got == ""; i++ {
		got = l.behind(client.Info{}, slow, later)
	}
	if got != liteFrames {
		t.Fatalf("got %q after %d slow frames in a row, want %q", got, keepUpFrames, liteFrames)
	}
	// A lite page, a page refusing it (?lite=0) and a page with nothing to
	// follow as m4 never switch.
	for _, l := range []*lite{{on: true, started: t0, buckets: map[string]time.Duration{"p": time.Second}}, {off: true, started: t0, buckets: map[string]time.Duration{"p": time.Second}}, {started: t0}} {
		if why := l.behind(client.Info{LastResync: "slow consumer"}, slow, later); why != "" {
			t.Fatalf("%+v: got %q, want no switch", l, why)
		}
	}
}

func TestLiteNote(t *testing.T) {
	s := &Shell{lite: lite{on: true, why: liteNarrow, buckets: map[string]time.Duration{"p": 500 * time.Millisecond}}}
	if s.liteNote(dashboard.Panel{ID: "q"}) != nil {
		t.Fatal("a note on a panel that follows its raw stream")
	}
	if s.liteNote(dashboard.Panel{ID: "p"}) == nil {
		t.Fatal("no note on a lite panel")
	}
	s.lite.on = false
	if s.liteNote(dashboard.Panel{ID: "p"}) != nil {
		t.Fatal("a note on a page that is not lite")
	}
	for b, want := range map[time.Duration]string{10 * time.Millisecond: "10 ms", 2 * time.Second: "2 s", 5 * time.Minute: "5 min", 24 * time.Hour: "24 h"} {
		if got := formatBucket(b); got != want {
			t.Fatalf("formatBucket(%v): got %q, want %q", b, got, want)
		}
	}
}

// TestLiteChartDrawsUpserts: a lite panel's chart draws its m4 stream's
// rows as they are, so a bucket replaced in place (the newest updating, or
// a late one) is redrawn with its new values; the incremental columns of
// raw streams read only rows appended after their newest column.
func TestLiteChartDrawsUpserts(t *testing.T) {
	charts := &fakeCharts{width: 300, hidden: map[string]bool{}, lengths: map[string]int{}, ranges: map[string]Range{}, ts: map[string][]int64{}, cols: map[string][][]float64{}}
	spec := &dashboard.Dashboard{ID: "d", Panels: []dashboard.Panel{{ID: "p", Kind: dashboard.KindTimeSeries, Stream: "m4.1000.r0", Series: []string{"v"}, WindowSeconds: 300}}}
	st := &livestate.Stream{Name: "m4.1000.r0", Epoch: 1}
	s := &Shell{spec: spec, bridges: Bridges{Charts: charts}}
	apply := func(ts []int64, vals ...float64) {
		t.Helper()
		ev := &wire.Event{Epoch: 1, Seq: st.Seq + 1, Points: &wire.Points{Upsert: true, TS: ts, Cols: []wire.Column{{Name: "v", Vals: vals}}}}
		if _, err := st.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	const t0 = int64(1_700_000_000_000)
	for b := range int64(200) {
		s0 := t0 + b*1000
		apply([]int64{s0, s0 + 333, s0 + 666, s0 + 999}, 1, 0, 2, 1)
	}
	streams := map[string]*livestate.Stream{st.Name: st}
	now := time.Unix(0, 0)
	s.drawCharts(streams, 0, now, func() time.Time { return now })
	if got := charts.lengths["chart-p"]; got != 800 {
		t.Fatalf("got %d rows drawn, want the 800 rows of 200 buckets", got)
	}
	// A late bucket, 100 buckets back, gets a new peak.
	late := t0 + 100*1000
	apply([]int64{late, late + 333, late + 666, late + 999}, 1, 0, 99, 1)
	now = now.Add(time.Second)
	s.drawCharts(streams, 0, now, func() time.Time { return now })
	ts, col := charts.ts["chart-p"], charts.cols["chart-p"][0]
	found := false
	for i := range ts {
		if ts[i] == late+666 && col[i] == 99 {
			found = true
		}
	}
	if !found || len(ts) != 800 {
		t.Fatalf("the late bucket's peak 99 is not drawn (%d rows)", len(ts))
	}
}

// TestLiteChartPacing: a lite chart is drawn at most once a bucket (and a
// second), and
// one device pixel wide; a raw chart as before.
func TestLiteChartPacing(t *testing.T) {
	raw := dashboard.Panel{ID: "p", Kind: dashboard.KindTimeSeries, Stream: "r0", WindowSeconds: 160}
	lite := raw
	lite.Stream = "m4.500.r0"
	if got := interval(raw, 343); got != maxChartInterval-frameSlack {
		t.Fatalf("raw chart: got interval %v, want %v", got, maxChartInterval-frameSlack)
	}
	if got := interval(lite, 343); got != liteChartInterval-frameSlack {
		t.Fatalf("lite chart: got interval %v, want %v less the slack", got, liteChartInterval)
	}
	lite.Stream, lite.WindowSeconds = "m4.5000.r0", 3600
	if got := interval(lite, 720); got != 5*time.Second-frameSlack {
		t.Fatalf("lite chart of 5 s buckets: got interval %v, want a bucket less the slack", got)
	}
	if chartSpec(raw).Hairline || !chartSpec(lite).Hairline {
		t.Fatalf("got hairline %v for raw and %v for lite, want false and true", chartSpec(raw).Hairline, chartSpec(lite).Hairline)
	}
}

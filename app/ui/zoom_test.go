package ui

import (
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestZoomRedecimatesTheRangeFromThePagesTable(t *testing.T) {
	r := newChartRig(1)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	pts := r.streams["s0"].State.Points
	from, to := pts.TS[2000], pts.TS[2600] // 600 points, 3.6 s
	r.shell.setZoom("p0", Range{from, to})
	drawn, _ := r.frame(t0.Add(time.Millisecond), 0)
	if len(drawn) != 1 || r.charts.ranges["chart-p0"] != (Range{from, to}) {
		t.Fatalf("a zoom drew %v with range %+v, want the chart at once with [%d, %d]", drawn, r.charts.ranges["chart-p0"], from, to)
	}
	got := r.charts.ts["chart-p0"]
	if len(got) == 0 || len(got) > 5*(r.charts.width+1) {
		t.Fatalf("%d rows for %d pixels", len(got), r.charts.width)
	}
	// Columns are aligned to absolute time: the first may start up to a
	// column before the range (the chart clips it).
	span := (to - from + int64(r.charts.width) - 1) / int64(r.charts.width)
	for _, ts := range got {
		if ts < from-span || ts > to {
			t.Fatalf("row at %d outside the zoom [%d, %d]", ts, from, to)
		}
	}
	// 601 points over 500 pixels: nearly every point is its own column.
	if len(got) < 500 {
		t.Fatalf("%d rows for 601 points zoomed over 500 pixels: the zoom was not re-decimated from full resolution", len(got))
	}
	// New data past the range does not move a zoomed chart...
	r.push("s0", 10)
	if _, _ = r.frame(t0.Add(time.Second), 0); r.charts.ranges["chart-p0"] != (Range{from, to}) {
		t.Fatalf("new data moved the zoomed chart to %+v", r.charts.ranges["chart-p0"])
	}
	// ...and Live follows the head again.
	r.shell.setZoom("p0", Range{})
	r.frame(t0.Add(2*time.Second), 0)
	if xr := r.charts.ranges["chart-p0"]; !xr.IsLive() {
		t.Fatalf("after Live the chart shows %+v, want the live range", xr)
	}
	if last := r.charts.ts["chart-p0"]; last[len(last)-1] != r.streams["s0"].State.Points.TS[len(r.streams["s0"].State.Points.TS)-1] {
		t.Fatal("live chart does not end at the newest point")
	}
}

func TestZoomPastThePagesTableAsksTheServer(t *testing.T) {
	r := newChartRig(1)
	var asked []Range
	r.shell.fetchWindow = func(p dashboard.Panel, rg Range, width int) {
		if p.ID != "p0" || width != r.charts.width {
			t.Errorf("asked for panel %s at %d px", p.ID, width)
		}
		asked = append(asked, rg)
	}
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	oldest := r.streams["s0"].State.Points.TS[0]
	zoom := Range{oldest - 3_600_000, oldest + 60_000} // an hour before the page's first point
	r.shell.setZoom("p0", zoom)
	r.frame(t0.Add(time.Millisecond), 0)
	r.push("s0", 5)
	r.frame(t0.Add(time.Second), 0) // still fetching: not asked twice
	if len(asked) != 1 || asked[0] != zoom {
		t.Fatalf("asked the server for %v, want [%+v] once", asked, zoom)
	}
	// Meanwhile the page's own points in the range are drawn, between two
	// rows of gaps at the range's ends (uPlot shows no range past its data).
	got := r.charts.ts["chart-p0"]
	if len(got) < 3 || got[0] != zoom.From || got[len(got)-1] != zoom.To {
		t.Fatalf("drew %d rows from %v, want the range's ends first and last", len(got), got[:min(3, len(got))])
	}
	for _, ts := range got[1 : len(got)-1] {
		if ts < oldest || ts > zoom.To {
			t.Fatalf("drew a row at %d while fetching", ts)
		}
	}
	// The server's answer replaces them.
	cs := r.shell.charts["chart-p0"]
	remote := &wire.Points{TS: []int64{zoom.From, zoom.From + 10, zoom.To}, Cols: []wire.Column{{Name: "v", Vals: []float64{1, 2, 3}}}}
	cs.zoom.fetching, cs.zoom.remote, cs.zoom.remoteWidth = false, remote, r.charts.width
	cs.zoom.gen++
	if drawn, _ := r.frame(t0.Add(2*time.Second), 0); len(drawn) != 1 {
		t.Fatalf("the server's window was not drawn: %v", drawn)
	}
	if got := r.charts.ts["chart-p0"]; len(got) != 3 || got[0] != zoom.From {
		t.Fatalf("drew %v, want the server's three rows", got)
	}
}

func TestPan(t *testing.T) {
	r := newChartRig(1)
	now := time.UnixMilli(10_000_000)
	r.shell.setZoom("p0", Range{8_000_000, 9_000_000})
	r.shell.pan("p0", -1, now)
	if got := r.shell.charts["chart-p0"].zoom.r; got != (Range{7_500_000, 8_500_000}) {
		t.Fatalf("panned back to %+v", got)
	}
	r.shell.pan("p0", 1, now)
	r.shell.pan("p0", 1, now)
	if got := r.shell.charts["chart-p0"].zoom.r; got != (Range{8_500_000, 9_500_000}) {
		t.Fatalf("panned forward to %+v", got)
	}
	r.shell.pan("p0", 1, now) // reaches now: live
	if got := r.shell.charts["chart-p0"].zoom.r; !got.IsLive() {
		t.Fatalf("panning past now left the chart at %+v, want live", got)
	}
}

// TestPanPastThePageAsksTheServer: a zoom inside the page's points asks the
// server nothing; panning back with ◀ asks it for every range that starts
// before the page's oldest point, once each, the moment the range is drawn.
func TestPanPastThePageAsksTheServer(t *testing.T) {
	r := newChartRig(1)
	var asked []Range
	r.shell.fetchWindow = func(_ dashboard.Panel, rg Range, _ int) { asked = append(asked, rg) }
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	pts := r.streams["s0"].State.Points
	oldest := pts.TS[0]
	r.shell.setZoom("p0", Range{pts.TS[6000], pts.TS[8000]})
	r.frame(t0.Add(time.Millisecond), 0)
	if len(asked) != 0 {
		t.Fatalf("a zoom inside the page's points asked the server for %v", asked)
	}
	now := time.UnixMilli(pts.TS[len(pts.TS)-1] + 60_000)
	var want []Range
	for i := range 12 {
		r.shell.pan("p0", -1, now)
		z := r.shell.charts["chart-p0"].zoom.r
		if z.From < oldest {
			want = append(want, z)
		}
		if drawn, _ := r.frame(t0.Add(time.Duration(i+1)*time.Second), 0); len(drawn) != 1 {
			t.Fatalf("pan %d to %+v drew %v, want the chart at once", i, z, drawn)
		}
		r.frame(t0.Add(time.Duration(i+1)*time.Second+time.Millisecond), 0) // nothing new: not asked again
	}
	if len(want) < 5 || !slices.Equal(asked, want) {
		t.Fatalf("panning back asked the server for %v, want %v (every range starting before %d, once)", asked, want, oldest)
	}
	// While it is asked, the panel says so.
	if z := r.shell.charts["chart-p0"].zoom; !z.fetching {
		t.Fatal("the last range asked for is not marked as loading")
	}
}

// TestAFailedHistoryWaitsForRetry: a history request that failed is not
// repeated on every new event (which would also hide the failure behind
// "loading history…"); Retry, or moving the range, asks again.
func TestAFailedHistoryWaitsForRetry(t *testing.T) {
	r := newChartRig(1)
	var asked []Range
	r.shell.fetchWindow = func(_ dashboard.Panel, rg Range, _ int) { asked = append(asked, rg) }
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	oldest := r.streams["s0"].State.Points.TS[0]
	zoom := Range{oldest - 10_000, oldest - 5_000}
	r.shell.setZoom("p0", zoom)
	r.frame(t0.Add(time.Second), 0)
	fail := func() {
		cs := r.shell.charts["chart-p0"]
		cs.zoom.fetching, cs.zoom.err = false, "history: HTTP 500: store unavailable"
	}
	fail()
	p := r.shell.spec.Panels[0]
	if r.shell.historyError(p) == nil {
		t.Fatal("a failed history shows no error in the panel")
	}
	for i := range 5 {
		r.push("s0", 10)
		r.frame(t0.Add(time.Duration(2+i)*time.Second), 0)
	}
	if len(asked) != 1 {
		t.Fatalf("after a failure, new events asked the server %d more times", len(asked)-1)
	}
	r.shell.retryHistory("p0")
	if drawn, _ := r.frame(t0.Add(10*time.Second), 0); len(drawn) != 1 || len(asked) != 2 || asked[1] != zoom {
		t.Fatalf("Retry drew %v and asked for %v, want the range asked again", drawn, asked)
	}
	if r.shell.historyError(p) != nil {
		t.Fatal("the failure is still shown while it is asked again")
	}
	fail()
	r.shell.pan("p0", -1, time.UnixMilli(oldest))
	r.frame(t0.Add(11*time.Second), 0)
	if len(asked) != 3 || asked[2].To != zoom.To-2_500 {
		t.Fatalf("panning after a failure asked for %v, want the new range", asked)
	}
}

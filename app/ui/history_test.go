package ui

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// historyRig is a chart rig whose one panel (60 s window, series v) holds
// only its stream's newest 1,000 points (6 s): the rest of the window is
// the server's, asked through fetchOpen.
type historyRig struct {
	*chartRig
	asked  []Range
	widths []int
	retry  []func()
}

func newHistoryRig(t *testing.T) *historyRig {
	t.Helper()
	r := &historyRig{chartRig: newChartRig(1)}
	r.charts.cols = map[string][][]float64{}
	st := &livestate.Stream{Name: "s0", Epoch: 1}
	r.streams["s0"] = st
	r.push("s0", 1000)
	r.shell.redraw = func() {}
	r.shell.fetchOpen = func(p dashboard.Panel, rg Range, width int) {
		r.asked = append(r.asked, rg)
		r.widths = append(r.widths, width)
	}
	r.shell.later = func(_ time.Duration, f func()) { r.retry = append(r.retry, f) }
	return r
}

func (r *historyRig) pts() *wire.Points { return &r.streams["s0"].State.Points }

// serverWindow is what the window endpoint answers for rg: one point every
// step ms in [From, To] inclusive, each valued -1 so a drawn one is told
// from the live points (0 to 96).
func serverWindow(rg Range, step int64) *wire.Points {
	p := &wire.Points{Cols: []wire.Column{{Name: "v"}}}
	for t := rg.From; t <= rg.To; t += step {
		p.TS = append(p.TS, t)
		p.Cols[0].Vals = append(p.Cols[0].Vals, -1)
	}
	if p.TS[len(p.TS)-1] != rg.To {
		p.TS = append(p.TS, rg.To) // the page's oldest point, as the server has it too
		p.Cols[0].Vals = append(p.Cols[0].Vals, -1)
	}
	return p
}

// checkJoined checks a drawn picture: strictly ascending (no duplicate, no
// reordering), starting within a column of the window's start, every live
// point from the oldest on drawn from the page's table, the history before.
func checkJoined(t *testing.T, r *historyRig) {
	t.Helper()
	ts, cols := r.charts.ts["chart-p0"], r.charts.cols["chart-p0"]
	pts := r.pts()
	head, oldest := pts.TS[len(pts.TS)-1], pts.TS[0]
	from := head - 60_000
	if len(ts) == 0 || len(cols) != 1 || len(cols[0]) != len(ts) {
		t.Fatalf("drew %d rows, %d columns", len(ts), len(cols))
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("row %d at %d after %d: a duplicate or out of order at the join", i, ts[i], ts[i-1])
		}
	}
	if ts[0] < from || ts[0] > from+1000 {
		t.Fatalf("the chart starts at %d, want the window's start %d (head %d)", ts[0], from, head)
	}
	if ts[len(ts)-1] != head {
		t.Fatalf("the chart ends at %d, want the newest point %d", ts[len(ts)-1], head)
	}
	hist := 0
	for i, x := range ts {
		v := cols[0][i]
		switch {
		case x < oldest && v != -1:
			t.Fatalf("row at %d, before the page's oldest point %d, is %v: not the history", x, oldest, v)
		case x >= oldest && v == -1:
			t.Fatalf("row at %d (page's oldest %d) drawn from the history, not the live table", x, oldest)
		case math.IsNaN(v):
			t.Fatalf("row at %d is a gap", x)
		}
		if x < oldest {
			hist++
		}
	}
	if hist == 0 {
		t.Fatal("no history drawn")
	}
	if i := hist; ts[i] != oldest {
		t.Fatalf("the first live row is %d, want the page's oldest point %d: a seam", ts[i], oldest)
	}
}

func TestLiveChartDrawsTheSnapshotThenItsHistory(t *testing.T) {
	r := newHistoryRig(t)
	t0 := time.Unix(1000, 0)
	pts := r.pts()
	head, oldest := pts.TS[len(pts.TS)-1], pts.TS[0]
	drawn, _ := r.frame(t0, 0)
	if len(drawn) != 1 {
		t.Fatalf("first frame drew %v: the snapshot must be drawn at once, not after the history", drawn)
	}
	if want := (Range{head - 60_000, oldest}); len(r.asked) != 1 || r.asked[0] != want {
		t.Fatalf("asked %v, want once %v", r.asked, want)
	}
	if r.widths[0] < 400 || r.widths[0] > 500 {
		t.Fatalf("asked %d columns for 54 s of a 60 s window over 500 px", r.widths[0])
	}
	if first := r.charts.ts["chart-p0"][0]; first < oldest {
		t.Fatalf("drew from %d before any history came", first)
	}
	if n := r.shell.historyNote(r.shell.spec.Panels[0]); n == nil {
		t.Fatal(`no "loading history…" while the request is out`)
	}
	// Live points arrive while the request is out: drawn, nothing asked
	// again.
	r.push("s0", 50)
	r.frame(t0.Add(time.Second), 0)
	if len(r.asked) != 1 {
		t.Fatalf("asked again while the first request is out: %v", r.asked)
	}
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[0], serverWindow(r.asked[0], 100), nil)
	if n := r.shell.historyNote(r.shell.spec.Panels[0]); n != nil {
		t.Fatal("still loading after the answer")
	}
	if drawn, _ := r.frame(t0.Add(time.Second+time.Millisecond), 0); len(drawn) != 1 {
		t.Fatalf("the history's arrival drew %v, want the chart at once", drawn)
	}
	checkJoined(t, r)
	if got := r.charts.ts["chart-p0"]; got[len(got)-1] != r.pts().TS[len(r.pts().TS)-1] {
		t.Fatal("the live points that came during the request are not drawn")
	}
	// More live points: joined as before, nothing asked.
	r.push("s0", 30)
	r.frame(t0.Add(2*time.Second), 0)
	checkJoined(t, r)
	if len(r.asked) != 1 {
		t.Fatalf("asked again with the window covered: %v", r.asked)
	}
}

func TestHistoryPrefixIsTrimmedAsTheWindowMovesOn(t *testing.T) {
	r := newHistoryRig(t)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[0], serverWindow(r.asked[0], 100), nil)
	r.frame(t0.Add(time.Millisecond), 0)
	h := &r.shell.chartState("chart-p0").open
	before := len(h.ts)
	// 30 s of live points: half the prefix is older than the window.
	r.push("s0", 5000)
	r.frame(t0.Add(time.Second), 0)
	checkJoined(t, r)
	if len(h.ts) >= before {
		t.Fatalf("the prefix holds %d points, as many as before the window moved (%d)", len(h.ts), before)
	}
	// Another 60 s: the page holds the whole window, the prefix is gone.
	r.push("s0", 10_000)
	r.frame(t0.Add(2*time.Second), 0)
	if h.ts != nil || h.to != 0 {
		t.Fatalf("the prefix still holds %d points though the page holds the window", len(h.ts))
	}
	if ts := r.charts.ts["chart-p0"]; ts[0] < r.pts().TS[0] {
		t.Fatalf("drew a point at %d before the page's oldest %d", ts[0], r.pts().TS[0])
	}
	if len(r.asked) != 1 {
		t.Fatalf("asked %v, want only the first", r.asked)
	}
}

func TestHoleAfterThePrefixIsAskedAlone(t *testing.T) {
	r := newHistoryRig(t)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	first := r.asked[0]
	r.shell.openAnswered(r.shell.spec.Panels[0], first, serverWindow(first, 100), nil)
	r.frame(t0.Add(time.Millisecond), 0)
	// The page's table loses its oldest 500 points (cut to its limit, or a
	// resync's snapshot that starts later): 3 s the prefix does not hold.
	pts := r.pts()
	pts.TS = pts.TS[500:]
	pts.Cols[0].Vals = pts.Cols[0].Vals[500:]
	r.push("s0", 1)
	r.shell.drawCharts(r.streams, 1, t0.Add(time.Second), time.Now) // a new snapshot generation
	if want := (Range{first.To, pts.TS[0]}); len(r.asked) != 2 || r.asked[1] != want {
		t.Fatalf("asked %v, want the hole %v after the first", r.asked, want)
	}
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[1], serverWindow(r.asked[1], 100), nil)
	r.shell.drawCharts(r.streams, 1, t0.Add(time.Second+time.Millisecond), time.Now)
	checkJoined(t, r)
}

func TestFailedHistoryKeepsTheLiveChartAndRetries(t *testing.T) {
	r := newHistoryRig(t)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	live := len(r.charts.ts["chart-p0"])
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[0], nil, errors.New("history: HTTP 500: history store unavailable"))
	if r.shell.historyNote(r.shell.spec.Panels[0]) == nil {
		t.Fatal("the failure is not shown")
	}
	r.push("s0", 10)
	r.frame(t0.Add(time.Second), 0)
	if got := len(r.charts.ts["chart-p0"]); got < live {
		t.Fatalf("after the failure the chart drew %d rows, had %d: the live data was blanked", got, live)
	}
	if len(r.asked) != 1 {
		t.Fatalf("asked again at once after a failure: %v", r.asked)
	}
	if len(r.retry) != 1 {
		t.Fatalf("%d retries scheduled, want 1", len(r.retry))
	}
	r.retry[0]()
	r.frame(t0.Add(2*time.Second), 0)
	if len(r.asked) != 2 {
		t.Fatalf("the retry did not ask again: %v", r.asked)
	}
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[1], serverWindow(r.asked[1], 100), nil)
	r.frame(t0.Add(2*time.Second+time.Millisecond), 0)
	checkJoined(t, r)
	if historyRetry(1) != 2*time.Second || historyRetry(9) != 30*time.Second {
		t.Fatalf("retries after %v and %v", historyRetry(1), historyRetry(9))
	}
}

// An aggregate's buckets are upserted in place (the newest one changes):
// its chart reads the table whole, joined to the history the same way.
func TestAggregateChartOpensWithItsHistory(t *testing.T) {
	r := newHistoryRig(t)
	r.shell.spec.Panels[0].Agg = &agg.Def{Fn: "sum", Field: "v", Window: "1s"}
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	if len(r.asked) != 1 {
		t.Fatalf("asked %v", r.asked)
	}
	r.shell.openAnswered(r.shell.spec.Panels[0], r.asked[0], serverWindow(r.asked[0], 100), nil)
	r.frame(t0.Add(time.Millisecond), 0)
	checkJoined(t, r)
	// The newest bucket is replaced in place: drawn, the join unchanged.
	pts := r.pts()
	pts.Cols[0].Vals[len(pts.TS)-1] = 42
	r.streams["s0"].Seq++
	r.frame(t0.Add(2*time.Second), 0)
	checkJoined(t, r)
	if v := r.charts.cols["chart-p0"][0]; v[len(v)-1] != 42 {
		t.Fatalf("the replaced bucket is drawn as %v", v[len(v)-1])
	}
}

func TestWindowThePageHoldsAsksNothing(t *testing.T) {
	r := newHistoryRig(t)
	r.push("s0", 9000) // 60 s: the whole window (but a point's width)
	r.frame(time.Unix(1000, 0), 0)
	if len(r.asked) != 0 {
		t.Fatalf("asked %v for a window the page holds", r.asked)
	}
}

// Rows of the answer at one time (an upserted bucket the server kept
// twice) are one row of the prefix, at the later value.
func TestHistoryPrefixUpsertsRowsAtOneTime(t *testing.T) {
	var h openHistory
	pts := &wire.Points{TS: []int64{10, 20, 20, 30}, Cols: []wire.Column{{Name: "v", Vals: []float64{1, 2, 3, 4}}}}
	h.add(Range{0, 100}, pts, []string{"v"})
	if len(h.ts) != 3 || h.ts[1] != 20 || h.cols["v"][1] != 3 || len(h.cols["v"]) != 3 {
		t.Fatalf("prefix %v %v, want [10 20 30] [1 3 4]", h.ts, h.cols["v"])
	}
}

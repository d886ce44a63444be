package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// fakeCharts records what the shell draws.
type fakeCharts struct {
	width   int
	hidden  map[string]bool
	drawn   []string // ids, in drawing order
	lengths map[string]int
	ranges  map[string]Range
	ts      map[string][]int64
	cols    map[string][][]float64
	created []ChartSpec // every Create, in order
	live    map[string]bool
}

func (f *fakeCharts) Create(id string, spec ChartSpec, _ ChartHooks) {
	if f.live == nil {
		f.live = map[string]bool{}
	}
	if f.live[id] {
		panic("chart " + id + " created twice without Destroy")
	}
	f.live[id] = true
	f.created = append(f.created, spec)
}
func (f *fakeCharts) Destroy(id string)      { delete(f.live, id) }
func (f *fakeCharts) Width(string) int       { return f.width }
func (f *fakeCharts) Visible(id string) bool { return !f.hidden[id] }
func (f *fakeCharts) SetData(id string, ts []int64, cols [][]float64, xr Range) {
	f.drawn = append(f.drawn, id)
	f.lengths[id] = len(ts)
	f.ranges[id] = xr
	f.ts[id] = append([]int64(nil), ts...)
	if f.cols != nil {
		c := make([][]float64, len(cols))
		for i := range cols {
			c[i] = append([]float64(nil), cols[i]...)
		}
		f.cols[id] = c
	}
}

// chartRig is a shell with n time-series panels, each on its own stream of
// one series holding 10,000 points.
type chartRig struct {
	shell   *Shell
	charts  *fakeCharts
	streams map[string]*livestate.Stream
}

func newChartRig(n int) *chartRig {
	r := &chartRig{charts: &fakeCharts{width: 500, hidden: map[string]bool{}, lengths: map[string]int{}, ranges: map[string]Range{}, ts: map[string][]int64{}}, streams: map[string]*livestate.Stream{}}
	spec := &dashboard.Dashboard{ID: "d"}
	for i := range n {
		stream := fmt.Sprintf("s%d", i)
		spec.Panels = append(spec.Panels, dashboard.Panel{ID: fmt.Sprintf("p%d", i), Kind: dashboard.KindTimeSeries, Stream: stream, Series: []string{"v"}, WindowSeconds: 60})
		st := &livestate.Stream{Name: stream, Epoch: 1}
		r.streams[stream] = st
		r.push(stream, 10_000)
	}
	r.shell = &Shell{spec: spec, bridges: Bridges{Charts: r.charts}}
	return r
}

// push appends k points 6 ms apart to a stream and moves its seq.
func (r *chartRig) push(stream string, k int) {
	st := r.streams[stream]
	p := &st.State.Points
	if len(p.Cols) == 0 {
		p.Cols = []wire.Column{{Name: "v"}}
	}
	t := int64(1_700_000_000_000)
	if n := len(p.TS); n > 0 {
		t = p.TS[n-1]
	}
	for i := range k {
		p.TS = append(p.TS, t+int64(i+1)*6)
		p.Cols[0].Vals = append(p.Cols[0].Vals, float64(i%97))
	}
	st.Seq++
}

// frame draws at frameStart with a clock that moves by step per reading.
func (r *chartRig) frame(frameStart time.Time, step time.Duration) (drawn []string, waiting bool) {
	r.charts.drawn = nil
	now := frameStart
	clock := func() time.Time { now = now.Add(step); return now }
	waiting = r.shell.drawCharts(r.streams, 0, frameStart, clock)
	return r.charts.drawn, waiting
}

func TestDrawChartsOnlyWhatChanged(t *testing.T) {
	r := newChartRig(3)
	t0 := time.Unix(1000, 0)
	drawn, waiting := r.frame(t0, 0)
	if len(drawn) != 3 || waiting {
		t.Fatalf("first frame drew %v (waiting %v), want all three", drawn, waiting)
	}
	// decimate.Columns keeps at most 2+3k rows per pixel column for k
	// series, and a window aligned to absolute time touches width+1 columns.
	for id, n := range r.charts.lengths {
		if n == 0 || n > 5*(r.charts.width+1) {
			t.Fatalf("%s drew %d points for %d pixels: not decimated", id, n, r.charts.width)
		}
	}
	// Nothing new: nothing drawn, nothing waiting.
	if drawn, waiting := r.frame(t0.Add(time.Second), 0); len(drawn) != 0 || waiting {
		t.Fatalf("an idle frame drew %v (waiting %v)", drawn, waiting)
	}
	// New data on one stream, a whole second later: only its chart.
	r.push("s1", 10)
	if drawn, _ := r.frame(t0.Add(2*time.Second), 0); len(drawn) != 1 || drawn[0] != "chart-p1" {
		t.Fatalf("drew %v, want only chart-p1", drawn)
	}
}

func TestDrawChartsWaitsForTheNextColumn(t *testing.T) {
	r := newChartRig(1)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	// 60 s over 500 px: a column is 120 ms, capped at maxChartInterval.
	r.push("s0", 3)
	drawn, waiting := r.frame(t0.Add(17*time.Millisecond), 0)
	if len(drawn) != 0 || !waiting {
		t.Fatalf("17 ms after a draw: drew %v, waiting %v; want nothing drawn and waiting", drawn, waiting)
	}
	drawn, waiting = r.frame(t0.Add(maxChartInterval), 0)
	if len(drawn) != 1 || waiting {
		t.Fatalf("a column later: drew %v, waiting %v; want it drawn", drawn, waiting)
	}
	// A new width is drawn at once, whatever the interval.
	r.charts.width = 300
	r.push("s0", 1)
	if drawn, _ := r.frame(t0.Add(maxChartInterval+time.Millisecond), 0); len(drawn) != 1 {
		t.Fatalf("a resized chart was not drawn at once: %v", drawn)
	}
	if n := r.charts.lengths["chart-p0"]; n > 5*(300+1) {
		t.Fatalf("after the resize it drew %d points for 300 pixels", n)
	}
}

// TestDrawChartsRedrawsARemountedChart: a chart whose element go-app
// re-created (its chart is new and empty) is drawn again at the next frame,
// though its stream has not moved (a warm visit left charts empty).
func TestDrawChartsRedrawsARemountedChart(t *testing.T) {
	r := newChartRig(2)
	t0 := time.Unix(1000, 0)
	if drawn, _ := r.frame(t0, 0); len(drawn) != 2 {
		t.Fatalf("first frame drew %v, want both", drawn)
	}
	redraws := 0
	r.shell.redraw = func() { redraws++ }
	panel := &chartPanel{ID: "chart-p1", charts: r.charts, mounted: r.shell.chartMounted}
	panel.OnDismount()
	panel.OnMount(app.Context{})
	if redraws != 1 {
		t.Fatalf("a mounted chart asked for %d frames, want 1", redraws)
	}
	if drawn, _ := r.frame(t0.Add(time.Second), 0); len(drawn) != 1 || drawn[0] != "chart-p1" || r.charts.lengths["chart-p1"] == 0 {
		t.Fatalf("after chart-p1's remount the next frame drew %v (%d points), want chart-p1 with its data", drawn, r.charts.lengths["chart-p1"])
	}
	if drawn, _ := r.frame(t0.Add(2*time.Second), 0); len(drawn) != 0 {
		t.Fatalf("then an idle frame drew %v", drawn)
	}
}

func TestDrawChartsSkipsHiddenCharts(t *testing.T) {
	r := newChartRig(2)
	r.charts.hidden["chart-p1"] = true
	t0 := time.Unix(1000, 0)
	if drawn, _ := r.frame(t0, 0); len(drawn) != 1 || drawn[0] != "chart-p0" {
		t.Fatalf("drew %v, want only the visible chart-p0", drawn)
	}
	r.push("s1", 50)
	if drawn, waiting := r.frame(t0.Add(time.Second), 0); len(drawn) != 0 || waiting {
		t.Fatalf("new data for a hidden chart drew %v (waiting %v)", drawn, waiting)
	}
	// Scrolled into view: drawn on the next frame, with everything it missed.
	r.charts.hidden["chart-p1"] = false
	if drawn, _ := r.frame(t0.Add(2*time.Second), 0); len(drawn) != 1 || drawn[0] != "chart-p1" {
		t.Fatalf("drew %v, want chart-p1 once it is visible", drawn)
	}
}

func TestDrawChartsKeepsToTheFrameBudget(t *testing.T) {
	r := newChartRig(8)
	t0 := time.Unix(1000, 0)
	r.frame(t0, 0)
	for i := range 8 {
		r.push(fmt.Sprintf("s%d", i), 20)
	}
	// Each clock reading moves 3 ms, as if each chart took 3 ms to draw:
	// three charts fit in the 8 ms budget, the rest wait for later frames,
	// and every chart is drawn within three frames, each exactly once.
	seen := map[string]int{}
	at := t0.Add(time.Second)
	for f := range 3 {
		drawn, waiting := r.frame(at, 3*time.Millisecond)
		if len(drawn) == 0 || len(drawn) > 3 {
			t.Fatalf("frame %d drew %d charts, want 1 to 3 within the budget", f, len(drawn))
		}
		for _, id := range drawn {
			seen[id]++
		}
		if f < 2 && !waiting {
			t.Fatalf("frame %d left charts undrawn without asking for another frame", f)
		}
		at = at.Add(16 * time.Millisecond)
	}
	if len(seen) != 8 {
		t.Fatalf("after three frames %d of 8 charts were drawn: %v", len(seen), seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s drawn %d times", id, n)
		}
	}
	// However slow one draw is, the stalest chart is always drawn.
	r.push("s0", 1)
	r.push("s5", 1)
	if drawn, _ := r.frame(at.Add(time.Second), time.Second); len(drawn) != 1 {
		t.Fatalf("a frame whose first draw overran drew %v, want exactly one chart", drawn)
	}
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
)

// fastSpec is one full-width time-series panel of stream fast, series v,
// over a window of windowS seconds.
func fastSpec(t *testing.T, windowS int) string {
	t.Helper()
	spec := fmt.Sprintf(`{"id":"charts","title":"Charts","panels":[{"id":"fast","kind":"timeseries","title":"Fast","stream":"fast","series":["v"],"width":12,"window_seconds":%d}]}`, windowS)
	path := filepath.Join(t.TempDir(), "charts.json")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// publishPoints publishes points of series v of stream fast (ts in Unix ms),
// perEvent points per event, through HTTP ingest.
func publishPoints(t *testing.T, base, key string, ts []int64, vs []float64, perEvent int) {
	t.Helper()
	type points struct {
		TS   []int64 `json:"ts"`
		Cols []struct {
			Name string    `json:"name"`
			Vals []float64 `json:"vals"`
		} `json:"cols"`
	}
	var events []map[string]any
	for i := 0; i < len(ts); i += perEvent {
		j := min(len(ts), i+perEvent)
		p := points{TS: ts[i:j]}
		p.Cols = append(p.Cols, struct {
			Name string    `json:"name"`
			Vals []float64 `json:"vals"`
		}{"v", vs[i:j]})
		events = append(events, map[string]any{"stream": "fast", "time": ts[j-1], "points": p})
	}
	for len(events) > 0 {
		n := min(len(events), 50)
		body, _ := json.Marshal(map[string]any{"events": events[:n]})
		events = events[n:]
		ingest(t, base, key, string(body))
	}
}

// series makes n points 1 ms apart ending now, a gentle wave with a +1000
// spike at index up and a -1000 one at index down.
func series(n, up, down int) ([]int64, []float64) {
	ts, vs := make([]int64, n), make([]float64, n)
	end := time.Now().UnixMilli()
	for i := range n {
		ts[i] = end - int64(n-1-i)
		vs[i] = 10 * math.Sin(float64(i)/400)
	}
	vs[up], vs[down] = 1000, -1000
	return ts, vs
}

// uplotState is what the fast chart's uPlot holds: data length, its x range
// and extremes, the x scale, and the plot's width in CSS pixels.
type uplotState struct {
	Points           int
	First, Last      float64
	Min, Max         float64
	ScaleMin         float64
	ScaleMax         float64
	PlotWidth        float64
	Zoomed           bool
	Left, Top, Right float64
}

const uplotJS = `() => {
	const el = document.getElementById("chart-fast");
	if (!el || !el._uplot) return null;
	const u = el._uplot, xs = u.data[0], ys = u.data[1];
	let lo = Infinity, hi = -Infinity;
	for (const y of ys) { if (y < lo) lo = y; if (y > hi) hi = y; }
	const r = u.over.getBoundingClientRect();
	return {points: xs.length, first: xs.length ? xs[0] : 0, last: xs.length ? xs[xs.length-1] : 0, min: lo, max: hi,
		scaleMin: u.scales.x.min, scaleMax: u.scales.x.max, plotWidth: u.bbox.width / devicePixelRatio,
		zoomed: !!document.querySelector(".tt-zoom-live"), left: r.left, top: r.top, right: r.right};
}`

func readUPlot(p *rod.Page) (uplotState, error) {
	res, err := p.Eval(uplotJS)
	if err != nil {
		return uplotState{}, err
	}
	if res.Value.Nil() {
		return uplotState{}, fmt.Errorf("no chart yet")
	}
	var s uplotState
	err = json.Unmarshal([]byte(res.Value.JSON("", "")), &s)
	return s, err
}

// drag selects on the chart from fraction a to fraction b of its plot width.
func drag(t *testing.T, p *rod.Page, s uplotState, a, b float64) {
	t.Helper()
	y := s.Top + 50
	m := p.Mouse
	m.MustMoveTo(s.Left+a*(s.Right-s.Left), y)
	m.MustDown(proto.InputMouseButtonLeft)
	m.MustMoveTo(s.Left+(a+b)/2*(s.Right-s.Left), y)
	m.MustMoveTo(s.Left+b*(s.Right-s.Left), y)
	m.MustUp(proto.InputMouseButtonLeft)
}

// TestChartIsDecimatedWithItsExtremes streams 40,000 points into one panel
// and checks that uPlot holds a small multiple of the plot's width, not the
// points, while both spikes are on the chart; then that a drag zooms to the
// selection, re-decimated at full resolution, and Live returns to the head.
func TestChartIsDecimatedWithItsExtremes(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-charts"
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 60), "-ingest-keys", "demo:"+key)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	const n = 40_000
	ts, vs := series(n, 12_345, 31_000)
	publishPoints(t, srv.URL, key, ts, vs, 500) // arrives live: the page keeps every point
	var s uplotState
	poll.Until(t, 30*time.Second, func() (err error) {
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if int64(s.Last) != ts[n-1] {
			return fmt.Errorf("chart ends at %.0f, want %d", s.Last, ts[n-1])
		}
		return nil
	})
	bound := 5 * (int(s.PlotWidth) + 2) // decimate.Columns: ≤ 4 rows per pixel column, 5 with a gap
	if s.Points > bound || s.Points >= n/2 {
		t.Fatalf("uPlot holds %d points for a %.0f px plot: not decimated (bound %d)", s.Points, s.PlotWidth, bound)
	}
	if s.Max != 1000 || s.Min != -1000 {
		t.Fatalf("chart's extremes are [%v, %v], want the spikes [-1000, 1000]", s.Min, s.Max)
	}
	t.Logf("%d points drawn as %d for a %.0f px plot; extremes kept", n, s.Points, s.PlotWidth)

	// Zoom to the middle fifth: the x scale is the selection, and the
	// chart holds that range at full resolution (8,000 points over the
	// plot's width: still decimated, but far more than before).
	drag(t, p, s, 0.4, 0.6)
	var z uplotState
	poll.Until(t, 10*time.Second, func() (err error) {
		if z, err = readUPlot(p); err != nil {
			return err
		}
		if !z.Zoomed || z.ScaleMax-z.ScaleMin > 0.3*(s.Last-s.First) {
			return fmt.Errorf("not zoomed: scale [%.0f, %.0f], controls %v", z.ScaleMin, z.ScaleMax, z.Zoomed)
		}
		return nil
	})
	if z.First < z.ScaleMin-float64(int(z.ScaleMax-z.ScaleMin)/int(z.PlotWidth))-1 || z.Last > z.ScaleMax {
		t.Fatalf("zoomed data [%.0f, %.0f] outside the scale [%.0f, %.0f]", z.First, z.Last, z.ScaleMin, z.ScaleMax)
	}
	if z.Points > bound || z.Points < int(z.PlotWidth) {
		t.Fatalf("zoomed chart holds %d points for %.0f px: want one or more per pixel column, at most %d", z.Points, z.PlotWidth, bound)
	}
	// New data does not move a zoomed chart.
	ts2, vs2 := series(500, 1, 2)
	before := stats(t, p)
	publishPoints(t, srv.URL, key, ts2, vs2, 500)
	// Wait until the page applied the new event and redrew the chart with it
	// (frames render only on the client's changes, and this dashboard has no
	// other stream): only then can it be seen not to move.
	poll.Until(t, 10*time.Second, func() error {
		s := stats(t, p)
		if s.Streams["fast"].Seq <= before.Streams["fast"].Seq || s.Renders <= before.Renders || s.ChartDraws <= before.ChartDraws {
			return fmt.Errorf("fast at %d, %d renders, %d chart draws: the new event is not applied and drawn yet", s.Streams["fast"].Seq, s.Renders, s.ChartDraws)
		}
		return nil
	})
	if now, err := readUPlot(p); err != nil || now.ScaleMin != z.ScaleMin || now.ScaleMax != z.ScaleMax {
		t.Fatalf("new data moved the zoomed chart: %+v (err %v), was [%.0f, %.0f]", now, err, z.ScaleMin, z.ScaleMax)
	}
	// Live follows the head again.
	p.MustElement(".tt-zoom-live").MustClick()
	poll.Until(t, 10*time.Second, func() error {
		now, err := readUPlot(p)
		if err != nil {
			return err
		}
		if now.Zoomed || int64(now.Last) != ts2[len(ts2)-1] {
			return fmt.Errorf("after Live: zoomed %v, chart ends at %.0f, want %d", now.Zoomed, now.Last, ts2[len(ts2)-1])
		}
		return nil
	})
}

// TestZoomPastThePageReadsServerHistory: the page holds only the snapshot's
// 2,000 newest points; panning a zoomed chart back past them asks the
// server, whose decimated history brings back a spike the page never had.
func TestZoomPastThePageReadsServerHistory(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-history"
	// The panel's window (2 s) is the page's points: its live chart asks
	// the server for nothing older (history.go), so the spike comes only
	// from the zoom's request.
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 2), "-ingest-keys", "demo:"+key, "-points", "2000")
	const n = 8_000
	ts, vs := series(n, 1_000, 7_000)
	publishPoints(t, srv.URL, key, ts, vs, 100) // before the page opens: it gets a snapshot
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	var s uplotState
	poll.Until(t, 20*time.Second, func() (err error) {
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if int64(s.Last) != ts[n-1] {
			return fmt.Errorf("chart ends at %.0f, want %d", s.Last, ts[n-1])
		}
		return nil
	})
	if s.Max == 1000 || int64(s.First) <= ts[1_000] {
		t.Fatalf("the page already holds the old spike (first %.0f, max %v): the test proves nothing", s.First, s.Max)
	}
	drag(t, p, s, 0.05, 0.5)
	poll.Until(t, 10*time.Second, func() error {
		z, err := readUPlot(p)
		if err != nil || !z.Zoomed {
			return fmt.Errorf("not zoomed (err %v)", err)
		}
		return nil
	})
	// Pan back until the range holds the spike, and the server's answer is
	// drawn.
	poll.Until(t, 30*time.Second, func() error {
		z, err := readUPlot(p)
		if err != nil {
			return err
		}
		if z.Max == 1000 {
			return nil
		}
		if z.ScaleMin > float64(ts[1_000]) {
			p.MustElement(".tt-zoom-back").MustClick()
		}
		label := eval(t, p, `() => { const e = document.querySelector(".tt-zoom-range"); return e ? e.textContent : "" }`).Str()
		return fmt.Errorf("zoomed to [%.0f, %.0f] (%q), drawn max %v: no spike from history yet", z.ScaleMin, z.ScaleMax, label, z.Max)
	})
}

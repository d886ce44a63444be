package ui

import (
	"sort"
	"strings"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// Chart drawing is paced so that a frame stays a frame, whatever the data
// does. On each animation frame the shell draws only the charts that are
// visible and whose data or width changed since they were last drawn, the
// least recently drawn first, and stops once the frame's drawing budget is
// spent: the rest are drawn on the next frames. A chart is also not drawn
// again before its newest pixel column can have moved (the window's span per
// pixel column, at most maxChartInterval): redrawing sooner repaints the same
// columns. So 80 series receiving 80,000 points/s cost a bounded slice of
// every frame, and a panel scrolled out of view costs nothing.
const (
	// frameBudget is the drawing time a frame may spend on charts after the
	// first one (the stalest chart is always drawn, so every chart keeps
	// moving however slow one draw is).
	frameBudget = 8 * time.Millisecond
	// maxChartInterval bounds how long new data may wait for its chart when
	// a pixel column spans more than this (long windows).
	maxChartInterval = 100 * time.Millisecond
	// liteChartInterval is the least time between two draws of a lite
	// chart (lite.go): on a 4x throttled phone one draw of 10 series is a
	// 35–50 ms frame, so a chart drawn twice a second with three on screen
	// made one frame in ten long.
	liteChartInterval = time.Second
	// frameSlack keeps a chart due on the frame its interval ends in.
	frameSlack = 4 * time.Millisecond
)

// drawKey is what a chart's picture depends on: the stream's position, the
// client's snapshot generation, and the chart's width.
type drawKey struct {
	epoch, seq uint64
	gen, width int
	zoom       Range
	remote     int // the zoom's remote generation
	history    int // the history prefix's generation (history.go)
}

// chartState is one chart's drawing state.
type chartState struct {
	dec   decimated
	zoom  zoomState
	open  openHistory // a live chart's history prefix (history.go)
	key   drawKey
	drawn time.Time // when it was last drawn; zero if never
	// series are the columns a chart that lists none was created with
	// (drawsAll), and colours the colour each name keeps.
	series  []string
	colours colours
}

// interval is how soon a chart may be drawn again: one pixel column of its
// window, at most maxChartInterval.
func interval(p dashboard.Panel, width int) time.Duration {
	if width <= 0 {
		return 0
	}
	col := windowOf(p) / time.Duration(width)
	if strings.HasPrefix(p.Stream, agg.M4Prefix) {
		// A lite chart's data moves a bucket at a time (lite.go): drawing
		// it more often redraws the same picture, and a phone cannot spare
		// the frames.
		if s, err := agg.ParseM4(p.Stream); err == nil {
			return max(0, max(col, s.Width, liteChartInterval)-frameSlack)
		}
	}
	return max(0, min(col, maxChartInterval)-frameSlack)
}

// chartMounted: the chart's element was mounted and its chart created,
// empty. Whatever the shell drew before went with the old element (go-app
// re-creates a panel's elements when the tree before it changes shape, as
// when the stored state's banner goes away once live, or a new spec's panels
// mount afresh), so the chart is drawn at the next frame even if its stream
// has not moved since: a warm visit's charts that got their data before the
// remount stayed empty until their stream moved.
func (s *Shell) chartMounted(id string) {
	if cs := s.charts[id]; cs != nil {
		cs.key, cs.drawn = drawKey{}, time.Time{}
	}
	if s.redraw != nil {
		s.redraw()
	}
}

// chartDue is one chart that has something new to show.
type chartDue struct {
	panel dashboard.Panel
	id    string
	st    *chartState
	key   drawKey
}

// drawCharts draws the charts that are due, within the frame budget, and
// reports whether some changed chart is still waiting (for its interval or
// for budget), so the caller asks for another frame. frameStart is when the
// frame began; clock is time.Now but injectable for tests.
func (s *Shell) drawCharts(streams map[string]*livestate.Stream, gen int, frameStart time.Time, clock func() time.Time) (waiting bool) {
	charts := s.bridges.Charts
	if charts == nil || s.spec == nil {
		return false
	}
	var due []chartDue
	for _, p := range s.spec.Panels {
		if p.Kind != dashboard.KindTimeSeries {
			continue
		}
		st := streams[p.Stream]
		if st == nil {
			continue
		}
		id := chartID(p.ID)
		if !charts.Visible(id) {
			continue // drawn when it scrolls into view (changed is called)
		}
		cs := s.chartState(id)
		key := drawKey{st.Epoch, st.Seq, gen, charts.Width(id), cs.zoom.r, cs.zoom.gen, cs.open.gen}
		if key == cs.key && !cs.drawn.IsZero() {
			continue
		}
		if key.width == cs.key.width && key.gen == cs.key.gen && key.zoom == cs.key.zoom && key.remote == cs.key.remote && key.history == cs.key.history && frameStart.Sub(cs.drawn) < interval(p, key.width) {
			waiting = true // only new data, and its column cannot have moved yet
			continue
		}
		due = append(due, chartDue{p, id, cs, key})
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].st.drawn.Before(due[j].st.drawn) })
	for i, d := range due {
		if i > 0 && clock().Sub(frameStart) > frameBudget {
			return true
		}
		pts := &streams[d.panel.Stream].State.Points
		panel := d.panel
		if drawsAll(panel) {
			panel.Series = s.allSeries(d.id, d.st, panel, pts)
		}
		upserted := panel.Agg != nil || strings.HasPrefix(panel.Stream, agg.M4Prefix)
		switch {
		case d.key.zoom.IsLive() && upserted:
			// An aggregate's table is a bounded number of buckets, some
			// replaced in place (the live one, late ones: Upsert); an m4
			// stream is decimated on the server already (about 4 rows a
			// pixel column) and upserted too. The incremental columns,
			// reading only what was appended, would miss both.
			ts, cols := window(pts, panel)
			ts, cols = s.withHistory(d.st, panel, pts, d.key.width, ts, cols)
			charts.SetData(d.id, ts, cols, Range{})
		case d.key.zoom.IsLive():
			ts, cols := d.st.dec.update(pts, panel, d.key.width, gen)
			ts, cols = s.withHistory(d.st, panel, pts, d.key.width, ts, cols)
			charts.SetData(d.id, ts, cols, Range{})
		default:
			if upserted {
				d.st.zoom.cols.Reset() // re-read whole (a few hundred rows): rows change in place
			}
			ts, cols := s.zoomed(d.st, panel, pts, d.key.width)
			charts.SetData(d.id, ts, cols, d.key.zoom)
		}
		d.st.key, d.st.drawn = d.key, frameStart
		s.drawn(d.panel.ID, d.key.epoch, d.key.seq)
		s.chartDraws.Add(1)
	}
	return waiting
}

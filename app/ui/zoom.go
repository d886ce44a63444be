package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/decimate"
	"github.com/telltale/telltale/shared/wire"
)

// Zoom and pan. A selection on a chart (uPlot's drag) zooms it to that time
// range; the chart then stops following the head and shows the range
// re-decimated from the full-resolution table the page keeps. A range that
// starts before the page's oldest point is asked of the server
// (GET /api/v1/streams/{s}/window), which decimates its stored history to the
// chart's width; the page's own points are drawn meanwhile. Double-click or
// the Live button returns to the head; the arrows pan by half the range.
//
// Every way to a range goes through setZoom (a drag, the arrows, Live), and
// every range is drawn through zoomed, which alone decides to ask the
// server: when the range starts before the page's oldest point, whether the
// operator just moved there or the page's points have since moved past it.
// While a request is out the panel says "loading history…" (a fetch asks for
// a render: the label must not wait for new data); a request that fails
// says why in the panel and is not repeated behind the operator's back (on
// every new event) until they press Retry or move the range.

// zoomState is a zoomed chart's state, kept in its chartState.
type zoomState struct {
	r    Range
	cols decimate.Columns // the range decimated from the page's table
	vals [][]float64
	// remote is the server's decimation of r at width remoteWidth; nil
	// until it arrives. fetching is set while a request is out.
	remote      *wire.Points
	remoteWidth int
	fetching    bool
	cancel      context.CancelFunc // aborts the request out, if any
	err         string
	gen         int // bumped when remote arrives, so the chart redraws
	// Output buffers of pad, reused.
	padTS   []int64
	padVals [][]float64
}

// zoomed returns what a zoomed chart shows: the server's window when the
// range reaches back past the page's oldest point and it has arrived,
// otherwise the page's own points in the range.
func (s *Shell) zoomed(cs *chartState, p dashboard.Panel, pts *wire.Points, width int) ([]int64, [][]float64) {
	z := &cs.zoom
	if z.needsHistory(pts) {
		if z.remote != nil && z.remoteWidth == width {
			return z.pad(z.remote.TS, seriesOf(z.remote, p.Series, &z.vals))
		}
		if !z.fetching && z.err == "" && s.fetchWindow != nil && width > 0 {
			z.fetching = true
			s.fetchWindow(p, z.r, width)
		}
	}
	if width <= 0 {
		width = 1000
	}
	span := max(1, (z.r.To-z.r.From+int64(width)-1)/int64(width))
	return z.pad(z.cols.Update(pts.TS, seriesOf(pts, p.Series, &z.vals), z.r.From, z.r.To, span))
}

// needsHistory reports whether the range starts before the page's oldest
// point: only the server has it.
func (z *zoomState) needsHistory(pts *wire.Points) bool {
	return len(pts.TS) == 0 || z.r.From < pts.TS[0]
}

// retryHistory asks the server again for a zoomed panel's range after its
// history failed.
func (s *Shell) retryHistory(panelID string) {
	cs := s.chartState(chartID(panelID))
	if cs.zoom.err == "" {
		return
	}
	cs.zoom.err = ""
	cs.key = drawKey{} // draw at once, which asks
}

// pad adds a row of gaps at the range's start and end where the data does
// not reach them: uPlot keeps its x scale within the data, so a range
// reaching past the data (history still loading, or none kept) would
// otherwise not be shown as asked.
func (z *zoomState) pad(ts []int64, cols [][]float64) ([]int64, [][]float64) {
	head := len(ts) == 0 || ts[0] > z.r.From
	tail := len(ts) == 0 || ts[len(ts)-1] < z.r.To
	if !head && !tail {
		return ts, cols
	}
	z.padTS = z.padTS[:0]
	if head {
		z.padTS = append(z.padTS, z.r.From)
	}
	z.padTS = append(z.padTS, ts...)
	if tail {
		z.padTS = append(z.padTS, z.r.To)
	}
	for len(z.padVals) < len(cols) {
		z.padVals = append(z.padVals, nil)
	}
	z.padVals = z.padVals[:len(cols)]
	for s, v := range cols {
		out := z.padVals[s][:0]
		if head {
			out = append(out, math.NaN())
		}
		if v == nil {
			v = gaps(len(ts))
		}
		out = append(out, v...)
		if tail {
			out = append(out, math.NaN())
		}
		z.padVals[s] = out
	}
	return z.padTS, z.padVals
}

// seriesOf returns the panel's series of pts in the panel's order, nil for
// one pts lacks (drawn as a gap), reusing buf.
func seriesOf(pts *wire.Points, names []string, buf *[][]float64) [][]float64 {
	out := (*buf)[:0]
	for _, name := range names {
		v := pts.Col(name)
		if len(v) != len(pts.TS) {
			v = nil
		}
		out = append(out, v)
	}
	*buf = out
	return out
}

// setZoom zooms a panel's chart to r, or back to live with the zero Range.
// It runs on the UI goroutine.
func (s *Shell) setZoom(panelID string, r Range) {
	cs := s.chartState(chartID(panelID))
	if r.From >= r.To {
		r = Range{}
	}
	if cs.zoom.r == r {
		return
	}
	if cs.zoom.cancel != nil {
		cs.zoom.cancel() // a range left behind: its history is not wanted now
	}
	cs.zoom = zoomState{r: r, vals: cs.zoom.vals}
	cs.dec.cols.Reset() // back to live: start the columns over
	cs.key = drawKey{}  // draw at once
}

// pan moves a zoomed panel by half its range, back (dir < 0) or forward;
// reaching now returns it to live.
func (s *Shell) pan(panelID string, dir int, now time.Time) {
	cs := s.chartState(chartID(panelID))
	r := cs.zoom.r
	if r.IsLive() {
		return
	}
	step := (r.To - r.From) / 2
	if dir < 0 {
		step = -step
	}
	r.From, r.To = r.From+step, r.To+step
	if r.To >= now.UnixMilli() {
		r = Range{}
	}
	s.setZoom(panelID, r)
}

func (s *Shell) chartState(id string) *chartState {
	if s.charts == nil {
		s.charts = map[string]*chartState{}
	}
	cs := s.charts[id]
	if cs == nil {
		cs = &chartState{}
		s.charts[id] = cs
	}
	return cs
}

// chartHooks are the hooks of a panel's chart: browser callbacks, so each
// hands its work to the UI goroutine.
func (s *Shell) chartHooks(ctx app.Context, panelID string) ChartHooks {
	return ChartHooks{
		Changed: s.redraw,
		Zoom: func(from, to int64) {
			ctx.Dispatch(func(app.Context) {
				s.setZoom(panelID, Range{from, to})
				s.redraw()
			})
		},
		Live: func() {
			ctx.Dispatch(func(app.Context) {
				s.setZoom(panelID, Range{})
				s.redraw()
			})
		},
	}
}

// zoomControls are a zoomed panel's buttons: pan back, pan forward, live.
func (s *Shell) zoomControls(p dashboard.Panel) app.UI {
	cs := s.charts[chartID(p.ID)]
	if cs == nil || cs.zoom.r.IsLive() {
		return nil
	}
	z := cs.zoom
	label := s.clock(time.UnixMilli(z.r.From)) + " – " + s.clock(time.UnixMilli(z.r.To))
	if z.fetching {
		label += " · loading history…"
	}
	// The buttons come first, on a row of their own (telltale.css): the
	// range's label changes on every pan (and gains "loading history…"),
	// and the arrows must not move under the operator's finger (e2e
	// TestHistoryFailureIsShown once missed a ◀ click that way;
	// TestPanPastThePageLoadsHistory checks they stay put).
	return app.Div().Class("tt-zoom").Body(
		app.Button().Class("tt-zoom-back").Title("Earlier").Text("◀").OnClick(func(ctx app.Context, _ app.Event) {
			s.pan(p.ID, -1, time.Now())
			s.redraw()
		}),
		app.Button().Class("tt-zoom-forward").Title("Later").Text("▶").OnClick(func(ctx app.Context, _ app.Event) {
			s.pan(p.ID, 1, time.Now())
			s.redraw()
		}),
		app.Button().Class("tt-zoom-live").Title("Follow the newest data (or double-click the chart)").Text("Live").OnClick(func(ctx app.Context, _ app.Event) {
			s.setZoom(p.ID, Range{})
			s.redraw()
		}),
		app.Span().Class("tt-zoom-range").Text(label),
	)
}

// historyError says, on its own line of a zoomed panel's head (so the
// arrows do not move under the operator's finger), why its history is not
// drawn, with a Retry button; nil when nothing failed.
func (s *Shell) historyError(p dashboard.Panel) app.UI {
	cs := s.charts[chartID(p.ID)]
	if cs == nil || cs.zoom.r.IsLive() || cs.zoom.err == "" {
		return nil
	}
	return app.Div().Class("tt-zoom-error").Body(
		app.Span().Text("could not load "+cs.zoom.err+" "),
		app.Button().Class("tt-zoom-retry").Title("Ask the server for this range's history again").Text("Retry").OnClick(func(app.Context, app.Event) {
			s.retryHistory(p.ID)
			s.redraw()
		}),
	)
}

// windowURL is the server's decimated window of a panel's series.
func windowURL(base *url.URL, p dashboard.Panel, r Range, width int) string {
	u := base.JoinPath("/api/v1/streams", p.Stream, "window")
	q := url.Values{}
	q.Set("from", strconv.FormatInt(r.From, 10))
	q.Set("to", strconv.FormatInt(r.To, 10))
	q.Set("width", strconv.Itoa(width))
	q.Set("series", strings.Join(p.Series, ","))
	u.RawQuery = q.Encode()
	return u.String()
}

// startWindowFetches sets how the shell asks the server for a window: in
// the background, answered on the UI goroutine.
func (s *Shell) startWindowFetches(ctx app.Context) {
	// It is called while the client's state is read (under its lock), so
	// everything touching the client happens in the goroutine.
	s.fetchWindow = func(p dashboard.Panel, r Range, width int) {
		// A render shows "loading history…" now: the fetch starts while
		// charts are drawn, which renders nothing unless data changed.
		s.invalidate(ctx)
		fctx, cancel := context.WithCancel(ctx)
		s.chartState(chartID(p.ID)).zoom.cancel = cancel
		ctx.Async(func() {
			defer cancel()
			pts, err := fetchHistory(fctx, windowURL(origin(), p, r, width), s.client.Token())
			ctx.Dispatch(func(app.Context) {
				cs := s.chartState(chartID(p.ID))
				if cs.zoom.r != r {
					return // zoomed elsewhere meanwhile
				}
				cs.zoom.fetching, cs.zoom.cancel = false, nil
				if err != nil {
					cs.zoom.err = err.Error() // Dispatch renders it
					return
				}
				cs.zoom.remote, cs.zoom.remoteWidth = pts, width
				cs.zoom.gen++
				s.redraw()
			})
		})
	}
}

// fetchHistory is fetchWindow, again while the server answers 503 (it
// reads two windows at once, queues the others a few seconds, then asks
// them to retry), after 1, 2 then 4 s.
func fetchHistory(ctx context.Context, url, token string) (*wire.Points, error) {
	for wait := time.Second; ; wait *= 2 {
		pts, err := fetchWindow(ctx, url, token)
		var he *client.HTTPError
		if err == nil || !errors.As(err, &he) || he.Status != 503 || wait > 4*time.Second {
			return pts, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// fetchWindow GETs a window and decodes its snapshot frame.
func fetchWindow(ctx context.Context, url, token string) (*wire.Points, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := fetchBytes(ctx, url, token)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f, err := wire.DecodeServer(b)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	snap, ok := f.(wire.Snapshot)
	if !ok {
		return nil, errors.New("history: unexpected answer")
	}
	return &snap.State.Points, nil
}

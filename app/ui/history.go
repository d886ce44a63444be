package ui

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// History then live (issue 17). A live time-series chart shows its whole
// window: what the page holds of the stream (the snapshot's bounded tail,
// then every event since) is the live part; whatever the window reaches
// before the page's oldest point is asked of the server once
// (GET /api/v1/streams/{s}/window, decimated to the chart's width, as the
// zoom path does) and kept per chart apart from the client's table, as a
// history prefix:
//
//   - The chart is drawn from the snapshot at once; the request goes out on
//     that same frame and never delays it. "loading history…" shows in the
//     panel's head while it is out; when it comes, the chart is drawn again
//     with the prefix.
//   - The join is by time: the prefix's points before the first live point
//     drawn, then the live points. The server answers [from, to] inclusive
//     and to is the page's oldest point, so that point is drawn once, from
//     the live table, and the line runs from the prefix's last point to the
//     live part's first with no gap. Live events keep being applied to the
//     client's table while the request is out; they are never merged into
//     the prefix, so none is lost, doubled or reordered.
//   - The prefix is trimmed to the window as it moves on (points older than
//     the window are dropped when the chart is drawn) and dropped once the
//     window no longer reaches before the page's oldest point.
//   - When the page's oldest point moves later than the prefix's end (the
//     table cut back to its limit, or a resync's snapshot that starts
//     later), only the hole [prefix end, oldest) is asked and appended.
//   - A failed request says so in the head and is asked again after 2, 4,
//     … 30 s; the live points stay drawn meanwhile.
//
// The same holds for an aggregate's buckets (a derived stream: its stored
// events are points) and for a lite page's m4 stream, whose snapshot often
// covers the window already: nothing is asked then, as for any chart whose
// window the page holds. A gap shorter than a pixel column of the window
// is not asked either: it would not show.

// openHistory is a live chart's history prefix, kept in its chartState.
type openHistory struct {
	// ts and cols (by series name) are the prefix: the server's decimation
	// of [from, to], ascending.
	ts   []int64
	cols map[string][]float64
	// from and to are the range the prefix covers; to is zero until a
	// first answer arrives.
	from, to int64
	fetching bool
	asked    Range              // the request out
	cancel   context.CancelFunc // aborts it
	err      string             // the last failure, until the retry
	failures int
	gen      int // bumped when the prefix changes: the chart redraws
	// Output buffers of join, reused.
	outTS   []int64
	outVals [][]float64
}

// historyRetry is how long after its n-th failure (from 1) a prefix is asked
// again: 2, 4, 8, 16, then 30 s.
func historyRetry(n int) time.Duration {
	if n > 4 {
		return 30 * time.Second
	}
	return time.Second << n
}

// missing returns the range a live chart needs from the server, if any: the
// window [from, oldest) less what the prefix holds. span is a pixel
// column of the window: a hole narrower than that is not asked.
func (h *openHistory) missing(from, oldest, span int64) (Range, bool) {
	if oldest-from <= span {
		return Range{}, false
	}
	if h.to == 0 || h.from > from+span {
		// Nothing yet, or a window that grew (a new version of the spec):
		// the whole of it.
		return Range{from, oldest}, true
	}
	if oldest-h.to <= span {
		return Range{}, false
	}
	return Range{max(from, h.to), oldest}, true
}

// add puts an answer for r into the prefix: a first answer (or one for the
// whole window) replaces it, one for the hole after it is appended.
func (h *openHistory) add(r Range, pts *wire.Points, names []string) {
	if h.to == 0 || r.From < h.to {
		h.ts, h.cols, h.from = h.ts[:0], map[string][]float64{}, r.From
	}
	for i, t := range pts.TS {
		if t < r.From || t >= r.To || (len(h.ts) > 0 && t < h.ts[len(h.ts)-1]) {
			continue // outside what was asked, or before the prefix's end
		}
		again := len(h.ts) > 0 && t == h.ts[len(h.ts)-1] // upserted: the later row wins
		if !again {
			h.ts = append(h.ts, t)
		}
		for _, name := range names {
			v := math.NaN()
			if c := pts.Col(name); len(c) == len(pts.TS) {
				v = c[i]
			}
			col := h.cols[name]
			if again && len(col) == len(h.ts) {
				col[len(col)-1] = v
				continue
			}
			for len(col) < len(h.ts)-1 {
				col = append(col, math.NaN()) // a series this answer adds
			}
			h.cols[name] = append(col, v)
		}
	}
	h.to = r.To
	h.gen++
}

// trim drops the prefix's points before from (the window moved on), and
// the whole prefix once the window starts at or after its end.
func (h *openHistory) trim(from int64) {
	if h.to == 0 {
		return
	}
	if from >= h.to {
		h.ts, h.cols, h.from, h.to = nil, nil, 0, 0
		return
	}
	i := sort.Search(len(h.ts), func(i int) bool { return h.ts[i] >= from })
	if i == 0 {
		return
	}
	// Copy down only once a good part is stale, so trimming stays O(1)
	// per point.
	if i >= len(h.ts)/4 {
		h.ts = append(h.ts[:0], h.ts[i:]...)
		for name, c := range h.cols {
			if len(c) > i {
				h.cols[name] = append(c[:0], c[i:]...)
			} else {
				h.cols[name] = c[:0]
			}
		}
	}
	h.from = max(h.from, from)
}

// join returns the prefix's points in [from, the first live point) followed
// by the live ones (ts, cols in the order of names); the live slices
// themselves when the prefix has nothing to add.
func (h *openHistory) join(from int64, names []string, ts []int64, cols [][]float64) ([]int64, [][]float64) {
	end := int64(math.MaxInt64)
	if len(ts) > 0 {
		end = ts[0]
	}
	lo := sort.Search(len(h.ts), func(i int) bool { return h.ts[i] >= from })
	hi := sort.Search(len(h.ts), func(i int) bool { return h.ts[i] >= end })
	if lo >= hi {
		return ts, cols
	}
	h.outTS = append(append(h.outTS[:0], h.ts[lo:hi]...), ts...)
	for len(h.outVals) < len(names) {
		h.outVals = append(h.outVals, nil)
	}
	h.outVals = h.outVals[:len(names)]
	for s, name := range names {
		out := h.outVals[s][:0]
		if c := h.cols[name]; len(c) >= hi {
			out = append(out, c[lo:hi]...)
		} else {
			out = appendGaps(out, hi-lo)
		}
		if s < len(cols) && len(cols[s]) == len(ts) {
			out = append(out, cols[s]...)
		} else {
			out = appendGaps(out, len(ts))
		}
		h.outVals[s] = out
	}
	return h.outTS, h.outVals
}

func appendGaps(v []float64, n int) []float64 {
	for range n {
		v = append(v, math.NaN())
	}
	return v
}

// withHistory is a live chart's picture with its history prefix: it trims
// the prefix to the window, asks the server for what the window lacks (in
// the background: the live points are drawn now), and joins. pts is the
// page's table, ts and cols the live picture drawn from it.
func (s *Shell) withHistory(cs *chartState, p dashboard.Panel, pts *wire.Points, width int, ts []int64, cols [][]float64) ([]int64, [][]float64) {
	if len(pts.TS) == 0 {
		return ts, cols
	}
	h := &cs.open
	window := windowOf(p).Milliseconds()
	from := pts.TS[len(pts.TS)-1] - window
	h.trim(from)
	// The oldest point drawn: the page's table's, or older ones its
	// incremental columns still hold after the table was cut.
	oldest := pts.TS[0]
	if len(ts) > 0 {
		oldest = min(oldest, ts[0])
	}
	if r, ok := h.missing(from, oldest, window/int64(max(width, 1))); ok && !h.fetching && h.err == "" && s.fetchOpen != nil && width > 0 {
		h.fetching, h.asked = true, r
		s.fetchOpen(p, r, historyWidth(r, window, width))
	}
	return h.join(from, p.Series, ts, cols)
}

// historyWidth is the pixel columns of r at the chart's scale: the window
// over width columns.
func historyWidth(r Range, window int64, width int) int {
	span := max(1, (window+int64(width)-1)/int64(width))
	return int(min(max(1, (r.To-r.From+span-1)/span), MaxHistoryWidth))
}

// MaxHistoryWidth is the server's bound on a window request's columns
// (httpapi.MaxWindowWidth).
const MaxHistoryWidth = 8192

// startOpenFetches sets how the shell asks for live charts' history: in
// the background, answered on the UI goroutine.
func (s *Shell) startOpenFetches(ctx app.Context) {
	s.fetchOpen = func(p dashboard.Panel, r Range, width int) {
		s.invalidate(ctx) // shows "loading history…"
		fctx, cancel := context.WithCancel(ctx)
		s.chartState(chartID(p.ID)).open.cancel = cancel
		ctx.Async(func() {
			defer cancel()
			pts, err := fetchHistory(fctx, windowURL(origin(), p, r, width), s.client.Token())
			ctx.Dispatch(func(app.Context) {
				s.openAnswered(p, r, pts, err)
			})
		})
	}
	s.later = func(d time.Duration, f func()) {
		time.AfterFunc(d, func() { ctx.Dispatch(func(app.Context) { f() }) })
	}
}

// openAnswered takes a live chart's history answer on the UI goroutine: the
// prefix grows and the chart is drawn again, or the failure is shown and
// the range asked again later.
func (s *Shell) openAnswered(p dashboard.Panel, r Range, pts *wire.Points, err error) {
	cs := s.chartState(chartID(p.ID))
	h := &cs.open
	if !h.fetching || h.asked != r {
		return
	}
	h.fetching, h.cancel = false, nil
	if err != nil {
		h.err = err.Error()
		h.failures++
		s.later(historyRetry(h.failures), func() {
			h.err = ""
			cs.key = drawKey{} // draw again, which asks
			s.redraw()
		})
		s.redraw() // the live points stay; the head says why
		return
	}
	h.err, h.failures = "", 0
	h.add(r, pts, p.Series)
	s.redraw()
}

// historyNote says in a live chart's head that its history is loading, or
// why it is not drawn (and that it will be asked again); nil otherwise.
func (s *Shell) historyNote(p dashboard.Panel) app.UI {
	cs := s.charts[chartID(p.ID)]
	if cs == nil || !cs.zoom.r.IsLive() {
		return nil
	}
	switch {
	case cs.open.fetching:
		return app.Span().Class("tt-history").ID("history-" + p.ID).Text("loading history…")
	case cs.open.err != "":
		return app.Span().Class("tt-history", "tt-history-error").ID("history-" + p.ID).
			Title("The live data is drawn; the history before it is asked again shortly.").
			Text("could not load " + cs.open.err + " · retrying")
	}
	return nil
}

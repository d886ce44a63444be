package ui

import (
	"math"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/decimate"
	"github.com/telltale/telltale/shared/wire"
)

// chartPanel owns one chart's element: the chart is created when the element
// is mounted and destroyed with it. Data arrives from the shell's frame.
type chartPanel struct {
	app.Compo
	ID     string
	Spec   ChartSpec
	charts Charts
	hooks  ChartHooks
	// mounted is told that the chart was created, empty (Shell.chartMounted).
	mounted func(id string)
}

func (c *chartPanel) OnMount(app.Context) {
	if c.charts != nil {
		c.charts.Create(c.ID, c.Spec, c.hooks.orNoop())
	}
	if c.mounted != nil {
		c.mounted(c.ID)
	}
}

// orNoop fills unset hooks with no-ops (the server pre-render has none).
func (h ChartHooks) orNoop() ChartHooks {
	if h.Changed == nil {
		h.Changed = func() {}
	}
	if h.Zoom == nil {
		h.Zoom = func(int64, int64) {}
	}
	if h.Live == nil {
		h.Live = func() {}
	}
	return h
}

func (c *chartPanel) OnDismount() {
	if c.charts != nil {
		c.charts.Destroy(c.ID)
	}
}

func (c *chartPanel) Render() app.UI {
	return app.Div().Class("tt-chart").ID(c.ID)
}

// window returns the panel's series over its time window, as slices of the
// state (no copy): the bridge copies them into typed arrays at once. A
// series the stream does not have is a column of gaps (NaN) as long as the
// others, as Charts.SetData wants every column.
func window(p *wire.Points, panel dashboard.Panel) ([]int64, [][]float64) {
	n := len(p.TS)
	start := 0
	if n > 0 {
		from := p.TS[n-1] - windowOf(panel).Milliseconds()
		// Timestamps ascend: binary search for the window's first point.
		lo, hi := 0, n
		for lo < hi {
			mid := (lo + hi) / 2
			if p.TS[mid] < from {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		start = lo
	}
	cols := make([][]float64, len(panel.Series))
	for i, name := range panel.Series {
		if vals := p.Col(name); len(vals) == n {
			cols[i] = vals[start:]
		} else {
			cols[i] = gaps(n - start)
		}
	}
	return p.TS[start:], cols
}

// decimated is one chart's incremental decimation (decimate.Columns): pixel
// columns aligned to absolute time, of which each frame updates only the
// newest, so a frame costs what arrived, not what the window holds.
type decimated struct {
	cols decimate.Columns
	gen  int // the client's snapshot+resume count at the last update
	vals [][]float64
}

// update returns the panel's window decimated to width pixel columns. gen
// changes when the stream's table was replaced (a snapshot), which starts
// the columns over; an unknown width draws the window as it is.
func (d *decimated) update(p *wire.Points, panel dashboard.Panel, width, gen int) ([]int64, [][]float64) {
	if width <= 0 || len(p.TS) == 0 {
		return window(p, panel)
	}
	if gen != d.gen {
		d.cols.Reset()
		d.gen = gen
	}
	to := p.TS[len(p.TS)-1]
	from := to - windowOf(panel).Milliseconds()
	span := max(1, (to-from+int64(width)-1)/int64(width))
	d.vals = d.vals[:0]
	for _, name := range panel.Series {
		vals := p.Col(name)
		if len(vals) != len(p.TS) {
			vals = nil // a series the stream does not have: gaps
		}
		d.vals = append(d.vals, vals)
	}
	return d.cols.Update(p.TS, d.vals, from, to, span)
}

// gaps is n NaNs: a series the data does not have.
func gaps(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

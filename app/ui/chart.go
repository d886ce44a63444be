package ui

import (
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
}

func (c *chartPanel) OnMount(app.Context) {
	if c.charts != nil {
		c.charts.Create(c.ID, c.Spec)
	}
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
// state (no copy): the bridge copies them into typed arrays at once.
func window(p *wire.Points, panel dashboard.Panel) ([]int64, [][]float64) {
	secs := panel.WindowSeconds
	if secs <= 0 {
		secs = 60
	}
	n := len(p.TS)
	start := 0
	if n > 0 {
		from := p.TS[n-1] - int64(secs)*1000
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
		}
	}
	return p.TS[start:], cols
}

// decimated is a chart's reused buffers for its decimated window.
type decimated struct {
	idx  []int
	ts   []int64
	cols [][]float64
}

// decimate reduces an aligned window to what width pixel columns can show
// (decimate.M4Indices: every series keeps each column's first, last, min,
// max and gaps, so the drawn lines cover the same pixels). A window that
// already fits, or an unknown width, comes back as it is.
func (d *decimated) decimate(ts []int64, cols [][]float64, width int) ([]int64, [][]float64) {
	if width <= 0 || len(ts) <= 4*width {
		return ts, cols
	}
	idx, err := decimate.M4Indices(ts, cols, ts[0], ts[len(ts)-1], width, d.idx)
	if err != nil {
		return ts, cols // the state keeps timestamps ascending; draw it whole rather than nothing
	}
	d.idx = idx
	d.ts = d.ts[:0]
	for _, i := range idx {
		d.ts = append(d.ts, ts[i])
	}
	for len(d.cols) < len(cols) {
		d.cols = append(d.cols, nil)
	}
	d.cols = d.cols[:len(cols)]
	for s, vs := range cols {
		out := d.cols[s][:0]
		if len(vs) == len(ts) {
			for _, i := range idx {
				out = append(out, vs[i])
			}
		}
		d.cols[s] = out
	}
	return d.ts, d.cols
}

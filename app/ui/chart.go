package ui

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
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

//go:build js && wasm

package main

import (
	"math"
	"syscall/js"
	"time"

	"github.com/telltale/telltale/app/ui"
)

// uplot implements ui.Charts with uPlot (static/uplot, from the npm package).
// Each chart is created once; SetData refills its reused typed arrays with one
// bulk copy per series and calls setData.
type uplot struct {
	charts  map[string]*chart
	painted bool
	loc     *intl
	xTicks  js.Func // the time axis' tick labels, in the operator's locale
	ySize   js.Func // the value axis' width, from its longest label
}

type chart struct {
	el, u   js.Value
	spec    ui.ChartSpec
	xs      float64Array
	ys      []float64Array
	xbuf    []float64 // ms timestamps as float64, reused
	nanbuf  []float64 // for a series missing from the data
	ro      js.Value  // ResizeObserver
	onSize  js.Func
	io      js.Value // IntersectionObserver
	onSeen  js.Func
	data    []any // the arrays for the next setData
	xr      ui.Range
	apply   js.Func // calls setData(data), run by uPlot's batch
	hooks   ui.ChartHooks
	onSel   js.Func // uPlot's setSelect hook: a drag zooms
	onDbl   js.Func // double-click: back to live
	yTicks  js.Func // the value axis' tick labels, as spec.Value says
	w       int     // pixel width, kept by the ResizeObserver
	visible bool    // kept by the IntersectionObserver
	created bool

	// ylo, yhi are each series' finite extremes over the range shown, as
	// of the last SetData (ylo > yhi: none); yRange hands them to uPlot.
	ylo, yhi []float64
	yRange   js.Func
}

var palette = []string{"#4cc9f0", "#f72585", "#b8f35d", "#ffb703", "#9d8df1", "#06d6a0"}

func newUPlot(loc *intl) *uplot {
	p := &uplot{charts: make(map[string]*chart), loc: loc}
	// uPlot's own time ticks are US-ordered ("12/6") whatever the
	// operator's locale: these are Intl's.
	p.xTicks = js.FuncOf(func(_ js.Value, args []js.Value) any {
		splits, incr := args[1], args[4].Float()
		out := make([]any, splits.Length())
		for i := range out {
			out[i] = loc.Tick(int64(splits.Index(i).Float()), incr)
		}
		return out
	})
	// uPlot's value axis is 50 px whatever its labels: "1.234.567 €" would
	// be cut. 7 px a character of its 12 px font, plus the ticks and gap.
	p.ySize = js.FuncOf(func(_ js.Value, args []js.Value) any {
		size := 40
		if vals := args[1]; vals.Truthy() {
			for i := range vals.Length() {
				if v := vals.Index(i); v.Type() == js.TypeString {
					size = max(size, 7*len([]rune(v.String()))+20)
				}
			}
		}
		return size
	})
	return p
}

const chartHeight = 220

func (p *uplot) Create(id string, spec ui.ChartSpec, hooks ui.ChartHooks) {
	changed := hooks.Changed
	el := js.Global().Get("document").Call("getElementById", id)
	if el.IsNull() {
		return
	}
	// Visible until the IntersectionObserver says otherwise (a browser
	// without one draws every chart).
	c := &chart{el: el, spec: spec, hooks: hooks, ys: make([]float64Array, len(spec.Series)), visible: true}
	p.charts[id] = c
	io := js.Global().Get("IntersectionObserver")
	if !io.Truthy() {
		c.tryCreate(p)
	}
	// Else the uPlot instance is made when the chart first comes into view
	// (or gets data, SetData): making one costs 50-100 ms on a throttled
	// phone, and a phone's first screen shows two or three of the charts,
	// so a cold start no longer makes the others before drawing the first
	// (bench/results/2026-12-06-coldvisit.md).
	c.w = c.width()
	c.onSize = js.FuncOf(func(js.Value, []js.Value) any {
		w := c.width()
		if w == c.w {
			return nil
		}
		c.w = w
		if c.created {
			c.u.Call("setSize", map[string]any{"width": c.w, "height": chartHeight})
		}
		changed() // re-decimate for the new width
		return nil
	})
	if ro := js.Global().Get("ResizeObserver"); ro.Truthy() {
		c.ro = ro.New(c.onSize)
		c.ro.Call("observe", el)
	}
	c.onSeen = js.FuncOf(func(_ js.Value, args []js.Value) any {
		entries := args[0]
		n := entries.Length()
		if n == 0 {
			return nil
		}
		// The last entry is the newest state of this one element.
		seen := entries.Index(n - 1).Get("isIntersecting").Bool()
		if seen {
			c.tryCreate(p)
		}
		if seen != c.visible {
			c.visible = seen
			if seen {
				changed() // draw what arrived while it was out of view
			}
		}
		return nil
	})
	if io.Truthy() {
		c.io = io.New(c.onSeen)
		c.io.Call("observe", el)
	}
}

func (c *chart) width() int {
	w := c.el.Get("clientWidth").Int()
	if w < 100 {
		w = 100
	}
	return w
}

// tryCreate makes the uPlot instance once the uPlot script has loaded (it is
// a plain script tag and may finish after the wasm in a cold start).
func (c *chart) tryCreate(p *uplot) bool {
	if c.created {
		return true
	}
	ctor := js.Global().Get("uPlot")
	if !ctor.Truthy() {
		return false
	}
	c.onSel = js.FuncOf(func(_ js.Value, args []js.Value) any {
		u := args[0]
		sel := u.Get("select")
		left, width := sel.Get("left").Float(), sel.Get("width").Float()
		if width < 5 {
			return nil // a click, not a selection
		}
		from := u.Call("posToVal", left, "x").Float()
		to := u.Call("posToVal", left+width, "x").Float()
		u.Call("setSelect", map[string]any{"left": 0, "top": 0, "width": 0, "height": 0}, false)
		c.hooks.Zoom(int64(from), int64(to))
		return nil
	})
	c.onDbl = js.FuncOf(func(js.Value, []js.Value) any {
		c.hooks.Live()
		return nil
	})
	// uPlot's autoscale takes only null as a gap, and a Float64Array holds
	// no null: a series whose first value in view is NaN (one the stream
	// does not have, one that began later, a zoom's padding) made the y
	// scale NaN, and then no series was drawn at all. So the y range comes
	// from the finite extremes SetData measured, of the series shown, padded
	// as uPlot's own default range (rangeNum with its 0.1 pad) pads them.
	rangeNum := ctor.Get("rangeNum")
	c.yRange = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) < 2 || args[1].IsNull() || args[1].IsUndefined() {
			return []any{nil, nil} // no data: as uPlot's default
		}
		shown := args[0].Get("series")
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range c.ylo {
			if c.ylo[i] <= c.yhi[i] && shown.Index(i+1).Get("show").Bool() {
				lo, hi = min(lo, c.ylo[i]), max(hi, c.yhi[i])
			}
		}
		if lo > hi {
			lo, hi = 0, 1 // nothing finite in view: an empty grid
		}
		return rangeNum.Invoke(lo, hi, 0.1, true)
	})
	c.yTicks = js.FuncOf(func(_ js.Value, args []js.Value) any {
		splits := args[1]
		out := make([]any, splits.Length())
		for i := range out {
			out[i] = c.spec.Value.Number(p.loc, splits.Index(i).Float())
		}
		return out
	})
	// 1 CSS pixel: Skia draws a stroke no wider than a device pixel as a
	// hairline, without the stroker. At 1.5 the render benchmark's 8
	// panels × 10 series took 67 ms a frame, at 1 they hold 60 fps
	// (bench/results/2026-11-22-render.md). A lite chart on a phone (3
	// device pixels a CSS pixel) is drawn one device pixel wide: its
	// frames p95 went from 183 to 83 ms (bench/results/2026-12-06-phone.md).
	width := 1.0
	if dpr := js.Global().Get("devicePixelRatio").Float(); c.spec.Hairline && dpr > 1 {
		width = 1 / dpr
	}
	series := []any{map[string]any{}}
	for i, name := range c.spec.Series {
		label := name
		if i < len(c.spec.Labels) {
			label = c.spec.Labels[i]
		}
		if c.spec.Unit != "" {
			label += " (" + c.spec.Unit + ")"
		}
		stroke := palette[i%len(palette)]
		if i < len(c.spec.Colors) {
			stroke = c.spec.Colors[i]
		}
		s := map[string]any{
			"label":  label,
			"stroke": stroke,
			"width":  width,
			"points": map[string]any{"show": false},
		}
		if c.spec.Marks {
			delete(s, "points") // uPlot's default: dots while they are sparse
		}
		series = append(series, s)
	}
	axis := func() map[string]any {
		return map[string]any{"stroke": "#9aa4b2", "grid": map[string]any{"stroke": "rgba(255,255,255,0.07)"}, "ticks": map[string]any{"stroke": "rgba(255,255,255,0.12)"}}
	}
	xAxis, yAxis := axis(), axis()
	// Ticks as far apart as a label is wide ("12:27:39 PM" in en-US), and
	// room on the right for half of the last one, which uPlot would cut.
	label := 7*len([]rune(p.loc.Tick(time.Now().UnixMilli(), 1000))) + 8
	xAxis["values"], xAxis["space"] = p.xTicks, label+16
	yAxis["values"], yAxis["size"] = c.yTicks, p.ySize
	if c.spec.Unit != "" {
		yAxis["label"], yAxis["labelSize"], yAxis["labelFont"] = c.spec.Unit, 18, "12px system-ui, sans-serif"
	}
	opts := map[string]any{
		"width":   c.width(),
		"height":  chartHeight,
		"ms":      1, // x values are Unix milliseconds
		"series":  series,
		"axes":    []any{xAxis, yAxis},
		"padding": []any{nil, label / 2, nil, nil},
		"scales":  map[string]any{"y": map[string]any{"range": c.yRange}},
		"legend":  map[string]any{"live": false},
		// A drag selects a time range; the shell zooms (setScale false:
		// the shell owns the range, so live data does not undo it).
		"cursor": map[string]any{"drag": map[string]any{"x": true, "y": false, "setScale": false}},
		"hooks":  map[string]any{"setSelect": []any{c.onSel}},
	}
	empty := []any{[]any{}}
	for range c.spec.Series {
		empty = append(empty, []any{})
	}
	c.u = ctor.New(opts, empty, c.el)
	c.apply = js.FuncOf(func(js.Value, []js.Value) any {
		if c.xr.IsLive() {
			c.u.Call("setData", c.data)
			return nil
		}
		// Zoomed: keep the shell's range (y still fits what is in it).
		c.u.Call("setData", c.data, false)
		c.u.Call("setScale", "x", map[string]any{"min": c.xr.From, "max": c.xr.To})
		return nil
	})
	c.u.Get("over").Call("addEventListener", "dblclick", c.onDbl)
	// Exposed for the end-to-end tests, which read the drawn data length.
	c.el.Set("_uplot", c.u)
	c.created = true
	return true
}

func (p *uplot) SetData(id string, ts []int64, cols [][]float64, xr ui.Range) {
	c, ok := p.charts[id]
	if !ok || !c.tryCreate(p) {
		return
	}
	n := len(ts)
	if cap(c.xbuf) < n {
		c.xbuf = make([]float64, n, 2*n)
	}
	c.xbuf = c.xbuf[:n]
	for i, t := range ts {
		c.xbuf[i] = float64(t)
	}
	// The rows in view: all of them live, those inside xr zoomed.
	lo, hi := 0, n
	if !xr.IsLive() {
		for lo < n && ts[lo] < xr.From {
			lo++
		}
		for hi > lo && ts[hi-1] > xr.To {
			hi--
		}
	}
	data := c.data[:0]
	data = append(data, c.xs.fill(c.xbuf))
	c.ylo, c.yhi = c.ylo[:0], c.yhi[:0]
	for i := range c.ys {
		var src []float64
		if i < len(cols) && len(cols[i]) == n {
			src = cols[i]
		} else {
			src = c.nans(n)
		}
		data = append(data, c.ys[i].fill(src))
		l, h := math.Inf(1), math.Inf(-1)
		for _, v := range src[lo:hi] {
			if v < l { // NaN compares false: gaps are skipped
				l = v
			}
			if v > h {
				h = v
			}
		}
		c.ylo, c.yhi = append(c.ylo, l), append(c.yhi, h)
	}
	// batch draws now instead of on uPlot's microtask, so the shell's frame
	// budget measures what drawing costs.
	c.data, c.xr = data, xr
	c.u.Call("batch", c.apply)
	c.el.Get("dataset").Set("points", n)
	if n > 0 && !p.painted {
		// Time from navigation to the first drawn chart, for the end-to-end
		// tests and anyone profiling a cold start.
		p.painted = true
		js.Global().Get("performance").Call("mark", "telltale:first-chart")
	}
}

func (c *chart) nans(n int) []float64 {
	for len(c.nanbuf) < n {
		c.nanbuf = append(c.nanbuf, math.NaN())
	}
	return c.nanbuf[:n]
}

// Width is the chart's width as of its last resize (no layout read per frame).
func (p *uplot) Width(id string) int {
	if c, ok := p.charts[id]; ok {
		return c.w
	}
	return 0
}

// Visible reports whether the chart is in the viewport, as of the
// IntersectionObserver's last report.
func (p *uplot) Visible(id string) bool {
	c, ok := p.charts[id]
	return ok && c.visible
}

func (p *uplot) Destroy(id string) {
	c, ok := p.charts[id]
	if !ok {
		return
	}
	delete(p.charts, id)
	if c.ro.Truthy() {
		c.ro.Call("disconnect")
	}
	c.onSize.Release()
	if c.io.Truthy() {
		c.io.Call("disconnect")
	}
	c.onSeen.Release()
	if c.created {
		c.u.Get("over").Call("removeEventListener", "dblclick", c.onDbl)
		c.u.Call("destroy")
		c.apply.Release()
		c.yRange.Release()
		c.onSel.Release()
		c.onDbl.Release()
		c.yTicks.Release()
	}
}

package ui

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Panels over aggregates. The server computes a panel's Agg into a derived
// stream and the spec's Resolve names it in Panel.Stream, so most of the page
// draws such a panel as any other. What differs is here:
//
//   - a KPI over a grouped gauge (one row per group, Fields{"value"}) shows
//     the groups as a ranked list, "other" last;
//   - a time series that lists no Series draws every column of its stream
//     (the groups of a tumbling aggregate), ranked by value, each name in a
//     colour of its own for as long as the page lives, and a group that
//     appears later is added without a reload;
//   - the head says what is computed, on hover, and "waiting for the first
//     aggregate" until the derived stream has spoken;
//   - freshness holds a derived stream to no cadence shorter than its EmitMs
//     and learns it from arrivals, not from bucket timestamps.

// describe is an aggregate as one line for the panel head's tooltip:
// "sum(total) where status in (paid, shipped) by region, every 1m".
func describe(d *agg.Def) string {
	var b strings.Builder
	b.WriteString(fnText(d))
	if d.Filter != "" {
		b.WriteString(" where " + d.Filter)
	}
	if d.GroupBy != "" {
		b.WriteString(" by " + d.GroupBy)
		if d.Top > 0 {
			b.WriteString(" (top " + strconv.Itoa(d.Top) + ")")
		}
	}
	b.WriteString(", " + windowText(d))
	return b.String()
}

// fnText is "sum(total)", or "count" for a count of rows.
func fnText(d *agg.Def) string {
	if d.Field == "" {
		return d.Fn
	}
	return d.Fn + "(" + d.Field + ")"
}

// windowText says an aggregate's window in words.
func windowText(d *agg.Def) string {
	w := strings.TrimSpace(d.Window)
	tz := ""
	if d.TZ != "" {
		tz = " (" + d.TZ + ")"
	}
	switch {
	case w == "current":
		return "over the rows as they are now"
	case w == "today" || w == "this hour":
		return w + tz
	case strings.HasPrefix(w, "last "):
		return "over the " + w
	}
	return "every " + w
}

// bucketOf is the bucket of a tumbling aggregate (zero for other windows).
func bucketOf(d *agg.Def) time.Duration {
	if d == nil {
		return 0
	}
	w, err := time.ParseDuration(strings.TrimSpace(d.Window))
	if err != nil || w <= 0 {
		return 0
	}
	return w
}

// aggWindowBuckets is how many buckets a tumbling aggregate's chart shows
// when the panel sets no window_seconds: the default 60 s would show one
// bucket of a "1m" aggregate.
const aggWindowBuckets = 60

// windowOf is how much history a time series shows: window_seconds, else
// aggWindowBuckets buckets of a tumbling aggregate, else 60 s.
func windowOf(p dashboard.Panel) time.Duration {
	if p.WindowSeconds > 0 {
		return time.Duration(p.WindowSeconds) * time.Second
	}
	if b := bucketOf(p.Agg); b > 0 {
		return max(time.Minute, aggWindowBuckets*b)
	}
	return time.Minute
}

// drawsAll reports whether a time series draws every column of its stream:
// it lists no Series (an aggregate's groups are not known in advance).
func drawsAll(p dashboard.Panel) bool {
	return p.Kind == dashboard.KindTimeSeries && len(p.Series) == 0
}

// waitingAgg reports whether p is over an aggregate whose derived stream
// has not emitted yet: nothing is missing, it is early.
func waitingAgg(p dashboard.Panel, seq uint64) bool { return p.Agg != nil && seq == 0 }

// ranked is one group (or column) and the value it is ranked by.
type ranked struct {
	name string
	v    float64
}

// rank orders groups: the largest first, no value (NaN) after every number,
// "other" (the groups past the top N) always last, ties by name.
func rank(gs []ranked) {
	key := func(g ranked) (int, float64) {
		switch {
		case g.name == agg.Other:
			return 2, 0
		case math.IsNaN(g.v):
			return 1, 0
		}
		return 0, -g.v
	}
	sort.SliceStable(gs, func(i, j int) bool {
		ci, vi := key(gs[i])
		cj, vj := key(gs[j])
		if ci != cj {
			return ci < cj
		}
		if vi != vj {
			return vi < vj
		}
		return gs[i].name < gs[j].name
	})
}

// rankedColumns is the order a drawsAll chart shows its stream's columns
// in: by their value in the newest bucket that has closed (the newest one
// when only one is held), largest first, "other" last. Not the live
// bucket's: it fills from zero, so ranking by it would reshuffle the
// legend (and rebuild the chart) with every emission; a closed bucket's
// values change only when a late event reaches it.
func rankedColumns(p *wire.Points) []string {
	n := len(p.TS)
	if n == 0 || len(p.Cols) == 0 {
		return nil
	}
	at := n - 1
	// The last row before the newest timestamp: without an upsert fold a
	// live bucket is appended again at each emission, so it may repeat.
	for i := n - 1; i >= 0; i-- {
		if p.TS[i] < p.TS[n-1] {
			at = i
			break
		}
	}
	gs := make([]ranked, 0, len(p.Cols))
	for _, c := range p.Cols {
		v := math.NaN()
		if at < len(c.Vals) {
			v = c.Vals[at]
		}
		gs = append(gs, ranked{c.Name, v})
	}
	rank(gs)
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.name
	}
	return names
}

// groupPalette colours the groups of an aggregate: distinguishable on the
// dark background, the first six as the charts' default palette (wasm/).
// "other" is always grey, the same on every chart.
var groupPalette = []string{
	"#4cc9f0", "#f72585", "#b8f35d", "#ffb703", "#9d8df1", "#06d6a0",
	"#ff7f51", "#3a86ff", "#e9c46a", "#ef476f", "#80ed99", "#c77dff",
}

const otherColor = "#8b95a5"

// colours gives every series name of a chart a colour it keeps for the
// page's life, however the names are ranked: a name's colour is picked
// from a hash of it (so a group tends to have one colour on every chart
// and every visit), the next free one when that is taken.
type colours struct{ of map[string]string }

func (c *colours) colour(name string) string {
	if name == agg.Other {
		return otherColor
	}
	if col, ok := c.of[name]; ok {
		return col
	}
	if c.of == nil {
		c.of = map[string]string{}
	}
	used := make(map[string]bool, len(c.of))
	for _, col := range c.of {
		used[col] = true
	}
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	start := int(h % uint32(len(groupPalette)))
	col := groupPalette[start]
	for i := range groupPalette {
		if cand := groupPalette[(start+i)%len(groupPalette)]; !used[cand] {
			col = cand
			break
		}
	}
	c.of[name] = col
	return col
}

// allSeriesSpec is the chart of a drawsAll panel showing names, in order.
func allSeriesSpec(p dashboard.Panel, names []string, c *colours) ChartSpec {
	p.Series = names
	spec := chartSpec(p)
	spec.Colors = make([]string, len(names))
	for i, name := range names {
		spec.Colors[i] = c.colour(name)
	}
	return spec
}

// sameNames reports whether a and b list the same names in the same order.
func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// groupsOf are the groups a KPI over a grouped gauge window shows, ranked:
// its rows (key: the group, field "value").
func groupsOf(rows []rowView) []ranked {
	gs := make([]ranked, 0, len(rows))
	for _, r := range rows {
		v, ok := toFloat(r.fields[agg.Value])
		if !ok {
			v = math.NaN()
		}
		gs = append(gs, ranked{r.key, v})
	}
	rank(gs)
	return gs
}

// grouped reports whether a KPI shows its aggregate's groups.
func grouped(p dashboard.Panel) bool {
	return p.Kind == dashboard.KindKPI && p.Agg != nil && p.Agg.GroupBy != ""
}

// kpiGroups draws a grouped KPI: one line per group, its name and its value
// in the panel's format and unit, largest first, "other" last.
func (s *Shell) kpiGroups(p dashboard.Panel) app.UI {
	gs := groupsOf(s.view.rows[p.Stream])
	if len(gs) == 0 {
		return app.Div().Class("tt-kpi-value").ID("kpi-"+p.ID).Style("--tt-chars", "1").Text("—")
	}
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	loc := s.bridges.locale()
	items := make([]app.UI, len(gs))
	for i, g := range gs {
		text := "—"
		if !math.IsNaN(g.v) {
			text = withUnit(p, f.Number(loc, g.v))
		}
		label := g.name
		if l := p.Labels[g.name]; l != "" {
			label = l
		} else if label == "" {
			label = "(none)"
		}
		items[i] = app.Div().Class("tt-kpi-group").Attr("role", "listitem").DataSet("group", g.name).Body(
			app.Span().Class("tt-kpi-group-name").Text(label),
			app.Span().Class("tt-kpi-group-value").Text(text),
		)
	}
	// Divs with list roles, not <ol>/<li>: each go-app element type is
	// about 4 KB of app.wasm.
	return app.Div().Class("tt-kpi-groups").Attr("role", "list").ID("kpi-" + p.ID).Body(items...)
}

// withUnit is a KPI's value text followed by its unit, unless the value
// shows a currency.
func withUnit(p dashboard.Panel, text string) string {
	if p.Unit != "" && (p.Format != dashboard.FormatMoney || p.Currency == "") {
		return text + " " + p.Unit
	}
	return text
}

// emitFloor is the shortest cadence a derived stream can have: it speaks
// at most once per EmitMs.
func emitFloor(d *agg.Def) time.Duration {
	ms := d.EmitMs
	if ms <= 0 {
		ms = agg.DefaultEmitMs
	}
	return time.Duration(ms) * time.Millisecond
}

// derived reports whether a stream is an aggregate's: its points table's
// timestamps are bucket starts, not when anything arrived.
func derived(stream string) bool { return strings.HasPrefix(stream, agg.Prefix) }

// panelTitle is a panel's title; over an aggregate, hovering it says what
// the server computes.
func (s *Shell) panelTitle(p dashboard.Panel) app.UI {
	h := app.H2().Class("tt-panel-title")
	if p.Agg != nil {
		h = h.Title(describe(p.Agg))
	}
	return h.Text(p.Title)
}

// allSeries is what a drawsAll chart shows now: its stream's columns,
// ranked. When they differ from those the chart has, it is made again with
// them (a uPlot chart's series are fixed when it is made): when a group
// appears, or a closed bucket ranks them differently; at most once a bucket
// unless groups come and go.
func (s *Shell) allSeries(id string, cs *chartState, p dashboard.Panel, pts *wire.Points) []string {
	names := rankedColumns(pts)
	if !sameNames(names, cs.series) {
		cs.series = names
		cs.zoom.cols.Reset() // its columns hold the series in the old order
		s.bridges.Charts.Destroy(id)
		s.bridges.Charts.Create(id, allSeriesSpec(p, names, &cs.colours), s.hooks[p.ID].orNoop())
	}
	return cs.series
}

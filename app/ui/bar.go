package ui

import (
	"math"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// bar draws a bar panel: a grouped aggregate's groups, largest first
// ("other" last), each a bar as long as its share of the largest, in its
// level's colour when the panel has thresholds. Rows re-rank on every
// frame, so the order follows the data live.
func (s *Shell) bar(p dashboard.Panel) app.UI {
	gs := groupsOf(s.view.rows[p.Stream])
	if len(gs) == 0 {
		return app.Div().Class("tt-bars").ID("bar-" + p.ID).Body(app.Div().Class("tt-empty").Text("—"))
	}
	top := 0.0
	for _, g := range gs {
		if !math.IsNaN(g.v) {
			top = math.Max(top, math.Abs(g.v))
		}
	}
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	loc := s.bridges.locale()
	r := p.Rules()
	num := func(v float64) string { return f.Number(loc, v) }
	items := make([]app.UI, len(gs))
	for i, g := range gs {
		text, share, l := "—", 0.0, dashboard.LevelNone
		if !math.IsNaN(g.v) {
			text = withUnit(p, f.Number(loc, g.v))
			l = r.Number(g.v)
			if top > 0 {
				share = 100 * math.Abs(g.v) / top
			}
		}
		label := g.name
		if lb := p.Labels[g.name]; lb != "" {
			label = lb
		} else if label == "" {
			label = "(none)"
		}
		row := app.Div().Class("tt-bar-row", levelClass(l)).Attr("role", "listitem").
			DataSet("group", g.name).DataSet("level", string(l))
		if t := ruleText(l, r, num); t != "" {
			row = row.Title(t)
		}
		items[i] = row.Body(
			app.Span().Class("tt-bar-name").Body(levelBadge(l), app.Span().Text(label)),
			app.Span().Class("tt-bar-track").Body(app.Span().Class("tt-bar-fill").Style("width", "%.1f%%", share)),
			app.Span().Class("tt-bar-value").Text(text),
		)
	}
	return app.Div().Class("tt-bars").Attr("role", "list").ID("bar-" + p.ID).Body(items...)
}

package ui

import (
	"time"

	"sort"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// tile is one tile of a status panel: a row of its stream (or a group of
// its aggregate).
type tile struct {
	key, label, text string
	level            dashboard.Level
}

// tilesOf are a status panel's tiles for rows: one per row key, in key
// order so that a tile stays where it is while its level changes, each
// coloured by the panel's rules on its Field and labelled by its
// LabelField (else its key).
func tilesOf(p dashboard.Panel, rows []rowView, loc Locale, f Format, now time.Time) []tile {
	r := p.Rules()
	out := make([]tile, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	for _, row := range rows {
		if seen[row.key] { // rows hold a key once; a guard all the same
			continue
		}
		seen[row.key] = true
		v := row.field(p.Field)
		t := tile{key: row.key, label: row.key, level: levelOf(r, v)}
		if p.LabelField != "" {
			if l := row.field(p.LabelField); l != nil {
				t.label = Format{Name: dashboard.FormatText}.Value(loc, l, now)
			}
		}
		t.text = f.Value(loc, v, now)
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// status draws a status panel: a grid of tiles, each with its level's
// colour and mark, its label and value, and the rule on hover.
func (s *Shell) status(p dashboard.Panel) app.UI {
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	loc := s.bridges.locale()
	ts := tilesOf(p, s.view.rows[p.Stream], loc, f, s.now)
	if len(ts) == 0 {
		return app.Div().Class("tt-tiles").ID("status-" + p.ID).Body(app.Div().Class("tt-empty").Text("—"))
	}
	r := p.Rules()
	num := func(v float64) string { return f.Number(loc, v) }
	items := make([]app.UI, len(ts))
	for i, t := range ts {
		items[i] = app.Div().Class("tt-tile", levelClass(t.level)).Attr("role", "listitem").
			DataSet("key", t.key).DataSet("level", string(t.level)).
			Title(t.label+": "+t.text+" — "+ruleText(t.level, r, num)).
			Body(
				app.Div().Class("tt-tile-label").Body(levelBadge(t.level), app.Span().Text(t.label)),
				app.Div().Class("tt-tile-value").Text(withUnit(p, t.text)),
			)
	}
	return app.Div().Class("tt-tiles").Attr("role", "list").ID("status-" + p.ID).Body(items...)
}

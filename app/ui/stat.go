package ui

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// Stat panels, and what kpi panels share with them: a value's level by the
// panel's thresholds, and its change against an earlier value.
//
// Where the earlier value comes from, the simplest honest source:
//   - a stat over a bucketed aggregate (a tumbling window, "1m") shows its
//     newest bucket, draws its buckets, and compares with the bucket before;
//   - any other kpi or stat (a gauge, a row's field, a gauge window) keeps
//     the values the page has seen (history) and compares with the one it
//     held compare_seconds before; a page that has not been open that long
//     says "—".

// bucketed reports whether a stat shows a tumbling aggregate's buckets.
func bucketed(p dashboard.Panel) bool {
	return p.Kind == dashboard.KindStat && bucketOf(p.Agg) > 0
}

// sampleOf is a kpi's or stat's value in frame v (ok false: none yet).
func sampleOf(p dashboard.Panel, v *view) (float64, bool) {
	if name, ok := strings.CutPrefix(p.Field, "row."); ok {
		if rows := v.rows[p.Stream]; len(rows) > 0 {
			return toFloat(rows[0].field(name))
		}
		return 0, false
	}
	x, ok := v.values[p.Stream][p.Field]
	return x, ok
}

// recordHistory adds each kpi's and stat's value to its history, and copies
// a bucketed stat's buckets out of the client state. It runs in frame,
// under the client's read lock.
func (s *Shell) recordHistory(v *view, streams map[string]*livestate.Stream, now time.Time) {
	if s.hist == nil {
		s.hist = map[string]*history{}
	}
	for _, p := range s.spec.Panels {
		if (p.Kind != dashboard.KindKPI && p.Kind != dashboard.KindStat) || grouped(p) {
			continue
		}
		if bucketed(p) {
			h := &history{}
			if st := streams[p.Stream]; st != nil {
				pts := &st.State.Points
				for _, c := range pts.Cols {
					if c.Name != agg.Value {
						continue
					}
					for i, x := range c.Vals {
						if i >= len(pts.TS) {
							break
						}
						at := time.UnixMilli(pts.TS[i])
						// A live bucket may be held more than once (appended
						// at each emission): its latest value stands.
						if n := len(h.at); n > 0 && h.at[n-1].Equal(at) {
							h.v[n-1] = x
							continue
						}
						h.at = append(h.at, at)
						h.v = append(h.v, x)
					}
				}
			}
			s.hist[p.ID] = h
			continue
		}
		if x, ok := sampleOf(p, v); ok {
			h := s.hist[p.ID]
			if h == nil {
				h = &history{}
				s.hist[p.ID] = h
			}
			h.add(now, x)
		}
	}
}

// changeLine is a kpi's or stat's "▲ 12% vs 1 h ago", or nil when it asks
// for none.
func (s *Shell) changeLine(p dashboard.Panel, value float64, ok bool) app.UI {
	h := s.hist[p.ID]
	var text string
	switch {
	case bucketed(p):
		before, has := 0.0, false
		if h != nil && len(h.v) >= 2 {
			before, has = h.v[len(h.v)-2], true
		}
		text = change(value, before, has && ok) + " vs previous " + strings.TrimSpace(p.Agg.Window)
	case p.CompareSeconds > 0:
		before, has := 0.0, false
		if h != nil {
			before, has = h.ago(time.Duration(p.CompareSeconds) * time.Second)
		}
		text = change(value, before, has && ok) + " vs " + spanText(time.Duration(p.CompareSeconds)*time.Second)
	default:
		return nil
	}
	return app.Div().Class("tt-change").ID("change-" + p.ID).Text(text)
}

// valueOf is a kpi's or stat's current number (ok false: none).
func (s *Shell) valueOf(p dashboard.Panel) (float64, bool) {
	if bucketed(p) {
		if h := s.hist[p.ID]; h != nil && len(h.v) > 0 {
			return h.v[len(h.v)-1], true
		}
		return 0, false
	}
	return sampleOf(p, &s.view)
}

// leveled is a kpi's value element with its level: colour, mark, the rule
// on hover, and its change line.
func (s *Shell) leveled(p dashboard.Panel, value app.UI) app.UI {
	x, ok := s.valueOf(p)
	r := p.Rules()
	l := dashboard.LevelNone
	if ok {
		l = r.Number(x)
	}
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	loc := s.bridges.locale()
	return app.Div().Class("tt-leveled", levelClass(l)).DataSet("level", string(l)).
		Title(ruleText(l, r, func(v float64) string { return f.Number(loc, v) })).
		Body(
			app.Div().Class("tt-leveled-row").Body(levelBadge(l), value),
			s.changeLine(p, x, ok),
		)
}

// Sparkline box, in SVG user units: the SVG stretches to its panel.
const sparkW, sparkH = 200, 40

// stat draws a stat panel: its value, big and coloured by its level, its
// change, and a sparkline of its recent history.
func (s *Shell) stat(p dashboard.Panel) app.UI {
	x, ok := s.valueOf(p)
	text := "—"
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	if ok {
		text = withUnit(p, f.Number(s.bridges.locale(), x))
	}
	value := app.Div().Class("tt-kpi-value").ID("kpi-"+p.ID).Style("--tt-chars", "%d", utf8.RuneCountInString(text)).Text(text)
	var vals []float64
	if h := s.hist[p.ID]; h != nil {
		vals = h.v
		if !bucketed(p) {
			vals = recent(h, s.now, sparkSpan(p))
		}
	}
	line := sparkline(vals, sparkW, sparkH)
	return app.Div().Class("tt-stat-body").Body(
		s.leveled(p, value),
		// Raw SVG: go-app's element types cost about 4 KB of app.wasm each.
		app.Raw(`<svg class="tt-spark" viewBox="0 0 200 40" preserveAspectRatio="none" aria-hidden="true"><polyline points="`+line+`"/></svg>`),
	)
}

// sparkSpan is how much of a stat's history its sparkline draws: its
// compare window, at least 5 minutes.
func sparkSpan(p dashboard.Panel) time.Duration {
	return max(5*time.Minute, time.Duration(p.CompareSeconds)*time.Second)
}

// recent is h's values of the last span before now.
func recent(h *history, now time.Time, span time.Duration) []float64 {
	from := now.Add(-span)
	for i, t := range h.at {
		if !t.Before(from) {
			return h.v[i:]
		}
	}
	return nil
}

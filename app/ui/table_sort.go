package ui

import (
	"sort"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// A table's sorting and filter: over the rows the page holds (the stream's
// latest Panel.Rows), never a query to the server. Unsorted, a table shows
// the newest row first, as livestate keeps them.

// tableOrder is how a table orders and filters its rows.
type tableOrder struct {
	by     int    // 1 + the column sorted by; 0: newest first
	desc   bool   // largest (or last in the alphabet) first
	filter string // rows whose shown text contains it, any case; "": all
}

// apply is rows ordered and filtered as o says; rows itself is not changed.
func (o tableOrder) apply(rows []rowView, cols []dashboard.Column, loc Locale, now time.Time) []rowView {
	if o.by == 0 && o.filter == "" {
		return rows
	}
	out := rows
	if o.filter != "" {
		want := strings.ToLower(o.filter)
		formats := make([]Format, len(cols))
		for j, c := range cols {
			formats[j] = FormatOf(c.Format, c.Currency, c.Decimals)
		}
		out = make([]rowView, 0, len(rows))
		for _, r := range rows {
			for j, c := range cols {
				if strings.Contains(strings.ToLower(formats[j].Value(loc, r.field(c.Field), now)), want) {
					out = append(out, r)
					break
				}
			}
		}
	} else {
		out = append([]rowView(nil), rows...)
	}
	if o.by > 0 && o.by <= len(cols) {
		field := cols[o.by-1].Field
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i].field(field), out[j].field(field)
			if (a == nil) != (b == nil) {
				return b == nil // a row without the field goes last either way
			}
			c := compareValues(a, b)
			if o.desc {
				return c > 0
			}
			return c < 0
		})
	}
	return out
}

// compareValues orders two field values: numbers by value before strings
// in byte order, nothing (nil) after both; numbers written as strings
// compare as strings.
func compareValues(a, b any) int {
	rank := func(v any) int {
		if v == nil {
			return 2
		}
		if _, ok := toFloat(v); ok {
			return 0
		}
		return 1
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch ra {
	case 0:
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case 1:
		return strings.Compare(textOf(a), textOf(b))
	}
	return 0
}

func textOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return Format{Name: dashboard.FormatText}.Value(plainLocale{}, v, time.Time{})
}

// next is the order after a click on column j's header: ascending, then
// descending, then back to newest first.
func (o tableOrder) next(j int) tableOrder {
	switch {
	case o.by != j+1:
		o.by, o.desc = j+1, false
	case !o.desc:
		o.desc = true
	default:
		o.by, o.desc = 0, false
	}
	return o
}

// ariaSort is column j's aria-sort.
func (o tableOrder) ariaSort(j int) string {
	switch {
	case o.by != j+1:
		return "none"
	case o.desc:
		return "descending"
	}
	return "ascending"
}

// sortMark is what column j's header shows after its title.
func (o tableOrder) sortMark(j int) string {
	switch o.ariaSort(j) {
	case "ascending":
		return " ▲"
	case "descending":
		return " ▼"
	}
	return ""
}

// onSort sorts the table by column j, or changes its direction.
func (t *feedTable) onSort(j int) app.EventHandler {
	return func(ctx app.Context, _ app.Event) {
		t.order = t.order.next(j)
		t.f.update(t.ordered(), time.Now())
	}
}

// onSortKey sorts by column j on Enter or Space, for a keyboard.
func (t *feedTable) onSortKey(j int) app.EventHandler {
	sort := t.onSort(j)
	return func(ctx app.Context, e app.Event) {
		if k := e.Get("key").String(); k != "Enter" && k != " " {
			ctx.PreventUpdate()
			return
		}
		e.PreventDefault() // Space would scroll the table
		sort(ctx, e)
	}
}

// onFilter follows the filter box (an input event bubbling up to the box's
// div: a raw <input> costs no go-app element type).
func (t *feedTable) onFilter(ctx app.Context, e app.Event) {
	t.order.filter = strings.TrimSpace(e.Get("target").Get("value").String())
	t.f.update(t.ordered(), time.Now())
}

// ordered is the frame's rows as the table's order says.
func (t *feedTable) ordered() []rowView {
	loc := t.loc
	if loc == nil {
		loc = plainLocale{}
	}
	return t.order.apply(t.rows(t.Panel.Stream), t.Panel.Columns, loc, time.Now())
}

// cellLevel is a cell's level under its column's rules.
func cellLevel(c dashboard.Column, v any) dashboard.Level {
	if len(c.Thresholds) == 0 && len(c.ValueMap) == 0 {
		return dashboard.LevelNone
	}
	return levelOf(c.Rules(), v)
}

// plainNumber writes a threshold in a cell's tooltip.
func plainNumber(v float64) string { return Format{Decimals: -1}.Number(plainLocale{}, v) }

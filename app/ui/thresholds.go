package ui

import (
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// Levels on screen. A value a rule puts at a level is drawn in the level's
// colour (static/telltale.css: --ok, --warn, --crit, in both themes) and,
// so that colour is never the only sign, with the level's mark and its name
// for screen readers; hovering it (or a long press) shows the rule.

// levelOf is the level rules give a field's value: a string the value map
// names, else a number (or a number written as a string) by the thresholds.
func levelOf(r dashboard.Rules, v any) dashboard.Level {
	if v == nil {
		return dashboard.LevelNone
	}
	if s, ok := v.(string); ok {
		if l := r.Text(s); l != dashboard.LevelNone {
			return l
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return r.Number(n)
		}
		return dashboard.LevelNone
	}
	if n, ok := toFloat(v); ok {
		return r.Number(n)
	}
	if b, ok := v.(bool); ok {
		return r.Text(strconv.FormatBool(b))
	}
	return dashboard.LevelNone
}

// levelMark is the sign of a level beside its colour.
func levelMark(l dashboard.Level) string {
	switch l {
	case dashboard.LevelOK:
		return "✓"
	case dashboard.LevelWarn:
		return "▲"
	case dashboard.LevelCritical:
		return "✖"
	}
	return ""
}

// levelClass is the CSS class of a level ("" for none).
func levelClass(l dashboard.Level) string {
	if l == dashboard.LevelNone {
		return ""
	}
	return "tt-level-" + string(l)
}

// ruleText is the tooltip of a value at level l under r: "critical —
// critical ≥ 90 · warn ≥ 50". num writes a threshold as the panel writes
// its values.
func ruleText(l dashboard.Level, r dashboard.Rules, num func(float64) string) string {
	if r.Empty() {
		return ""
	}
	what := "no level"
	if l != dashboard.LevelNone {
		what = string(l)
	}
	return what + " — " + r.Describe(num)
}

// levelBadge is the mark and hidden name of a level, for inside a value's
// element; nothing for no level.
func levelBadge(l dashboard.Level) app.UI {
	if l == dashboard.LevelNone {
		return nil
	}
	return app.Span().Class("tt-mark").Aria("label", string(l)).Attr("role", "img").Text(levelMark(l))
}

// listenRuleTaps shows a level's rule on a tap, where there is no hover: a
// click on anything with a level and a rule (its title) opens a small
// popover under it with the same text, and a click elsewhere closes it. One
// document-level listener for the page's life, like the sign-in form's.
func listenRuleTaps() {
	doc := app.Window().Get("document")
	doc.Call("addEventListener", "click", app.FuncOf(func(_ app.Value, args []app.Value) any {
		pop := doc.Call("getElementById", "tt-rule")
		target := args[0].Get("target")
		var el app.Value
		if target.Truthy() && target.Get("closest").Truthy() {
			el = target.Call("closest", "[data-level][title]")
		}
		if el == nil || !el.Truthy() || el.Get("title").String() == "" {
			if pop.Truthy() {
				pop.Call("remove")
			}
			return nil
		}
		if !pop.Truthy() {
			pop = doc.Call("createElement", "div")
			pop.Set("id", "tt-rule")
			pop.Set("className", "tt-rule")
			pop.Call("setAttribute", "role", "tooltip")
			doc.Get("body").Call("appendChild", pop)
		}
		pop.Set("textContent", el.Get("title"))
		r := el.Call("getBoundingClientRect")
		win := app.Window()
		left := max(4, min(r.Get("left").Float(), win.Get("innerWidth").Float()-pop.Get("offsetWidth").Float()-4))
		pop.Get("style").Set("left", strconv.FormatFloat(left+win.Get("scrollX").Float(), 'f', 0, 64)+"px")
		pop.Get("style").Set("top", strconv.FormatFloat(r.Get("bottom").Float()+win.Get("scrollY").Float()+4, 'f', 0, 64)+"px")
		return nil
	}))
}

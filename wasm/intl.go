//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/telltale/telltale/app/ui"
)

// intl implements ui.Locale with the browser's Intl: the operator's own
// language and time zone. A KPI is written every frame and a table's cells
// every render, so each style's Intl formatter is made once, and recent
// results are kept: a value already written costs a map lookup, not a call
// into JavaScript.
type intl struct {
	numbers map[ui.NumberStyle]js.Value
	times   [2]js.Value // the time of day; the date and time
	ticks   [4]js.Value // a time axis: seconds, minutes, days, tenths
	memoN   map[numberKey]string
	memoT   map[timeKey]string
}

type numberKey struct {
	v float64
	s ui.NumberStyle
}

type timeKey struct {
	ms   int64
	kind int // 0, 1: times; 2 and up: ticks
}

// memoMax bounds each memo: past it, it starts over.
const memoMax = 4096

func newIntl() *intl {
	return &intl{numbers: map[ui.NumberStyle]js.Value{}, memoN: map[numberKey]string{}, memoT: map[timeKey]string{}}
}

func (l *intl) Number(v float64, s ui.NumberStyle) string {
	k := numberKey{v, s}
	if out, ok := l.memoN[k]; ok {
		return out
	}
	f, ok := l.numbers[s]
	if !ok {
		// min = max digits: Intl refuses a maximum below a currency's
		// default minimum unless both are given.
		opts := map[string]any{"style": s.Style, "minimumFractionDigits": s.Digits, "maximumFractionDigits": s.Digits}
		if s.Style == ui.StyleCurrency {
			opts["currency"] = s.Currency
		}
		f = js.Global().Get("Intl").Get("NumberFormat").New(js.Undefined(), opts)
		l.numbers[s] = f
	}
	return remember(l.memoN, k, f.Call("format", v).String())
}

func (l *intl) Time(ms int64, date bool) string {
	kind := 0
	if date {
		kind = 1
	}
	return l.timeAs(ms, kind)
}

// Tick writes a time axis' tick at ms, incr ms apart from the next: tenths
// of a second when ticks are closer than a second, the seconds when
// seconds apart, the day when days apart.
func (l *intl) Tick(ms int64, incr float64) string {
	switch {
	case incr < 1000:
		return l.timeAs(ms, 5)
	case incr < 60_000:
		return l.timeAs(ms, 2)
	case incr < 86_400_000:
		return l.timeAs(ms, 3)
	}
	return l.timeAs(ms, 4)
}

// timeOptions are Intl.DateTimeFormat's options per kind: medium styles
// spell the month out in English (no month/day order to misread), and
// each locale puts the parts in its own order.
var timeOptions = [...]map[string]any{
	{"timeStyle": "medium"},
	{"dateStyle": "medium", "timeStyle": "medium"},
	{"timeStyle": "medium"},
	{"timeStyle": "short"},
	{"month": "short", "day": "numeric"},
	{"hour": "numeric", "minute": "2-digit", "second": "2-digit", "fractionalSecondDigits": 1},
}

func (l *intl) timeAs(ms int64, kind int) string {
	k := timeKey{ms, kind}
	if out, ok := l.memoT[k]; ok {
		return out
	}
	var f *js.Value
	if kind < 2 {
		f = &l.times[kind]
	} else {
		f = &l.ticks[kind-2]
	}
	if f.IsUndefined() {
		*f = js.Global().Get("Intl").Get("DateTimeFormat").New(js.Undefined(), timeOptions[kind])
	}
	return remember(l.memoT, k, f.Call("format", ms).String())
}

// remember keeps out as k's result in m, and returns it.
func remember[K comparable](m map[K]string, k K, out string) string {
	if len(m) >= memoMax {
		clear(m)
	}
	m[k] = out
	return out
}

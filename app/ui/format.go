package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
)

// Locale formats numbers and times as the operator reads them. The wasm
// build implements it with the browser's Intl (their language, their time
// zone); plainLocale stands in on the server and in native tests.
type Locale interface {
	// Number formats v in style s.
	Number(v float64, s NumberStyle) string
	// Time formats ms (Unix milliseconds) in the operator's time zone: the
	// time of day, and the date too when date is set.
	Time(ms int64, date bool) string
}

// NumberStyle is one way of writing a number. It is comparable: the
// browser's Locale keeps one Intl.NumberFormat per style.
type NumberStyle struct {
	Style    string // StyleDecimal, StylePercent or StyleCurrency
	Currency string // ISO 4217 code, with StyleCurrency
	Digits   int    // after the decimal point, exactly
}

// NumberStyle.Style values: Intl.NumberFormat's style option.
const (
	StyleDecimal  = "decimal"
	StylePercent  = "percent"  // the value is a ratio: 0.25 is 25 %
	StyleCurrency = "currency" // Currency's symbol or code
)

// Format is how a panel or column asks for its values: the spec's format,
// currency and decimals.
type Format struct {
	Name     string // a dashboard Format constant; "" as the spec says
	Currency string
	Decimals int // digits after the decimal point; negative means automatic
}

// FormatOf is the Format of a spec's format, currency and decimals.
func FormatOf(name, currency string, decimals *int) Format {
	f := Format{Name: name, Currency: currency, Decimals: -1}
	if decimals != nil {
		f.Decimals = *decimals
	}
	return f
}

// Style is how f writes v. Automatic decimals: whole numbers stay whole,
// money has 2, and otherwise as many as show v (2 for values of 1 and more,
// 2 significant digits below 1), without trailing zeros.
func (f Format) Style(v float64) NumberStyle {
	s := NumberStyle{Style: StyleDecimal, Digits: f.Decimals}
	switch f.Name {
	case dashboard.FormatInt:
		s.Digits = 0
	case dashboard.FormatMoney:
		if f.Currency != "" {
			s.Style, s.Currency = StyleCurrency, f.Currency
		}
		if s.Digits < 0 {
			s.Digits = 2
		}
	case dashboard.FormatPercent:
		s.Style = StylePercent
		v *= 100
	}
	if s.Digits < 0 {
		s.Digits = autoDigits(v)
	}
	return s
}

// autoDigits is the fewest decimals that show v as well as 2 decimals (or
// 2 significant digits, below 1) do.
func autoDigits(v float64) int {
	a := math.Abs(v)
	if a == 0 || math.IsNaN(a) || math.IsInf(a, 0) || a == math.Trunc(a) {
		return 0
	}
	most := 2
	if a < 1 {
		most = min(dashboard.MaxDecimals, 1-int(math.Floor(math.Log10(a))))
	}
	want := roundTo(a, most)
	for d := range most {
		if roundTo(a, d) == want {
			return d
		}
	}
	return most
}

// roundTo rounds v to d decimals. Two roundings of the same value agree
// exactly when they denote the same decimal: each is an exact integer
// divided by a power of ten, correctly rounded.
func roundTo(v float64, d int) float64 {
	p := math.Pow10(d)
	return math.Round(v*p) / p
}

// Number writes v as f asks, "—" when it is not a number.
func (f Format) Number(l Locale, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return l.Number(v, f.Style(v))
}

// Value writes a field's value as f asks: numbers in f's style, time and
// datetime from Unix ms or an RFC 3339 string (as PostgreSQL's jsonb writes
// a timestamptz) in the operator's time zone, text as it is. now tells
// today from other days. nil is "".
func (f Format) Value(l Locale, v any, now time.Time) string {
	if v == nil {
		return ""
	}
	n, isNum := toFloat(v)
	switch f.Name {
	case dashboard.FormatTime, dashboard.FormatDateTime, dashboard.FormatRelative:
		ms, ok := int64(n), isNum
		if s, isStr := v.(string); isStr {
			ms, ok = parseTime(s)
		}
		if ok && f.Name == dashboard.FormatRelative {
			return relative(now.Sub(time.UnixMilli(ms)))
		}
		if ok {
			date := f.Name == dashboard.FormatDateTime || !sameDay(time.UnixMilli(ms), now)
			return l.Time(ms, date)
		}
	case dashboard.FormatDuration:
		if isNum {
			return duration(n)
		}
	case dashboard.FormatText:
		if isNum {
			return strconv.FormatFloat(n, 'f', -1, 64)
		}
	default:
		if isNum {
			return f.Number(l, n)
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// clock is a moment as the operator reads a clock: their locale's time of
// day, with the date when it is not today.
func (s *Shell) clock(t time.Time) string {
	return s.bridges.locale().Time(t.UnixMilli(), !sameDay(t, s.now))
}

// sameDay reports whether a and b fall on the same local calendar day.
func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Local().Date()
	by, bm, bd := b.Local().Date()
	return ay == by && am == bm && ad == bd
}

// timeLayouts are the time strings a time column reads: RFC 3339 as jsonb
// writes a timestamptz ("2026-12-06T10:33:51.463097+00:00"; time.Parse
// reads a fraction of any length after the seconds), offsets without a
// colon or minutes (PostgreSQL's text output writes "+00"), and a
// timestamp or date without a zone, taken as local time.
var timeLayouts = []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07", "2006-01-02T15:04:05", "2006-01-02"}

// parseTime reads an ISO 8601 / RFC 3339 time into Unix ms; a space may
// stand for the T, as in PostgreSQL's text output. (time.Parse measured
// 3 KB of brotli less in app.wasm than a hand-written parser.)
func parseTime(s string) (int64, bool) {
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// locale is the operator's Locale: the browser's, else plainLocale.
func (b Bridges) locale() Locale {
	if b.Locale != nil {
		return b.Locale
	}
	return plainLocale{}
}

// chartSpec is what a time-series panel's chart shows: its series under
// their display names, its unit and its value format.
func chartSpec(p dashboard.Panel) ChartSpec {
	labels := make([]string, len(p.Series))
	for i, name := range p.Series {
		labels[i] = name
		if l := p.Labels[name]; l != "" {
			labels[i] = l
		} else if name == agg.Value && p.Agg != nil {
			labels[i] = fnText(p.Agg) // an ungrouped aggregate's one series: "sum(total)"
		}
	}
	unit := p.Unit
	if p.Format == dashboard.FormatMoney && p.Currency != "" {
		unit = "" // the values show the currency
	}
	return ChartSpec{Title: p.Title, Series: p.Series, Labels: labels, Unit: unit, Value: FormatOf(p.Format, p.Currency, p.Decimals),
		Marks: p.Agg != nil, Hairline: strings.HasPrefix(p.Stream, agg.M4Prefix)}
}

// plainLocale formats as en-US does, with ISO dates, in plain Go: for the
// server's pre-render (which shows no values) and native tests.
type plainLocale struct{}

// currencySymbols are the symbols plainLocale knows; other codes are
// written as the code.
var currencySymbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}

func (plainLocale) Number(v float64, s NumberStyle) string {
	if s.Style == StylePercent {
		v *= 100
	}
	digits := strconv.FormatFloat(math.Abs(v), 'f', max(0, s.Digits), 64)
	whole, frac, _ := strings.Cut(digits, ".")
	out := group(whole)
	if frac != "" {
		out += "." + frac
	}
	switch s.Style {
	case StyleCurrency:
		sym, ok := currencySymbols[s.Currency]
		if !ok {
			sym = s.Currency + "\u00a0"
		}
		out = sym + out
	case StylePercent:
		out += "%"
	}
	if v < 0 && strings.Trim(digits, "0.") != "" {
		out = "-" + out
	}
	return out
}

func (plainLocale) Time(ms int64, date bool) string {
	t := time.UnixMilli(ms).Local()
	if date {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("15:04:05")
}

// group inserts thousands separators into a string of digits.
func group(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// toFloat accepts the numeric types msgpack decodes into.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// age says how long ago, at the precision an operator needs.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0.0 s"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	}
	return strconv.Itoa(int(d.Hours())) + " h"
}

// relative says how long ago d was: "just now", "45 s ago", "5 min ago",
// "3 h ago", "2 d ago"; a time ahead is "in 5 min".
func relative(d time.Duration) string {
	ahead := d < 0
	if ahead {
		d = -d
	}
	var text string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		text = strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		text = strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		text = strconv.Itoa(int(d/time.Hour)) + " h"
	default:
		text = strconv.Itoa(int(d/(24*time.Hour))) + " d"
	}
	if ahead {
		return "in " + text
	}
	return text + " ago"
}

// duration writes ms milliseconds as an operator reads a duration: "850
// ms", "4.2 s", "2m 05s", "1h 03m", "2d 04h"; a negative one with a minus.
func duration(ms float64) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return "—"
	}
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	two := func(n int64) string {
		if n < 10 {
			return "0" + strconv.FormatInt(n, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	s := int64(ms / 1000)
	switch {
	case ms < 1000:
		return sign + strconv.FormatFloat(math.Round(ms), 'f', -1, 64) + " ms"
	case ms < 10_000:
		return sign + strconv.FormatFloat(math.Floor(ms/100)/10, 'f', 1, 64) + " s"
	case s < 60:
		return sign + strconv.FormatInt(s, 10) + " s"
	case s < 3600:
		return sign + strconv.FormatInt(s/60, 10) + "m " + two(s%60) + "s"
	case s < 86400:
		return sign + strconv.FormatInt(s/3600, 10) + "h " + two(s%3600/60) + "m"
	}
	return sign + strconv.FormatInt(s/86400, 10) + "d " + two(s%86400/3600) + "h"
}

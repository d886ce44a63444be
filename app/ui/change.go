package ui

import (
	"math"
	"strconv"
	"time"
)

// history is the values a kpi or stat panel has shown, oldest first, as the
// page saw them: what its sparkline draws and what its change is measured
// against. It is the page's own memory, not the server's: a page opened a
// minute ago compares with nothing older than a minute (and says "—").
type history struct {
	at []time.Time
	v  []float64
}

// historyMax bounds a panel's history: a sample a second for most of an
// hour; older samples are thinned out rather than dropped (every other one
// goes), so a compare_seconds of a day still finds a value.
const historyMax = 2048

// add records v at t, once per second at most (the latest value of the
// second wins).
func (h *history) add(t time.Time, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if n := len(h.at); n > 0 && t.Sub(h.at[n-1]) < time.Second {
		h.v[n-1] = v
		return
	}
	if len(h.at) >= historyMax {
		// Keep the newest half as it is, thin the older half to every other.
		half := len(h.at) / 2
		k := 0
		for i := 0; i < len(h.at); i++ {
			if i >= half || i%2 == 0 {
				h.at[k], h.v[k] = h.at[i], h.v[i]
				k++
			}
		}
		h.at, h.v = h.at[:k], h.v[:k]
	}
	h.at = append(h.at, t)
	h.v = append(h.v, v)
}

// ago is the value the page held d before its newest sample: the newest
// sample at or before then. ok is false when the history does not reach
// that far back.
func (h *history) ago(d time.Duration) (v float64, ok bool) {
	n := len(h.at)
	if n == 0 {
		return 0, false
	}
	then := h.at[n-1].Add(-d)
	for i := n - 1; i >= 0; i-- {
		if !h.at[i].After(then) {
			return h.v[i], true
		}
	}
	return 0, false
}

// change says how now differs from before: "▲ 12%", "▼ 3.5%", "= 0%", or
// "—" when there is nothing to compare with (or before is zero, where a
// percentage says nothing).
func change(now, before float64, ok bool) string {
	if !ok || before == 0 || math.IsNaN(now) || math.IsNaN(before) {
		return "—"
	}
	pct := (now - before) / math.Abs(before) * 100
	digits := 0
	if math.Abs(pct) < 10 {
		digits = 1
	}
	text := strconv.FormatFloat(math.Abs(pct), 'f', digits, 64) + "%"
	switch {
	case text == "0%" || text == "0.0%":
		return "= 0%"
	case pct > 0:
		return "▲ " + text
	}
	return "▼ " + text
}

// spanText says a compare window in words: "1 h ago", "5 min ago", "30 s
// ago"; a bucketed aggregate compares with its previous bucket.
func spanText(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	}
	return strconv.Itoa(int(d/time.Second)) + " s ago"
}

// sparkline is the SVG polyline points of values in a w×h box (oldest on
// the left), "" for fewer than two.
func sparkline(values []float64, w, h float64) string {
	if len(values) < 2 {
		return ""
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	span := hi - lo
	b := make([]byte, 0, len(values)*12)
	for i, v := range values {
		x := w * float64(i) / float64(len(values)-1)
		y := h / 2
		if span > 0 {
			y = h - (v-lo)/span*h
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, x, 'f', 1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, y, 'f', 1, 64)
	}
	return string(b)
}

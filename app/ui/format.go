package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// formatNumber renders a gauge for reading at arm's length: thousands
// separators, decimals only for small values.
func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case math.Abs(v) >= 100 || v == math.Trunc(v):
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// group inserts thousands separators into an integer string.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatCell(v any, format string) string {
	if v == nil {
		return ""
	}
	f, isNum := toFloat(v)
	switch {
	case format == "money" && isNum:
		whole := math.Trunc(f)
		cents := int(math.Round(math.Abs(f-whole) * 100))
		if cents == 100 {
			whole, cents = whole+math.Copysign(1, f), 0
		}
		return group(strconv.FormatFloat(whole, 'f', 0, 64)) + "." + fmt.Sprintf("%02d", cents)
	case format == "int" && isNum:
		return group(strconv.FormatFloat(math.Round(f), 'f', 0, 64))
	case format == "time" && isNum:
		return time.UnixMilli(int64(f)).Format("15:04:05")
	case isNum:
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
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

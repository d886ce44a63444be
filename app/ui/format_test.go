package ui

import (
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

func decimals(n int) *int { return &n }

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		name     string
		format   string
		currency string
		decimals *int
		in       float64
		want     string
	}{
		{"whole numbers stay whole", "", "", nil, 1234567, "1,234,567"},
		{"cents are kept at 100 and above", "", "", nil, 259.33, "259.33"},
		{"no trailing zeros", "", "", nil, 259.3, "259.3"},
		{"2 decimals at most from 1 up", "", "", nil, 259.3349, "259.33"},
		{"pi", dashboard.FormatNumber, "", nil, 3.14159, "3.14"},
		{"2 significant digits below 1", "", "", nil, 0.012345, "0.012"},
		{"a half", "", "", nil, 0.5, "0.5"},
		{"tiny rounds to zero", "", "", nil, 1e-15, "0"},
		{"negative", "", "", nil, -4500, "-4,500"},
		{"zero", "", "", nil, 0, "0"},
		{"decimals 0", dashboard.FormatNumber, "", decimals(0), 259.33, "259"},
		{"decimals 3 pads", dashboard.FormatNumber, "", decimals(3), 259.33, "259.330"},
		{"int rounds", dashboard.FormatInt, "", nil, 1234.6, "1,235"},
		{"int ignores decimals", dashboard.FormatInt, "", decimals(2), 1234.6, "1,235"},
		{"money in euros", dashboard.FormatMoney, "EUR", nil, 259.33, "€259.33"},
		{"money shows cents of whole amounts", dashboard.FormatMoney, "EUR", nil, 259, "€259.00"},
		{"money above a million", dashboard.FormatMoney, "EUR", nil, 1234567.89, "€1,234,567.89"},
		{"money rounding", dashboard.FormatMoney, "USD", nil, 9.999, "$10.00"},
		{"money without cents", dashboard.FormatMoney, "GBP", decimals(0), 259.5, "£260"},
		{"money in a currency without a known symbol", dashboard.FormatMoney, "CHF", nil, 1234.5, "CHF\u00a01,234.50"},
		{"money without a currency", dashboard.FormatMoney, "", nil, 1234.5, "1,234.50"},
		{"negative money", dashboard.FormatMoney, "EUR", nil, -5, "-€5.00"},
		{"negative that rounds to zero has no sign", dashboard.FormatMoney, "EUR", nil, -0.001, "€0.00"},
		{"percent of a ratio", dashboard.FormatPercent, "", nil, 0.25, "25%"},
		{"percent keeps its decimals", dashboard.FormatPercent, "", nil, 0.2534, "25.34%"},
		{"percent with decimals", dashboard.FormatPercent, "", decimals(1), 0.25, "25.0%"},
		{"not a number", "", "", nil, math.NaN(), "—"},
		{"infinite", dashboard.FormatMoney, "EUR", nil, math.Inf(1), "—"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatOf(tt.format, tt.currency, tt.decimals).Number(plainLocale{}, tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFormatStyle checks what the browser's Intl.NumberFormat is asked for.
func TestFormatStyle(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		in   float64
		want NumberStyle
	}{
		{"money is a currency style with 2 digits", FormatOf(dashboard.FormatMoney, "EUR", nil), 259, NumberStyle{StyleCurrency, "EUR", 2}},
		{"money with decimals", FormatOf(dashboard.FormatMoney, "EUR", decimals(0)), 259.33, NumberStyle{StyleCurrency, "EUR", 0}},
		{"percent digits count the percentage", FormatOf(dashboard.FormatPercent, "", nil), 0.255, NumberStyle{StylePercent, "", 1}},
		{"automatic decimals", FormatOf("", "", nil), 259.33, NumberStyle{StyleDecimal, "", 2}},
		{"whole", FormatOf("", "", nil), 259, NumberStyle{StyleDecimal, "", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Style(tt.in); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// timeLocale records what it was asked to write.
type timeLocale struct{ plainLocale }

func (timeLocale) Time(ms int64, date bool) string {
	return strconv.FormatInt(ms, 10) + map[bool]string{true: " with date", false: ""}[date]
}

func TestFormatValue(t *testing.T) {
	// 2026-12-06T10:33:51.463Z, the instant PostgreSQL's jsonb writes as
	// "2026-12-06T10:33:51.463097+00:00".
	const ms = 1796553231463
	at := time.UnixMilli(ms)
	sameDay := at.Add(time.Minute)
	nextDay := at.Add(24 * time.Hour)
	tests := []struct {
		name   string
		format string
		in     any
		now    time.Time
		want   string
	}{
		{"time from Unix ms, today", dashboard.FormatTime, float64(ms), sameDay, "1796553231463"},
		{"time from Unix ms as msgpack's int64", dashboard.FormatTime, int64(ms), sameDay, "1796553231463"},
		{"time on another day shows the date", dashboard.FormatTime, float64(ms), nextDay, "1796553231463 with date"},
		{"datetime always shows the date", dashboard.FormatDateTime, float64(ms), sameDay, "1796553231463 with date"},
		{"jsonb timestamptz", dashboard.FormatTime, "2026-12-06T10:33:51.463097+00:00", sameDay, "1796553231463"},
		{"another offset", dashboard.FormatDateTime, "2026-12-06T11:33:51.463+01:00", sameDay, "1796553231463 with date"},
		{"Z", dashboard.FormatTime, "2026-12-06T10:33:51.463Z", sameDay, "1796553231463"},
		{"PostgreSQL's text output", dashboard.FormatTime, "2026-12-06 10:33:51.463097+00", sameDay, "1796553231463"},
		{"no fraction", dashboard.FormatTime, "2026-12-06T10:33:51Z", sameDay, "1796553231000"},
		{"not a time is shown as it is", dashboard.FormatTime, "soon", sameDay, "soon"},
		{"money from a row field", dashboard.FormatMoney, 42.5, sameDay, "42.50"},
		{"default: numbers grouped", "", 1234.5, sameDay, "1,234.5"},
		{"default: text as it is", "", "packed", sameDay, "packed"},
		{"text leaves numbers alone", dashboard.FormatText, 1234.5, sameDay, "1234.5"},
		{"int from msgpack uint8", dashboard.FormatInt, uint8(42), sameDay, "42"},
		{"bool", "", true, sameDay, "true"},
		{"nil", dashboard.FormatMoney, nil, sameDay, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatOf(tt.format, "", nil).Value(timeLocale{}, tt.in, tt.now); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	local := func(y int, mo time.Month, d, h, mi, s, ms int) int64 {
		return time.Date(y, mo, d, h, mi, s, ms*1e6, time.Local).UnixMilli()
	}
	const at = 1796553231463 // 2026-12-06T10:33:51.463Z
	tests := []struct {
		in   string
		want int64 // -1: not a time
	}{
		{"2026-12-06T10:33:51.463097+00:00", at},
		{"2026-12-06T10:33:51.463Z", at},
		{"2026-12-06T11:33:51.463+01:00", at},
		{"2026-12-06T11:33:51.463+0100", at},
		{"2026-12-06T11:33:51.463+01", at},
		{"2026-12-06T05:03:51.463-05:30", at},
		{"2026-12-06 10:33:51.463097+00", at},
		{"2026-12-06T10:33:51,463Z", at},
		{"2026-12-06T10:33:51.4639999999999Z", at},
		{"2026-12-06T10:33:51.5", local(2026, 12, 6, 10, 33, 51, 500)},
		{"2026-12-06", local(2026, 12, 6, 0, 0, 0, 0)},
		{"", -1},
		{"soon", -1},
		{"12/06/2026", -1},
		{"2026-13-06", -1},
		{"2026-12-06T", -1},
		{"2026-12-06T10", -1},
		{"2026-12-06T10:33:51.", -1},
		{"2026-12-06T10:33:51+", -1},
		{"2026-12-06T10:33:51Z trailing", -1},
		{"1796553231463", -1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseTime(tt.in)
			if tt.want < 0 {
				if ok {
					t.Fatalf("got %d, want not a time", got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("got %d (%v), want %d", got, ok, tt.want)
			}
		})
	}
}

// FuzzParseTime holds parseTime to time.Parse on RFC 3339: whatever
// time.Parse reads with two-digit fields (it also takes "0:00:00", which
// RFC 3339 does not), parseTime reads as the same instant, and it never
// panics on anything else.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-12-06T10:33:51.463097+00:00", "2026-12-06T10:33:51Z", "2026-12-06 10:33:51+00", "2026-12-06", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		canonical := len(s) >= 20 && s[13] == ':' && s[16] == ':'
		if err == nil && canonical && (!ok || got != want.UnixMilli()) {
			t.Fatalf("%q: got %d (%v), want %d as time.Parse reads it", s, got, ok, want.UnixMilli())
		}
	})
}

func TestPlainLocaleTime(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 33, 51, 0, time.Local)
	if got := (plainLocale{}).Time(at.UnixMilli(), false); got != "10:33:51" {
		t.Fatalf("got %q, want 10:33:51", got)
	}
	if got := (plainLocale{}).Time(at.UnixMilli(), true); got != "2026-12-06 10:33:51" {
		t.Fatalf("got %q, want 2026-12-06 10:33:51", got)
	}
}

func TestChartSpec(t *testing.T) {
	p := dashboard.Panel{Title: "Rates", Series: []string{"pick_rate", "pack_rate"}, Labels: map[string]string{"pick_rate": "Pick rate"}, Unit: "/min", Decimals: decimals(1)}
	got := chartSpec(p)
	if !slices.Equal(got.Labels, []string{"Pick rate", "pack_rate"}) || got.Unit != "/min" || got.Value.Decimals != 1 {
		t.Fatalf("got labels %q, unit %q, value %+v; want [Pick rate pack_rate], /min and 1 decimal", got.Labels, got.Unit, got.Value)
	}
	p = dashboard.Panel{Series: []string{"revenue"}, Unit: "€", Format: dashboard.FormatMoney, Currency: "EUR"}
	if got := chartSpec(p); got.Unit != "" || got.Value.Currency != "EUR" {
		t.Fatalf("money chart: got unit %q and currency %q, want no unit (the values show EUR)", got.Unit, got.Value.Currency)
	}
}

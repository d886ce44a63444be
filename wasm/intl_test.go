//go:build js && wasm

package main

import (
	"syscall/js"
	"testing"
	"time"

	"github.com/telltale/telltale/app/ui"
)

// TestIntlMatchesTheBrowser runs under Node (make wasm-test): the bridge
// writes what the runtime's own Intl writes for the same options, in its
// default locale, and makes one formatter per style however often it is
// called.
func TestIntlMatchesTheBrowser(t *testing.T) {
	l := newIntl()
	intl := js.Global().Get("Intl")
	tests := []struct {
		v    float64
		s    ui.NumberStyle
		opts map[string]any
	}{
		{1234567.89, ui.NumberStyle{Style: ui.StyleCurrency, Currency: "EUR", Digits: 2}, map[string]any{"style": "currency", "currency": "EUR"}},
		{259, ui.NumberStyle{Style: ui.StyleCurrency, Currency: "JPY", Digits: 0}, map[string]any{"style": "currency", "currency": "JPY"}},
		{0.2534, ui.NumberStyle{Style: ui.StylePercent, Digits: 2}, map[string]any{"style": "percent", "minimumFractionDigits": 2}},
		{259.33, ui.NumberStyle{Style: ui.StyleDecimal, Digits: 2}, map[string]any{"minimumFractionDigits": 2}},
		{-4500, ui.NumberStyle{Style: ui.StyleDecimal}, map[string]any{}},
	}
	for _, tt := range tests {
		want := intl.Get("NumberFormat").New(js.Undefined(), tt.opts).Call("format", tt.v).String()
		for range 3 {
			if got := l.Number(tt.v, tt.s); got != want {
				t.Fatalf("%v as %+v: got %q, want %q", tt.v, tt.s, got, want)
			}
		}
	}
	if len(l.numbers) != len(tests) {
		t.Fatalf("got %d Intl.NumberFormat for %d styles, want one each", len(l.numbers), len(tests))
	}
	ms := time.Date(2026, 12, 6, 10, 33, 51, 0, time.UTC).UnixMilli()
	want := intl.Get("DateTimeFormat").New(js.Undefined(), map[string]any{"dateStyle": "medium", "timeStyle": "medium"}).Call("format", ms).String()
	if got := l.Time(ms, true); got != want {
		t.Fatalf("date and time: got %q, want %q", got, want)
	}
}

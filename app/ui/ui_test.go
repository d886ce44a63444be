package ui

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{"integer", 1234567, "1,234,567"},
		{"small fraction", 3.14159, "3.1"},
		{"large fraction rounds", 1234.6, "1,235"},
		{"negative", -4500, "-4,500"},
		{"zero", 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatNumber(tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatCell(t *testing.T) {
	tests := []struct {
		name   string
		in     any
		format string
		want   string
	}{
		{"money", 1234.5, "money", "1,234.50"},
		{"money rounding", 9.999, "money", "10.00"},
		{"int from msgpack uint8", uint8(42), "int", "42"},
		{"plain string", "packed", "", "packed"},
		{"nil", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatCell(tt.in, tt.format); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	if got := age(1500 * time.Millisecond); got != "1.5 s" {
		t.Fatalf("got %q, want 1.5 s", got)
	}
	if got := age(3 * time.Minute); got != "3 min" {
		t.Fatalf("got %q, want 3 min", got)
	}
}

func TestWindow(t *testing.T) {
	p := wire.Points{TS: []int64{0, 10_000, 20_000, 30_000, 40_000}, Cols: []wire.Column{
		{Name: "a", Vals: []float64{0, 1, 2, 3, 4}},
	}}
	ts, cols := window(&p, dashboard.Panel{Series: []string{"a", "missing"}, WindowSeconds: 20})
	if len(ts) != 3 || ts[0] != 20_000 {
		t.Fatalf("got ts %v, want the last 20 s: [20000 30000 40000]", ts)
	}
	if len(cols[0]) != 3 || cols[0][0] != 2 || cols[1] != nil {
		t.Fatalf("got cols %v, want [[2 3 4] nil]", cols)
	}
}

func TestIdentityReadsTheClaimsNotTheSignature(t *testing.T) {
	tok := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	a1, a2 := tok(`{"sub":"alice","tnt":"acme","iat":1}`), tok(`{"sub":"alice","tnt":"acme","iat":2}`)
	if identity(a1) != identity(a2) || identity(a1) != "alice @ acme" {
		t.Fatalf("re-issued tokens of one operator: %q and %q", identity(a1), identity(a2))
	}
	if identity(tok(`{"sub":"alice","tnt":"globex"}`)) == identity(a1) {
		t.Fatal("another tenant reads as the same identity")
	}
	if identity("garbage") != "an unreadable token" {
		t.Fatal("garbage has an identity")
	}
}

func TestChartWindowIsDecimatedToItsWidth(t *testing.T) {
	n := 100_000
	ts := make([]int64, n)
	a, b := make([]float64, n), make([]float64, n)
	for i := range n {
		ts[i] = int64(i) * 20
		a[i], b[i] = float64(i%1000), -float64(i%777)
	}
	a[55_555] = 1e9 // a spike must survive
	var d decimated
	gotTS, gotCols := d.decimate(ts, [][]float64{a, b}, 300)
	if len(gotTS) > (2+3*2)*300 || len(gotTS) < 300 {
		t.Fatalf("%d points for 300 px", len(gotTS))
	}
	spike := false
	for i := range gotTS {
		if i > 0 && gotTS[i] <= gotTS[i-1] {
			t.Fatal("timestamps not ascending")
		}
		if len(gotCols[0]) != len(gotTS) || len(gotCols[1]) != len(gotTS) {
			t.Fatal("columns not aligned with timestamps")
		}
		spike = spike || gotCols[0][i] == 1e9
	}
	if !spike {
		t.Fatal("the spike was dropped")
	}
	// A window that fits, or an unknown width, is drawn as it is.
	if small, _ := d.decimate(ts[:1000], [][]float64{a[:1000]}, 300); len(small) != 1000 {
		t.Fatalf("a fitting window came back with %d points", len(small))
	}
	if all, _ := d.decimate(ts, [][]float64{a}, 0); len(all) != n {
		t.Fatal("an unknown width decimated")
	}
}

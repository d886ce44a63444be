package ui

import (
	"encoding/base64"
	"math"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

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
	// A series the stream lacks is gaps, as long as the others.
	if len(cols[0]) != 3 || cols[0][0] != 2 || len(cols[1]) != 3 || !math.IsNaN(cols[1][0]) || !math.IsNaN(cols[1][2]) {
		t.Fatalf("got cols %v, want [[2 3 4] [NaN NaN NaN]]", cols)
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
	p := wire.Points{TS: make([]int64, n), Cols: []wire.Column{{Name: "a", Vals: make([]float64, n)}, {Name: "b", Vals: make([]float64, n)}}}
	for i := range n {
		p.TS[i] = int64(i) * 20
		p.Cols[0].Vals[i], p.Cols[1].Vals[i] = float64(i%1000), -float64(i%777)
	}
	p.Cols[0].Vals[95_555] = 1e9                                                        // a spike inside the window must survive
	panel := dashboard.Panel{Series: []string{"a", "b", "missing"}, WindowSeconds: 200} // the last 10,000 points
	var d decimated
	gotTS, gotCols := d.update(&p, panel, 300, 1)
	if len(gotTS) > (2+3*3)*301 || len(gotTS) < 300 {
		t.Fatalf("%d points for 300 px", len(gotTS))
	}
	spike := false
	for i := range gotTS {
		if i > 0 && gotTS[i] < gotTS[i-1] {
			t.Fatal("timestamps not in order")
		}
		if len(gotCols) != 3 || len(gotCols[0]) != len(gotTS) || len(gotCols[2]) != len(gotTS) {
			t.Fatal("columns not aligned with timestamps")
		}
		if !math.IsNaN(gotCols[2][i]) {
			t.Fatal("a missing series is not a gap")
		}
		spike = spike || gotCols[0][i] == 1e9
	}
	if !spike {
		t.Fatal("the spike was dropped")
	}
	// Columns are whole (aligned to absolute time): the first may reach one
	// column's span (200 s / 300 px = 667 ms) before the window.
	if gotTS[0] < p.TS[n-1]-200_000-667 {
		t.Fatalf("a point from before the window's first column: %d", gotTS[0])
	}
	// An unknown width draws the window as it is.
	if all, _ := d.update(&p, panel, 0, 1); len(all) != 10_001 {
		t.Fatalf("an unknown width gave %d points, want the window's 10,001", len(all))
	}
}

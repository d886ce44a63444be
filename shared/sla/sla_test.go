package sla

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// Bin must be the library's mapping, index for index, or a sketch built from
// a page's bins is not the library's sketch and its error is not the stated one.
func TestBinIsTheLibrarysMapping(t *testing.T) {
	m, err := mapping.NewLogarithmicMapping(RelativeAccuracy)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		ms := math.Exp(r.Float64()*math.Log(MaxMs/MinMs)) * MinMs
		if got, want := Bin(ms), m.Index(ms); int(got) != want {
			t.Fatalf("Bin(%v) = %d, library %d", ms, got, want)
		}
		if got, want := BinValue(Bin(ms)), m.Value(m.Index(ms)); math.Abs(got-want) > 1e-9*want {
			t.Fatalf("BinValue(Bin(%v)) = %v, library %v", ms, got, want)
		}
		if v := BinValue(Bin(ms)); math.Abs(v-ms) > RelativeAccuracy*ms*1.0000001 {
			t.Fatalf("BinValue(Bin(%v)) = %v: off by more than %v", ms, v, RelativeAccuracy)
		}
	}
	if n := MaxBin - MinBin + 1; n > MaxBins {
		t.Fatalf("%d bins between MinMs and MaxMs, over MaxBins %d", n, MaxBins)
	}
	for _, ms := range []float64{0, -5, math.NaN(), math.Inf(1), 1e12} {
		if b := Bin(ms); b < MinBin || b > MaxBin {
			t.Errorf("Bin(%v) = %d, outside [%d, %d]", ms, b, MinBin, MaxBin)
		}
	}
}

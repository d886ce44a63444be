//go:build js && wasm

package main

import (
	"math"
	"syscall/js"
	"testing"
)

// TestFloat64ArrayFill runs under Node (make wasm-test): the bulk copy must
// land every value, bit for bit, and the returned view must be exactly as
// long as the source even when the backing array is larger.
func TestFloat64ArrayFill(t *testing.T) {
	var a float64Array
	for _, n := range []int{0, 3, 1000, 700, 5000} {
		src := make([]float64, n)
		for i := range src {
			src[i] = float64(i)*1.5 - 7
		}
		if n > 2 {
			src[1] = math.NaN()
			src[2] = math.Inf(-1)
		}
		view := a.fill(src)
		if got := view.Get("length").Int(); got != n {
			t.Fatalf("n=%d: got view length %d, want %d", n, got, n)
		}
		if a.cap < n {
			t.Fatalf("n=%d: capacity %d", n, a.cap)
		}
		for _, i := range []int{0, 1, 2, n / 2, n - 1} {
			if i < 0 || i >= n {
				continue
			}
			got := view.Index(i).Float()
			if got != src[i] && !(math.IsNaN(got) && math.IsNaN(src[i])) {
				t.Fatalf("n=%d: element %d is %v, want %v", n, i, got, src[i])
			}
		}
	}
	if !js.Global().Get("Float64Array").Truthy() {
		t.Fatal("no Float64Array in this runtime")
	}
}

func BenchmarkFloat64ArrayFill_100k(b *testing.B) {
	var a float64Array
	src := make([]float64, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		a.fill(src)
	}
}

// BenchmarkPerElementSet_100k is what the bulk copy replaces.
func BenchmarkPerElementSet_100k(b *testing.B) {
	arr := js.Global().Get("Float64Array").New(100_000)
	src := make([]float64, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		for i, v := range src {
			arr.SetIndex(i, v)
		}
	}
}

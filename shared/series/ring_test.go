package series

import (
	"testing"
)

func collect(w Window) (ts []int64, vs []float64) {
	for p := range 2 {
		ts = append(ts, w.TS[p]...)
		vs = append(vs, w.VS[p]...)
	}
	return ts, vs
}

func TestRingWindowsAcrossTheWrap(t *testing.T) {
	r := New(5)
	for i := range 8 { // holds 3..7 after wrapping
		if !r.Append(int64(i*10), float64(i)) {
			t.Fatalf("append %d refused", i)
		}
	}
	if r.Len() != 5 {
		t.Fatalf("len %d, want 5", r.Len())
	}
	for _, tc := range []struct {
		from, to int64
		want     []int64
	}{
		{0, 100, []int64{30, 40, 50, 60, 70}},
		{35, 65, []int64{40, 50, 60}},
		{40, 40, []int64{40}},
		{41, 49, nil},
		{70, 1000, []int64{70}},
		{-5, 25, nil},
	} {
		w := r.Window(tc.from, tc.to)
		ts, vs := collect(w)
		if len(ts) != len(tc.want) || w.Len() != len(tc.want) {
			t.Fatalf("window [%d, %d]: got %v, want %v", tc.from, tc.to, ts, tc.want)
		}
		for i := range ts {
			if ts[i] != tc.want[i] || vs[i] != float64(ts[i]/10) {
				t.Fatalf("window [%d, %d]: got %v %v, want %v", tc.from, tc.to, ts, vs, tc.want)
			}
		}
	}
	if first, _ := r.First(); first != 30 {
		t.Fatalf("first %d, want 30", first)
	}
	if last, _ := r.Last(); last != 70 {
		t.Fatalf("last %d, want 70", last)
	}
}

func TestRingRefusesGoingBackInTime(t *testing.T) {
	r := New(4)
	r.Append(10, 1)
	r.Append(10, 2) // equal timestamps are fine
	if r.Append(5, 3) {
		t.Fatal("an older timestamp was accepted")
	}
	if n := r.AppendAll([]int64{11, 12, 3, 13}, []float64{1, 2, 3, 4}); n != 2 {
		t.Fatalf("AppendAll kept %d, want 2 (stop at the step back)", n)
	}
}

func TestRingAppendDoesNotAllocate(t *testing.T) {
	r := New(1000)
	i := int64(0)
	if n := testing.AllocsPerRun(10000, func() { r.Append(i, 1); i++ }); n != 0 {
		t.Fatalf("%v allocations per append, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = r.Window(100, 900) }); n != 0 {
		t.Fatalf("%v allocations per window, want 0", n)
	}
}

func BenchmarkRingAppend(b *testing.B) {
	r := New(DefaultCapacity)
	i := int64(0)
	for b.Loop() {
		r.Append(i, float64(i))
		i++
	}
}

package hub

import (
	"testing"
)

// TestRingIsBoundedInBytes: wide events keep fewer of themselves in the
// ring, newest first, and what is kept still comes out in seq order, through
// drops, wrapping and growth.
func TestRingIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sizes     []int // encoded size of events 1, 2, …
		capacity  int
		maxBytes  int
		wantFirst uint64 // oldest seq kept
	}{
		{"small events: the count bounds", []int{10, 10, 10, 10, 10}, 3, 1000, 3},
		{"wide events: the bytes bound", []int{400, 400, 400, 400, 400}, 100, 1000, 4},
		{"one event over the bound is kept", []int{10, 5000}, 100, 1000, 2},
		{"mixed, wrapping after drops", []int{10, 10, 900, 10, 10, 900, 10, 10, 10, 10, 10, 10, 10}, 10, 1000, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recent
			for i, n := range tt.sizes {
				r.push(uint64(i+1), make([]byte, n), tt.capacity, tt.maxBytes)
				if r.n > tt.capacity || (r.n > 1 && r.bytes > tt.maxBytes) {
					t.Fatalf("after event %d: %d entries of %d bytes, want at most %d and %d bytes", i+1, r.n, r.bytes, tt.capacity, tt.maxBytes)
				}
			}
			last := uint64(len(tt.sizes))
			got, ok := r.since(tt.wantFirst-1, last)
			if !ok || len(got) != int(last-tt.wantFirst+1) {
				t.Fatalf("since %d: got %d events (covered %v), want %d", tt.wantFirst-1, len(got), ok, last-tt.wantFirst+1)
			}
			for k, b := range got {
				if want := tt.sizes[int(tt.wantFirst)-1+k]; len(b) != want {
					t.Fatalf("event %d of the replay is %d bytes, want %d (out of order)", k, len(b), want)
				}
			}
			if _, ok := r.since(tt.wantFirst-2, last); tt.wantFirst > 1 && ok {
				t.Fatalf("the ring claims seq %d, which it dropped", tt.wantFirst-1)
			}
			if sum := func() (s int) {
				for k := 0; k < r.n; k++ {
					s += len(r.buf[(r.head+k)%len(r.buf)].b)
				}
				return
			}(); sum != r.bytes {
				t.Fatalf("counted %d bytes, hold %d", r.bytes, sum)
			}
		})
	}
}

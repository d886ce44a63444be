package latency

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond // 100 ms down to 1 ms
	}
	got := Summarize(lat)
	if want := (Summary{P50: 51, P95: 96, P99: 100, Max: 100}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Fatalf("got %+v for no samples, want zeros", got)
	}
}

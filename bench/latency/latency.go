// Package latency summarises the latencies a benchmark measured. It is for
// bench/ commands only.
package latency

import (
	"slices"
	"time"
)

// Summary is a latency distribution in milliseconds.
type Summary struct {
	P50, P95, P99, Max float64
}

// Summarize sorts lat in place and returns its percentiles (zeros when empty).
func Summarize(lat []time.Duration) Summary {
	if len(lat) == 0 {
		return Summary{}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	return Summary{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(lat[len(lat)-1])}
}

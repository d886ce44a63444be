package metrics

import (
	"testing"
	"time"
)

// BenchmarkStageObserve_1Tenant is what the hub adds per published batch of
// one event: the tenant's label and two observations (commit → hub,
// stored → hub).
func BenchmarkStageObserve_1Tenant(b *testing.B) {
	s := NewStages(New(), 20)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st := s.For("acme", 1)
		st.CommitHub.ObserveSpan(now-int64(i%5000)*int64(time.Microsecond), now)
		st.StoredHub.ObserveSpan(now-int64(i%3000)*int64(time.Microsecond), now)
	}
}

// BenchmarkHistogramObserve is one observation, the cost per event of the
// hub → sent stage on a connection.
func BenchmarkHistogramObserve(b *testing.B) {
	h := New().Histogram("telltale_x_seconds", "x")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(time.Duration(i%5000) * time.Microsecond)
	}
}

// BenchmarkHistogramObserveParallel: observations from both cores at once
// (connections' flushers run in parallel).
func BenchmarkHistogramObserveParallel(b *testing.B) {
	h := New().Histogram("telltale_x_seconds", "x")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			h.Observe(time.Duration(i%5000) * time.Microsecond)
			i++
		}
	})
}

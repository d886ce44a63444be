package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// benchEvents are order rows over 10 regions and 4 statuses, 1 ms apart.
func benchEvents(n int) []*wire.Event {
	regions := []string{"eu", "us", "apac", "latam", "mena", "nordics", "uk", "de", "fr", "jp"}
	statuses := []string{"new", "paid", "packed", "shipped"}
	evs := make([]*wire.Event, n)
	for i := range evs {
		evs[i] = &wire.Event{Time: int64(i), Row: &wire.Row{Key: fmt.Sprint("o", i%5000), Op: wire.RowInsert, Fields: map[string]any{
			"region": regions[i%len(regions)], "status": statuses[i%len(statuses)],
			"total": float64(i%997) + 0.5, "customer": fmt.Sprint("c", i%3000),
		}}}
	}
	return evs
}

func benchAdd(b *testing.B, d agg.Def) {
	d.Source = "orders"
	spec, err := agg.Compile(d)
	if err != nil {
		b.Fatal(err)
	}
	s := NewState(spec)
	evs := benchEvents(4096)
	b.ReportAllocs()
	b.ResetTimer()
	t := int64(0)
	for i := 0; b.Loop(); i++ {
		e := evs[i%len(evs)]
		t++
		e.Time = t // time moves on: buckets turn over as in a live stream
		s.Add(e)
		if i%2500 == 2499 { // a 250 ms emit at 10,000 events/s
			s.Emit(time.UnixMilli(t))
		}
	}
}

// BenchmarkAdd is one Add per fn, grouped by region (10 groups) over 1m
// buckets, with an emit every 2,500 events (250 ms at 10,000/s) included.
func BenchmarkAdd(b *testing.B) {
	for _, fn := range agg.Fns {
		if fn == "m4" {
			continue
		}
		d := agg.Def{Fn: fn, Field: "total", GroupBy: "region", Window: "1m"}
		if fn == "distinct" {
			d.Field = "customer"
		}
		b.Run(fn, func(b *testing.B) { benchAdd(b, d) })
	}
}

// BenchmarkAdd_Window is count and p95 over each window kind, with a filter.
func BenchmarkAdd_Window(b *testing.B) {
	for _, w := range []string{"1m", "last 5m", "today", "current"} {
		for _, fn := range []string{"count", "sum", "p95"} {
			d := agg.Def{Fn: fn, Field: "total", GroupBy: "region", Filter: "status in (new, paid, packed)", Window: w}
			b.Run(w+"/"+fn, func(b *testing.B) { benchAdd(b, d) })
		}
	}
}

// BenchmarkEmit_10Groups is one Emit of a window that changed, 10 groups: a
// sliding window merges its 60 steps at each emit.
func BenchmarkEmit_10Groups(b *testing.B) {
	for _, w := range []string{"1m", "last 5m", "today", "current"} {
		for _, fn := range []string{"count", "p95", "distinct"} {
			b.Run(w+"/"+fn, func(b *testing.B) {
				field := "total"
				if fn == "distinct" {
					field = "customer"
				}
				spec, err := agg.Compile(agg.Def{Source: "orders", Fn: fn, Field: field, GroupBy: "region", Window: w})
				if err != nil {
					b.Fatal(err)
				}
				s := NewState(spec)
				evs := benchEvents(4096)
				for i, e := range evs {
					e.Time = int64(i) * 75 // 5 minutes of history
					s.Add(e)
				}
				s.Emit(time.UnixMilli(4096 * 75))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					e := evs[i%len(evs)]
					i++
					e.Time = 4096*75 + int64(i)
					s.Add(e)
					s.Emit(time.UnixMilli(e.Time))
				}
			})
		}
	}
}

// BenchmarkSize_10Groups reports what a grouped aggregate holds once its
// window or history is full at 10 source events a second per aggregate
// (bytes/state): each op is one fill.
func BenchmarkSize_10Groups(b *testing.B) {
	for _, w := range []string{"1m", "last 5m", "today", "current"} {
		for _, fn := range []string{"count", "p95", "distinct"} {
			b.Run(w+"/"+fn, func(b *testing.B) {
				field := "total"
				if fn == "distinct" {
					field = "customer"
				}
				spec, err := agg.Compile(agg.Def{Source: "orders", Fn: fn, Field: field, GroupBy: "region", Window: w})
				if err != nil {
					b.Fatal(err)
				}
				evs := benchEvents(4096)
				const n = 220_000 // 100 ms apart: 360 one-minute buckets and then some
				size := 0
				for b.Loop() {
					s := NewState(spec)
					for i := range n {
						e := evs[i%len(evs)]
						e.Time = int64(i) * 100
						s.Add(e)
					}
					s.Emit(time.UnixMilli(int64(n) * 100))
					size = s.Size()
				}
				b.ReportMetric(float64(size), "bytes/state")
			})
		}
	}
}

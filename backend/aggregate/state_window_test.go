package aggregate

import (
	"testing"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// TestDistinctSetSizedFromTheBucketBefore: a new bucket's distinct set is
// made as large as the same group's in the bucket before, so filling it
// does not grow it step by step (each growth an allocation and a rehash).
func TestDistinctSetSizedFromTheBucketBefore(t *testing.T) {
	spec, err := agg.Compile(agg.Def{Source: "orders", Fn: "distinct", Field: "customer", GroupBy: "region", Window: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	evs := make([]*wire.Event, n)
	for i := range evs {
		evs[i] = row(0, "k", wire.RowInsert, "region", "eu", "customer", "c"+itoa(i))
	}
	fill := func(s *State, ms int64) {
		for _, e := range evs {
			e.Time = ms
			s.Add(e)
		}
	}
	s := NewState(spec)
	fill(s, 500) // bucket 0: a set grown from empty
	sec := int64(1)
	allocs := testing.AllocsPerRun(5, func() {
		sec++ // a new bucket each run, after a full one
		fill(s, sec*1000+500)
	})
	// The bucket's cell and group map, and the set: made for 500 at once,
	// 7 allocations in all (go1.26); grown from empty by doubling, 20.
	if allocs > 10 {
		t.Fatalf("got %.0f allocations filling a bucket after a full one, want at most 10", allocs)
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

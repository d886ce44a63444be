package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// TestReadWindow: events by event time, after a seq, at most limit, and
// never another tenant's.
func TestReadWindowByEventTime(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var evs []wire.Event
	for i := range 10 { // seqs 1..10 at base+0s..9s
		evs = append(evs, wire.Event{Time: base.Add(time.Duration(i) * time.Second).UnixMilli(), Values: map[string]float64{"i": float64(i)}})
	}
	if err := s.Append(ctx, "acme", "metrics", evs); err != nil {
		t.Fatal(err)
	}
	from, to := base.Add(2500*time.Millisecond), base.Add(6*time.Second)
	for _, tc := range []struct {
		name         string
		tenant       string
		after        uint64
		limit        int
		first, count int
	}{
		{"the window", "acme", 0, 100, 4, 4},
		{"after a seq", "acme", 5, 100, 6, 2},
		{"limited", "acme", 0, 1, 4, 1},
		{"another tenant", "globex", 0, 100, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ReadWindow(ctx, tc.tenant, "metrics", from, to, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.count || (tc.count > 0 && got[0].Seq != uint64(tc.first)) {
				t.Fatalf("got %d events from seq %v, want %d from %d", len(got), got, tc.count, tc.first)
			}
			for _, ev := range got {
				if ev.Time < from.UnixMilli() || ev.Time > to.UnixMilli() || ev.Epoch == 0 {
					t.Fatalf("event %d at %d (epoch %d) is outside the window", ev.Seq, ev.Time, ev.Epoch)
				}
			}
		})
	}
}

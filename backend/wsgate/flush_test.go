package wsgate

import (
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
)

// TestFlusherStampFollowsTheWallClock: a flusher's Sent stamps, the wall
// clock read at most a millisecond before plus the monotonic time since,
// are the wall clock's time; a step of the wall clock shows once the
// reading is a millisecond old.
func TestFlusherStampFollowsTheWallClock(t *testing.T) {
	reg := metrics.New()
	g := New(Config{Hub: hub.New(hub.Config{Metrics: reg}), Metrics: reg, Stages: metrics.NewStages(reg, 0)})
	f := g.flushers[0]
	// The wall and monotonic parts of one time.Now are read a few
	// nanoseconds apart: a stamp may be that much before the reading
	// taken before it.
	const slack = int64(time.Millisecond)
	check := func(when string) {
		t.Helper()
		before := time.Now().UnixNano()
		s := f.stamp()
		after := time.Now().UnixNano()
		if s < before-slack || s > after+slack {
			t.Fatalf("%s: got a stamp %d ns after the reading before it and %d ns before the one after, want it between them", when, s-before, after-s)
		}
		if f.stale || f.clock > f.g.now() {
			t.Fatalf("%s: got the flusher's clock at %d (stale %v), want the stamp's reading, at most now (%d)", when, f.clock, f.stale, f.g.now())
		}
	}
	for range 1000 {
		check("in a row")
	}
	f.wall -= int64(time.Hour) // as if the wall clock stepped an hour after the reading
	f.base -= 2 * int64(time.Millisecond)
	check("after a step, the reading 2 ms old")
}

package ui

import (
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

func TestFreshness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	st := &livestate.Stream{Name: "m", Epoch: 1}
	streams := map[string]*livestate.Stream{"m": st}
	learnt := dashboard.Panel{ID: "a", Stream: "m"}
	declared := dashboard.Panel{ID: "b", Stream: "m", ExpectedCadenceMs: 10_000}
	s := &Shell{}

	s.trackArrivals(streams, t0)
	if f := s.freshness(learnt, t0); f.known {
		t.Fatalf("a stream with no event yet: %+v, want unknown", f)
	}
	// The stream moves every second for a while: the cadence is learnt.
	for i := 1; i <= 20; i++ {
		st.Seq++
		s.trackArrivals(streams, t0.Add(time.Duration(i)*time.Second))
	}
	last := t0.Add(20 * time.Second)
	// Frames with no new event change nothing.
	s.trackArrivals(streams, last.Add(500*time.Millisecond))

	tests := []struct {
		name      string
		panel     dashboard.Panel
		after     time.Duration
		wantStale bool
	}{
		{"fresh", learnt, 800 * time.Millisecond, false},
		{"late but within the floor", learnt, 2900 * time.Millisecond, false},
		{"silent for 4 learnt cadences and the floor", learnt, 4100 * time.Millisecond, true},
		{"a declared slow cadence is not stale yet", declared, 30 * time.Second, false},
		{"silent for 4 declared cadences", declared, 41 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := s.freshness(tt.panel, last.Add(tt.after))
			if !f.known || f.age != tt.after || f.stale != tt.wantStale {
				t.Fatalf("got %+v, want age %v stale %v", f, tt.after, tt.wantStale)
			}
		})
	}
	if f := s.freshness(learnt, last); f.expect < 900*time.Millisecond || f.expect > 1100*time.Millisecond {
		t.Fatalf("learnt cadence %v, want about 1 s", f.expect)
	}
	// A new epoch (the stream was recreated) is dated by its newest event,
	// and the gap across it is not counted as the stream's rhythm.
	st.Epoch, st.Seq, st.State.LastTime = 2, 1, last.Add(time.Hour-5*time.Second).UnixMilli()
	s.trackArrivals(streams, last.Add(time.Hour))
	if f := s.freshness(learnt, last.Add(time.Hour)); f.age != 5*time.Second || f.expect > 1100*time.Millisecond {
		t.Fatalf("after a new epoch: %+v, want 5 s old and the learnt cadence kept", f)
	}
	// An event time ahead of the page's clock does not make data look newer
	// than now.
	st.Epoch, st.Seq, st.State.LastTime = 3, 1, last.Add(2*time.Hour).UnixMilli()
	s.trackArrivals(streams, last.Add(time.Hour))
	if f := s.freshness(learnt, last.Add(time.Hour)); f.age != 0 {
		t.Fatalf("an event from the future: %+v, want age 0", f)
	}
}

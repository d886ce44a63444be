package ui

import (
	"strconv"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
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

// snapshotOf is a stream first seen in a snapshot whose newest event is at
// last.
func snapshotOf(last time.Time, st wire.State) *livestate.Stream {
	st.LastTime = last.UnixMilli()
	return &livestate.Stream{Name: "s", Epoch: 7, Seq: 500, State: st}
}

// TestCadenceFromSnapshotHistory: a stream seen only in its snapshot, on a
// panel that declares no cadence, is held to the rhythm its history shows
// (its points table, or its rows' times), and with too little history to
// the default: stale after a minute of silence, never "never".
func TestCadenceFromSnapshotHistory(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	every := func(n int, step time.Duration) []int64 {
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = now.Add(-time.Duration(n-1-i) * step).UnixMilli()
		}
		return ts
	}
	var bursts []int64 // 10 samples 10 ms apart, every 5 s: a producer that flushes
	for b := 4; b >= 0; b-- {
		for i := range 10 {
			bursts = append(bursts, now.Add(-time.Duration(b)*5*time.Second+time.Duration(i-9)*10*time.Millisecond).UnixMilli())
		}
	}
	rows := func(field string, at func(i int) any) []wire.Row {
		out := make([]wire.Row, 6)
		for i := range out {
			out[i] = wire.Row{Key: strconv.Itoa(i), Fields: map[string]any{"status": "new", "total": 42.5, field: at(i)}}
		}
		return out
	}
	tests := []struct {
		name         string
		state        wire.State
		cadence      time.Duration // want, ±5%; zero: too little history
		fresh, stale time.Duration // an age it is not stale at, and one it is
	}{
		{"points every 2 s", wire.State{Points: wire.Points{TS: every(21, 2*time.Second)}}, 2 * time.Second, 7500 * time.Millisecond, 8500 * time.Millisecond},
		{"points in bursts every 5 s", wire.State{Points: wire.Points{TS: bursts}}, 4910 * time.Millisecond, 19 * time.Second, 20 * time.Second},
		{"rows with an RFC 3339 time every 30 s", wire.State{Rows: rows("updated_at", func(i int) any {
			return now.Add(-time.Duration(i) * 30 * time.Second).Format("2006-01-02T15:04:05.000000-07:00")
		})}, 30 * time.Second, 119 * time.Second, 121 * time.Second},
		{"rows with epoch milliseconds every 10 s", wire.State{Rows: rows("ts", func(i int) any {
			return now.Add(-time.Duration(i) * 10 * time.Second).UnixMilli()
		})}, 10 * time.Second, 39 * time.Second, 41 * time.Second},
		{"rows whose times are not in arrival order", wire.State{Rows: rows("created_at", func(i int) any {
			return now.Add(-time.Duration([]int{0, 3, 1, 4, 2, 5}[i]) * time.Minute).UnixMilli()
		})}, 0, 59 * time.Second, 61 * time.Second},
		{"one gauge, no history", wire.State{Values: map[string]float64{"x": 1}}, 0, 59 * time.Second, 61 * time.Second},
	}
	panel := dashboard.Panel{ID: "p", Stream: "s"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Shell{}
			s.trackArrivals(map[string]*livestate.Stream{"s": snapshotOf(now, tt.state)}, now)
			f := s.freshness(panel, now)
			if d := f.expect - tt.cadence; d < -tt.cadence/20 || d > tt.cadence/20 {
				t.Fatalf("got cadence %v, want %v", f.expect, tt.cadence)
			}
			if f := s.freshness(panel, now.Add(tt.fresh)); !f.known || f.stale {
				t.Fatalf("after %v: got %+v, want known and not stale", tt.fresh, f)
			}
			if f := s.freshness(panel, now.Add(tt.stale)); !f.stale {
				t.Fatalf("after %v: got %+v, want stale", tt.stale, f)
			}
		})
	}
	// The case: a page opened onto a stream last heard of 17 min
	// ago, with no history, says stale at once.
	s := &Shell{}
	s.trackArrivals(map[string]*livestate.Stream{"s": snapshotOf(now.Add(-17*time.Minute), wire.State{})}, now)
	if f := s.freshness(panel, now); !f.stale || f.age != 17*time.Minute {
		t.Fatalf("a stream silent for 17 min: got %+v, want stale, 17 min old", f)
	}
}

// TestCadenceFromReplayedEvents: events replayed after a resume arrive
// faster than they happened; their event times, not the page's frames,
// say how often the stream speaks. And a producer that flushes samples in
// batches is held to how often the batches arrive, not to the spacing of
// the samples in its points table.
func TestCadenceFromReplayedEvents(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	panel := dashboard.Panel{ID: "p", Stream: "s"}
	st := snapshotOf(now.Add(-time.Minute), wire.State{})
	s := &Shell{}
	s.trackArrivals(map[string]*livestate.Stream{"s": st}, now)
	// 20 events, 3 s apart by their times, replayed in 20 frames 20 ms apart.
	for i := 1; i <= 20; i++ {
		st.Seq++
		st.State.LastTime += 3000
		s.trackArrivals(map[string]*livestate.Stream{"s": st}, now.Add(time.Duration(i)*20*time.Millisecond))
	}
	caught := now.Add(400 * time.Millisecond)
	if f := s.freshness(panel, caught); f.expect < 2900*time.Millisecond || f.expect > 3100*time.Millisecond {
		t.Fatalf("after a replay: got cadence %v, want 3 s", f.expect)
	}
	if f := s.freshness(panel, caught.Add(10*time.Second)); f.stale {
		t.Fatalf("10 s after the replay: got %+v, want not stale (4 × 3 s)", f)
	}

	// 10 s of samples 10 ms apart, then a batch of the next 10 s.
	var ts []int64
	for i := range 1000 {
		ts = append(ts, now.Add(time.Duration(i-999)*10*time.Millisecond).UnixMilli())
	}
	st = snapshotOf(now, wire.State{Points: wire.Points{TS: ts}})
	s = &Shell{}
	s.trackArrivals(map[string]*livestate.Stream{"s": st}, now)
	st.Seq++
	st.State.LastTime += 10_000
	s.trackArrivals(map[string]*livestate.Stream{"s": st}, now.Add(10*time.Second))
	if f := s.freshness(panel, now.Add(10*time.Second)); f.expect != 10*time.Second {
		t.Fatalf("after the second batch: got cadence %v, want 10 s", f.expect)
	}
}

// TestBadgeFollowsTheData: the badge is green only while the connection is
// live and no panel is stale; otherwise it says what is wrong, at once, with
// the age of the newest data.
func TestBadgeFollowsTheData(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	fresh := dataHealth{newest: 300 * time.Millisecond, known: 3}
	live := client.Info{Status: client.Live, LastEventAt: now.Add(-300 * time.Millisecond)}
	tests := []struct {
		name  string
		info  client.Info
		data  dataHealth
		state string
		text  string
	}{
		{"live with fresh data", live, fresh, "live", "live · now"},
		{"live, no data yet", client.Info{Status: client.Live}, dataHealth{newest: -1}, "live", "live"},
		{"every panel stale", live, dataHealth{newest: 39 * time.Second, known: 3, stale: 3}, "degraded", "degraded · no new data · 39 s ago"},
		{"one panel stale", live, dataHealth{newest: 300 * time.Millisecond, known: 3, stale: 1}, "degraded", "degraded · 1 panel stale · now"},
		{"a snapshot 17 min old, no event since", client.Info{Status: client.Live}, dataHealth{newest: 17 * time.Minute, known: 1, stale: 1}, "degraded", "degraded · no new data · 17 min ago"},
		{"the browser says offline", client.Info{Status: client.Offline, NetworkDown: true}, dataHealth{newest: 39 * time.Second, known: 3, stale: 3}, "offline", "offline · no network · 39 s ago"},
		{"no frame for 1.2 ping intervals", client.Info{Status: client.Degraded, Silent: true, LastFrameAt: now.Add(-19 * time.Second)}, dataHealth{newest: 25 * time.Second, known: 3, stale: 3}, "degraded", "degraded · no signal for 19 s · 25 s ago"},
		{"catching up, stale until caught up", client.Info{Status: client.CatchingUp, CatchUp: client.Progress{Done: 40, Total: 120}}, dataHealth{newest: time.Minute, known: 3, stale: 3}, "catching-up", "catching up 40/120 · 1 min ago"},
		{"polling", client.Info{Status: client.Degraded, Transport: client.TransportPoll}, fresh, "degraded", "degraded · polling · now"},
		{"signed out", client.Info{Status: client.SignedOut}, fresh, "signed-out", "signed out · now"},
		{"offline, only an event time known", client.Info{Status: client.Offline, LastEventAt: now.Add(-3 * time.Minute)}, dataHealth{newest: -1}, "offline", "offline · 3 min ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, text := badgeFor(tt.info, tt.data, now)
			if state != tt.state || text != tt.text {
				t.Fatalf("got %q %q, want %q %q", state, text, tt.state, tt.text)
			}
		})
	}
}

// TestDataHealthCountsPanels: the badge's view of the data comes from the
// panels: the freshest stream's age, and which panels are stale by their
// own cadences.
func TestDataHealthCountsPanels(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := &Shell{spec: &dashboard.Dashboard{Panels: []dashboard.Panel{
		{ID: "a", Stream: "fast", ExpectedCadenceMs: 500},
		{ID: "b", Stream: "fast", ExpectedCadenceMs: 60_000},
		{ID: "c", Stream: "empty"},
	}}}
	fast := &livestate.Stream{Name: "fast", Epoch: 1, Seq: 3, State: wire.State{LastTime: now.Add(-10 * time.Second).UnixMilli()}}
	empty := &livestate.Stream{Name: "empty", Epoch: 1}
	s.trackArrivals(map[string]*livestate.Stream{"fast": fast, "empty": empty}, now)
	if h := s.dataHealth(now); h != (dataHealth{newest: 10 * time.Second, known: 2, stale: 1}) {
		t.Fatalf("got %+v, want the newest 10 s old, 1 of 2 panels with data stale", h)
	}
}

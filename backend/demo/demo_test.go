package demo

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

type sink struct {
	mu     sync.Mutex
	events map[string][]wire.Event
}

func (s *sink) Append(_ context.Context, tenant, stream string, evs []wire.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tenant != "acme" {
		panic("wrong tenant " + tenant)
	}
	now := time.Now().UnixMilli()
	for _, ev := range evs {
		ev.Time = now // as a store dates what it appends
		s.events[stream] = append(s.events[stream], ev)
	}
	return nil
}

// Every panel of every built-in dashboard (the demo's and the examples')
// has something to draw, aggregates computed from their sources as the
// server computes them.
func TestFeedFillsTheDashboard(t *testing.T) {
	t.Parallel()
	ds := Dashboards()
	if len(ds) != 4 || ds[0].ID != Dashboard().ID {
		t.Fatalf("got %d dashboards, first %q, want the demo's first then the 3 examples", len(ds), ds[0].ID)
	}
	for i := range ds {
		if err := ds[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	s := &sink{events: map[string][]wire.Event{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s, Config{Tenant: "acme", Seed: 1, Speed: 10}) }()
	poll.Until(t, 15*time.Second, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, d := range ds {
			if err := Draws(d, s.events, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, stream := range []string{StreamMetrics, StreamLatency} {
		var last int64
		for _, ev := range s.events[stream] {
			for _, ts := range ev.Points.TS {
				if ts <= last {
					t.Fatalf("%s timestamps not ascending: %d then %d", stream, last, ts)
				}
				last = ts
			}
		}
	}
}

// Draws finds the panel a feed leaves empty, and says which.
func TestDrawsNamesTheEmptyPanel(t *testing.T) {
	t.Parallel()
	ex := Dashboards()[3] // the fleet
	if ex.ID != "delivery-fleet" {
		t.Fatalf("got %s, want delivery-fleet", ex.ID)
	}
	row := func(k, status string) wire.Event {
		return wire.Event{Time: 1, Row: &wire.Row{Key: k, Fields: map[string]any{
			"vehicle": k, "status": status, "region": "north", "eta": 1.0, "delay_ms": 0.0, "updated": 1.0}}}
	}
	evs := map[string][]wire.Event{"fleet": {row("a", "en route"), row("b", "delayed"), row("c", "idle")}}
	if err := Draws(ex, evs, time.Now()); err != nil {
		t.Fatalf("got %v, want every panel drawn", err)
	}
	evs["fleet"][1] = row("b", "late") // no level, and nothing delayed
	err := Draws(ex, evs, time.Now())
	if err == nil || !strings.Contains(err.Error(), "panel delays-by-region:") {
		t.Fatalf("got %v, want panel delays-by-region named", err)
	}
}

type errMissing string

func (e errMissing) Error() string { return "panel " + string(e) + " has nothing to draw yet" }

// TestFeedStaysPlausible simulates an hour: the demo must look like a steady
// warehouse, not drift into absurd queues or backlogs.
func TestFeedStaysPlausible(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	f := newFeed(rand.New(rand.NewPCG(7, 8)), start)
	maxQueue, maxOpen := 0.0, 0
	for i := 1; i <= 36000; i++ { // one hour of 100 ms ticks
		ev := f.metrics(start.Add(time.Duration(i) * 100 * time.Millisecond))
		for _, q := range ev.Points.Col("queue_depth") {
			maxQueue = math.Max(maxQueue, q)
		}
		if i%3 == 0 {
			f.order()
			maxOpen = max(maxOpen, len(f.open))
		}
	}
	if maxQueue > 200 {
		t.Fatalf("queue depth reached %.0f in an hour, want it to hover near 40", maxQueue)
	}
	if maxOpen > 120 {
		t.Fatalf("open orders reached %d in an hour, want them to hover near 40", maxOpen)
	}
	t.Logf("over an hour: max queue %.0f, max open orders %d", maxQueue, maxOpen)
}

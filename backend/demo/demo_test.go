package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/poll"
	"github.com/telltale/telltale/shared/wire"
)

type sink struct {
	mu      sync.Mutex
	streams map[string]*wire.State
	counts  map[string]int
}

func (s *sink) Append(_ context.Context, tenant, stream string, evs []wire.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tenant != "acme" {
		panic("wrong tenant " + tenant)
	}
	st := s.streams[stream]
	if st == nil {
		st = &wire.State{}
		s.streams[stream] = st
	}
	for i := range evs {
		livestate.Fold(st, &evs[i], livestate.Limits{})
	}
	s.counts[stream] += len(evs)
	return nil
}

func TestFeedFillsTheDashboard(t *testing.T) {
	d := Dashboard()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &sink{streams: map[string]*wire.State{}, counts: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s, Config{Tenant: "acme", Seed: 1, Speed: 10}) }()
	// Wait until every panel of the spec has something to draw.
	poll.Until(t, 10*time.Second, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range d.Panels {
			st := s.streams[p.Stream]
			if st == nil {
				return errMissing(p.ID)
			}
			switch p.Kind {
			case "kpi":
				if _, ok := st.Values[p.Field]; !ok {
					return errMissing(p.ID)
				}
			case "timeseries":
				for _, name := range p.Series {
					if len(st.Points.Col(name)) < 50 {
						return errMissing(p.ID)
					}
				}
			case "table":
				if len(st.Rows) < 3 {
					return errMissing(p.ID)
				}
			case "status":
				if len(st.Rows) < 3 {
					return errMissing(p.ID)
				}
				for _, r := range st.Rows {
					if p.Rules().Text(fmt.Sprint(r.Fields[p.Field])) == "" {
						return fmt.Errorf("panel %s: row %s's %s %v has no level", p.ID, r.Key, p.Field, r.Fields[p.Field])
					}
				}
			default:
				return fmt.Errorf("panel %s: the test does not know kind %s", p.ID, p.Kind)
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
	// Every table column shows something for every row: a field the row
	// carries, or "key", the row's key.
	for _, p := range d.Panels {
		for _, c := range p.Columns {
			for _, r := range s.streams[p.Stream].Rows {
				if _, ok := r.Fields[c.Field]; !ok && c.Field != "key" {
					t.Fatalf("panel %s: column %s is empty for row %s (fields %v)", p.ID, c.Field, r.Key, r.Fields)
				}
			}
		}
	}
	ts := s.streams[StreamMetrics].Points.TS
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("metrics timestamps not ascending at %d: %d then %d", i, ts[i-1], ts[i])
		}
	}
}

type errMissing string

func (e errMissing) Error() string { return "panel " + string(e) + " has nothing to draw yet" }

// TestFeedStaysPlausible simulates an hour: the demo must look like a steady
// warehouse, not drift into absurd queues or backlogs.
func TestFeedStaysPlausible(t *testing.T) {
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

package demo

import (
	"context"
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
	ts := s.streams[StreamMetrics].Points.TS
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Fatalf("metrics timestamps not ascending at %d: %d then %d", i, ts[i-1], ts[i])
		}
	}
}

type errMissing string

func (e errMissing) Error() string { return "panel " + string(e) + " has nothing to draw yet" }

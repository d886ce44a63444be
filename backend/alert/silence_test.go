package alert

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

// clock is a SilenceClock in memory, shared by the evaluators of one test
// as PostgreSQL is by the leaders of a cluster.
type clock struct {
	mu     sync.Mutex
	since  map[string]time.Time // tenant/stream →
	forgot []string
}

func (c *clock) SilentSince(_ context.Context, tenant, stream string, now time.Time) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := tenant + "/" + stream
	if s, ok := c.since[k]; ok {
		return s, nil
	}
	c.since[k] = now
	return now, nil
}

func (c *clock) ForgetSilence(_ context.Context, tenant, stream string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.since, tenant+"/"+stream)
	c.forgot = append(c.forgot, tenant+"/"+stream)
	return nil
}

// A leader's successor counts the silence of a stream the hub holds nothing
// of from when the first leader began (the clock it keeps), not from its
// own start: a failover does not postpone the alert. Without the clock it
// would fire 30 s later (TestNeverSeenStreamIsSilentFromTheFirstLook).
func TestSilenceCountsAcrossLeaders(t *testing.T) {
	t.Parallel()
	c := &clock{since: map[string]time.Time{}}
	first := newRigWith(t, c)
	first.boards["acme"] = []dashboard.Dashboard{desk(&dashboard.SLA{FreshWithin: "1m"})}
	first.eval(0)
	first.eval(30 * time.Second)
	first.expect()

	// The first leader dies; the next starts 30 s later on the same clock.
	next := newRigWith(t, c)
	next.boards = first.boards
	next.now = first.now
	next.eval(15 * time.Second)
	next.expect()
	next.eval(20 * time.Second) // 65 s after the first leader's first look
	next.expect("acme orders-desk/latest/silent firing", "acme orders-desk/count/silent firing")

	// The target goes: what the clock keeps goes with it.
	next.boards["acme"] = []dashboard.Dashboard{desk(nil)}
	next.eval(15 * time.Second)
	slices.Sort(next.notes) // removed targets resolve in no order
	next.expect("acme orders-desk/count/silent resolved", "acme orders-desk/latest/silent resolved")
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.since) != 0 || len(c.forgot) != 1 || c.forgot[0] != "acme/orders" {
		t.Fatalf("the clock keeps %v after the target went (forgot %v), want nothing (forgot acme/orders)", c.since, c.forgot)
	}
}

// newRigWith is newRig with a SilenceClock.
func newRigWith(t *testing.T, c SilenceClock) *rig {
	r := newRig(t)
	cfg := r.e.cfg
	cfg.Silence = c
	r.e = New(cfg)
	return r
}

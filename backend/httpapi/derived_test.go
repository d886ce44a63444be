package httpapi

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// fakeDerived knows two derived streams over orders; the second is over
// the tenant's cap.
type fakeDerived struct {
	mu     sync.Mutex
	wanted []string // tenant/stream
}

const (
	aggOrders = "agg.0000000000000001"
	aggOver   = "agg.0000000000000002"
)

func (d *fakeDerived) Source(tenant, stream string) (string, bool, error) {
	switch {
	case stream == aggOrders || stream == aggOver:
		return "orders", true, nil
	case strings.HasPrefix(stream, "agg."):
		return "", true, errors.New(stream + ": no such derived stream")
	}
	return "", false, nil
}

func (d *fakeDerived) Want(tenant, stream string) error {
	if stream == aggOver {
		return fmt.Errorf("tenant %s computes its most aggregates: %w", tenant, wire.ErrStreamQuota)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wanted = append(d.wanted, tenant+"/"+stream)
	return nil
}

// A derived stream follows its source's access rule, is asked of the
// engine for the token's own tenant, and says why when it cannot be had.
func TestDerivedStreamRule(t *testing.T) {
	d := &fakeDerived{}
	f := startWith(t, Config{Derived: d})
	ordersOnly, _ := f.keys.Mint("acme", "alice", time.Hour, []string{"orders"}, "")
	fleetOnly, _ := f.keys.Mint("acme", "alice", time.Hour, []string{"fleet.*"}, "")
	globex, _ := f.keys.Mint("globex", "bob", time.Hour, nil, "")
	for _, tc := range []struct {
		name, token, stream string
		status              int
		body                string
	}{
		{"allowed the source", ordersOnly, aggOrders, 200, ""},
		{"another tenant, same name", globex, aggOrders, 200, ""},
		{"not allowed the source", fleetOnly, aggOrders, 403, "not among the token's streams"},
		{"unknown derived stream", ordersOnly, "agg.00000000000000ff", 404, "no such derived stream"},
		{"over the cap", ordersOnly, aggOver, 403, "most aggregates"},
		{"an ordinary stream is itself", ordersOnly, "orders", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.get(t, "/api/v1/streams/"+tc.stream+"/snapshot", tc.token)
			if status != tc.status || !strings.Contains(string(body), tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", status, body, tc.status, tc.body)
			}
		})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if got := strings.Join(d.wanted, " "); got != "acme/"+aggOrders+" globex/"+aggOrders {
		t.Fatalf("engine asked for %q, want acme's then globex's %s", got, aggOrders)
	}
}

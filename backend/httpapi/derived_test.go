package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/store"
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
		return fmt.Errorf("tenant %s computes its most aggregates: %w", tenant, store.ErrStreamQuota)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wanted = append(d.wanted, tenant+"/"+stream)
	return nil
}

// A derived stream follows its source's access rule, is asked of the
// engine for the token's own tenant, and says why when it cannot be had.
func TestDerivedStreamRule(t *testing.T) {
	t.Parallel()
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

// TestWindowOfADerivedStreamIsItsFinalBuckets: an aggregate's stored
// events re-emit the live bucket as it fills; the window endpoint (a chart's
// history on open) serves the derived stream by its source's rule and draws
// each bucket at its final value, never at one it passed through.
func TestWindowOfADerivedStreamIsItsFinalBuckets(t *testing.T) {
	t.Parallel()
	f := startWith(t, Config{Derived: &fakeDerived{}})
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, []string{"orders"}, "")
	base := time.Now().Add(-15 * time.Minute).Truncate(time.Minute).UnixMilli()
	final := map[int64]float64{}
	for b := range int64(15) {
		bucket := base + b*60_000
		for k := range 4 { // the live bucket, emitted four times as it fills
			v := float64(b*100 + int64(k))
			p := wire.Points{TS: []int64{bucket}, Cols: []wire.Column{{Name: "value", Vals: []float64{v}}}}
			ev := wire.Event{Time: bucket + int64(k)*15_000, Points: &p}
			if err := f.store.Append(context.Background(), "acme", aggOrders, []wire.Event{ev}); err != nil {
				t.Fatal(err)
			}
			final[bucket] = v
		}
	}
	status, body := f.get(t, fmt.Sprintf("/api/v1/streams/%s/window?from=%d&to=%d&width=1000&series=value", aggOrders, base, base+15*60_000), tok)
	if status != http.StatusOK {
		t.Fatalf("window of a derived stream: %d %s", status, body)
	}
	fr, err := wire.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	pts := fr.(wire.Snapshot).State.Points
	if len(pts.TS) == 0 {
		t.Fatal("no buckets")
	}
	seen := map[int64]bool{}
	for i, ts := range pts.TS {
		want, ok := final[ts]
		if !ok {
			t.Fatalf("row at %d is no bucket", ts)
		}
		if v := pts.Col("value")[i]; v != want {
			t.Fatalf("bucket %d drawn at %v, want its final value %v", ts, v, want)
		}
		seen[ts] = true
	}
	if len(seen) != len(final) {
		t.Fatalf("%d of %d buckets", len(seen), len(final))
	}
	status, body = f.get(t, fmt.Sprintf("/api/v1/streams/%s/window?from=%d&to=%d&width=10", aggOrders, base, base+60_000), "")
	if status == http.StatusOK {
		t.Fatalf("a window without a token: %d %s", status, body)
	}
}

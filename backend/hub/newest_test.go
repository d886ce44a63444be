package hub

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Newest is the newest event time of a stream the hub holds, per tenant,
// and asking about another name creates nothing.
func TestNewestAndTenants(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	if _, ok := h.Newest("a", "orders"); ok {
		t.Fatal("Newest of a stream never published: ok")
	}
	evs := events("orders", 1, 1, 3)
	for i := range evs {
		evs[i].Time = int64(1_700_000_000_000 + i*1000)
	}
	h.Publish("a", evs)
	h.Publish("b", events("fleet", 1, 1, 1)) // no event time: none known
	got, ok := h.Newest("a", "orders")
	if want := time.UnixMilli(1_700_000_002_000); !ok || !got.Equal(want) {
		t.Fatalf("Newest(a, orders) = %v %v, want %v", got, ok, want)
	}
	if _, ok := h.Newest("b", "orders"); ok {
		t.Fatal("Newest(b, orders): ok for another tenant's stream")
	}
	if _, ok := h.Newest("b", "fleet"); ok {
		t.Fatal("Newest(b, fleet): ok for a stream without event times")
	}
	tenants := h.Tenants()
	slices.Sort(tenants)
	if !slices.Equal(tenants, []string{"a", "b"}) {
		t.Fatalf("Tenants() = %v, want [a b]", tenants)
	}
	if h.Newest("c", "x"); len(h.Tenants()) != 2 {
		t.Fatal("Newest created a stream")
	}
}

// A tenant's alerts stream keeps every alert's row, past the 50 rows of
// another stream, so that a firing alert is in the snapshot a page starts
// from.
func TestAlertsStreamKeepsEveryAlert(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	const n = 300
	evs := make([]wire.Event, n)
	for i := range evs {
		evs[i] = dashboard.AlertEvent(dashboard.Alert{ID: fmt.Sprintf("d/p%03d/silent", i), State: dashboard.AlertFiring})
		evs[i].Stream, evs[i].Epoch, evs[i].Seq = dashboard.AlertsStream, 1, uint64(i+1)
	}
	h.Publish("t", evs)
	b, err := h.Snapshot("t", dashboard.AlertsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(snapshotOf(t, b).State.Rows); got != n {
		t.Fatalf("alerts stream: snapshot has %d rows, want all %d alerts", got, n)
	}
}

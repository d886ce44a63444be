package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// TestStreamServesPastAnEventThatDoesNotEncode: an event the wire cannot
// encode that got into the store anyway (ingest refuses such values; this
// is a bug elsewhere) does not break the stream's HTTP API: its snapshot
// answers, a cursor from before the event is told to start over from it
// (409) rather than 500 for ever, and events after it are served.
func TestStreamServesPastAnEventThatDoesNotEncode(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	bad := wire.Event{Row: &wire.Row{Key: "k", Fields: map[string]any{"at": time.Unix(1, 0)}}}
	good := wire.Event{Values: map[string]float64{"after": 1}}
	if err := f.store.Append(context.Background(), "acme", "orders", []wire.Event{bad, good}); err != nil {
		t.Fatal(err)
	}
	status, b := f.get(t, "/api/v1/streams/orders/snapshot", tok)
	if status != http.StatusOK {
		t.Fatalf("snapshot: got %d %s, want 200", status, b)
	}
	fr, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	snap := fr.(wire.Snapshot)
	if snap.Seq != 12 || snap.State.Values["after"] != 1 {
		t.Fatalf("snapshot at seq %d values %v, want seq 12 with the event after the bad one", snap.Seq, snap.State.Values)
	}
	if status, b := f.get(t, fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=10", snap.Epoch), tok); status != http.StatusConflict {
		t.Fatalf("events from before the bad event: got %d %s, want 409", status, b)
	}
	if status, b := f.get(t, fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=11", snap.Epoch), tok); status != http.StatusOK {
		t.Fatalf("events after the bad event: got %d %s, want 200", status, b)
	}
}

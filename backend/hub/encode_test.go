package hub

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// orderLog records what a subscriber was handed, in order.
type orderLog struct {
	mu  sync.Mutex
	log []string
}

func (o *orderLog) add(s string) { o.mu.Lock(); o.log = append(o.log, s); o.mu.Unlock() }
func (o *orderLog) Snapshot(stream string, frame []byte) {
	o.add("snapshot")
}
func (o *orderLog) Deliver(_ string, first uint64, evs [][]byte) {
	for i := range evs {
		o.add(fmt.Sprintf("event %d", first+uint64(i)))
	}
}
func (o *orderLog) Resync(_, reason string) { o.add("resync: " + reason) }
func (o *orderLog) Replay(_ string, _ uint64, evs [][]byte) {
	o.add(fmt.Sprintf("replay %d", len(evs)))
}
func (o *orderLog) Hold(string) uint64 { o.add("hold"); return 1 }

// TestUnencodableEventResyncsAndTheStreamGoesOn: an event the wire cannot
// encode (ingest refuses such values, so this is a bug elsewhere) is dropped
// from the hot state with a counted error, subscribers are told to resync
// instead of seeing a hole, and the stream keeps serving: new subscriptions,
// its snapshot, resuming, and the events after it. Before, the value stayed in
// the state: every later snapshot failed to encode and subscribers skipped
// from seq 1 to 3 without a word.
func TestUnencodableEventResyncsAndTheStreamGoesOn(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	sub := &orderLog{}
	if _, err := h.Subscribe("t", "m", sub); err != nil {
		t.Fatal(err)
	}
	evs := events("m", 7, 1, 3)
	evs[0].Row = &wire.Row{Key: "good", Fields: map[string]any{"n": 1}}
	evs[1].Row = &wire.Row{Key: "bad", Fields: map[string]any{"at": time.Unix(1, 0)}} // no wire type
	h.Publish("t", evs)
	h.Publish("t", events("m", 7, 4, 1))

	want := []string{"snapshot", "event 1", "resync: event 2 could not be encoded and was dropped: starting from a fresh snapshot", "event 3", "event 4"}
	if !slices.Equal(sub.log, want) {
		t.Fatalf("subscriber got %q, want %q", sub.log, want)
	}
	if got := h.encodeErr.Load(); got != 1 {
		t.Fatalf("encode errors counted: got %d, want 1", got)
	}

	// The stream still serves, from a state without the bad event's payload.
	b, err := h.Snapshot("t", "m")
	if err != nil {
		t.Fatalf("snapshot after the bad event: %v", err)
	}
	snap := snapshotOf(t, b)
	if snap.Seq != 4 || snap.State.Values["n"] != 4 || len(snap.State.Rows) != 1 || snap.State.Rows[0].Key != "good" {
		t.Fatalf("snapshot at seq %d values %v rows %+v, want seq 4, n=4 and only the good row", snap.Seq, snap.State.Values, snap.State.Rows)
	}
	late := &orderLog{}
	if _, err := h.Subscribe("t", "m", late); err != nil {
		t.Fatalf("new subscription after the bad event: %v", err)
	}
	h.Publish("t", events("m", 7, 5, 1))
	if want := []string{"snapshot", "event 5"}; !slices.Equal(late.log, want) {
		t.Fatalf("late subscriber got %q, want %q", late.log, want)
	}

	// Resuming from before the bad event cannot be answered from the ring
	// (that would skip it): a snapshot. From after it, the ring serves.
	before := &orderLog{}
	res, _, err := h.SubscribeFrom("t", "m", before, wire.Cursor{Epoch: 7, Seq: 1}, false, 0)
	if err != nil || res.Replayed || res.Reason == "" || !slices.Equal(before.log, []string{"snapshot"}) {
		t.Fatalf("resume from seq 1: got %+v %q %v, want a snapshot with a reason", res, before.log, err)
	}
	after := &orderLog{}
	res, _, err = h.SubscribeFrom("t", "m", after, wire.Cursor{Epoch: 7, Seq: 3}, false, 0)
	if err != nil || !res.Replayed || !slices.Equal(after.log, []string{"replay 2"}) {
		t.Fatalf("resume from seq 3: got %+v %q %v, want events 4 and 5 replayed", res, after.log, err)
	}
}

package hub

import (
	"testing"
	"time"
)

// TestHeldStreamWaitsForRelease: a subscription to a held stream returns
// only after Release, with the state as warmed (the tail's first event is
// the start), then gets the deltas after it.
func TestHeldStreamWaitsForRelease(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	held := h.Hold("t", "m")
	r := &recorder{}
	subscribed := make(chan error, 1)
	go func() {
		_, err := h.Subscribe("t", "m", r)
		subscribed <- err
	}()
	held.Publish(events("m", 1, 101, 50))
	select {
	case err := <-subscribed:
		t.Fatalf("the subscription returned (err %v) while the stream was held", err)
	default:
	}
	held.Release()
	held.Release() // idempotent
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription still waits after Release")
	}
	if len(r.snaps) != 1 {
		t.Fatalf("got %d snapshots, want 1", len(r.snaps))
	}
	if s := snapshotOf(t, r.snaps[0]); s.Seq != 150 || s.State.Values["n"] != 150 {
		t.Fatalf("got a snapshot at seq %d with n=%v, want seq 150 and n=150", s.Seq, s.State.Values["n"])
	}
	h.Publish("t", events("m", 1, 151, 2))
	if len(r.seqs) != 2 || r.seqs[0] != 151 || len(r.resyncs) != 0 {
		t.Fatalf("got deltas %v and resyncs %v, want 151, 152 and none", r.seqs, r.resyncs)
	}
}

package hub

import (
	"sync"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

// The tap sees every published batch after its subscribers, in stream order.
func TestTapSeesBatchesAfterDelivery(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  []uint64
		rec  = &recorder{}
		seen int // deliveries the subscriber had when the tap ran
	)
	h := New(Config{Tap: func(tenant string, evs []wire.Event) {
		if tenant != "t" {
			t.Errorf("got tenant %q, want t", tenant)
		}
		rec.mu.Lock()
		seen = len(rec.seqs)
		rec.mu.Unlock()
		mu.Lock()
		for _, ev := range evs {
			got = append(got, ev.Seq)
		}
		mu.Unlock()
	}})
	cancel, err := h.Subscribe("t", "s", rec)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	h.Publish("t", events("s", 1, 1, 3))
	h.Publish("t", events("s", 1, 4, 2))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Fatalf("tap got seqs %v, want 1..5", got)
	}
	if seen != 5 {
		t.Fatalf("subscriber had %d events when the tap ran, want 5 (tap after delivery)", seen)
	}
}

func TestWatched(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	if h.Watched("t", "s") {
		t.Fatal("a stream nobody holds is watched")
	}
	cancel, err := h.Subscribe("t", "s", &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if !h.Watched("t", "s") || h.Watched("u", "s") {
		t.Fatal("got the subscribed stream unwatched, or another tenant's watched")
	}
	cancel()
	if h.Watched("t", "s") {
		t.Fatal("watched after its only subscription ended")
	}
	if _, ok := h.Cursor("t", "s"); ok {
		t.Fatal("Watched or the ended subscription left the stream in the hub")
	}
}

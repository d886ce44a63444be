package hub

import (
	"sync"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

// The tap sees every published batch after its subscribers, in stream order.
func TestTapSeesBatchesAfterDelivery(t *testing.T) {
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

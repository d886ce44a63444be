package hub

import (
	"errors"
	"fmt"
	"testing"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

func widePoints(n int, ts int64) *wire.Points {
	p := &wire.Points{TS: []int64{ts}}
	for i := 0; i < n; i++ {
		p.Cols = append(p.Cols, wire.Column{Name: fmt.Sprintf("s%d", i), Vals: []float64{1}})
	}
	return p
}

func TestCheckUsesTheTenantsCaps(t *testing.T) {
	t.Parallel()
	h := New(Config{Limits: livestate.Limits{Series: 8}, TenantLimits: map[string]livestate.Limits{"acme": {Series: 4}}})
	h.Publish("acme", []wire.Event{{Stream: "m", Epoch: 1, Seq: 1, Points: widePoints(3, 1)}})
	var le *livestate.LimitError
	err := h.Check("acme", "m", []wire.Event{{Points: widePoints(5, 2)}})
	if !errors.As(err, &le) || le.Cap != livestate.CapSeries || le.Limit != 4 || le.Got != 5 || le.Stream != "m" {
		t.Fatalf("got %v, want acme's series cap of 4 named for stream m", err)
	}
	if err := h.Check("globex", "m", []wire.Event{{Points: widePoints(5, 2)}}); err != nil {
		t.Fatalf("got %v, want globex under the server's cap of 8", err)
	}
	if err := h.Check("globex", "m", []wire.Event{{Points: widePoints(9, 2)}}); !errors.As(err, &le) || le.Limit != 8 {
		t.Fatalf("got %v, want the server's cap of 8", err)
	}
	if _, ok := h.Cursor("globex", "m"); ok {
		t.Fatal("Check created a stream")
	}
}

// An event past the caps that reached the hub unchecked (PostgreSQL's
// publish()) is folded trimmed, counted, and forwarded as it was kept: the
// subscriber gets every seq, and what it folds equals the hub's snapshot.
func TestPublishTrimsAndForwardsWhatWasKept(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	h := New(Config{Metrics: reg, TenantLimits: map[string]livestate.Limits{"acme": {Series: 4}}})
	rec := &recorder{}
	cancel, err := h.Subscribe("acme", "m", rec)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	h.Publish("acme", []wire.Event{{Stream: "m", Epoch: 1, Seq: 1, Points: widePoints(2, 1)}, {Stream: "m", Epoch: 1, Seq: 2, Points: widePoints(10, 2)}})
	if got := reg.Lookup("telltale_hub_trimmed_events_total").Load(); got != 1 {
		t.Fatalf("got %d trimmed events counted, want 1", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seqs) != 2 || rec.seqs[0] != 1 || rec.seqs[1] != 2 {
		t.Fatalf("got seqs %v, want 1 and 2: no hole", rec.seqs)
	}
	mirror := livestate.Stream{Name: "m"}
	f, err := wire.Decode(wire.EncodeBatch("m", 0, rec.bufs))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range f.(wire.Batch).Events {
		if _, err := mirror.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := h.Snapshot("acme", "m")
	if err != nil {
		t.Fatal(err)
	}
	held := snapshotOf(t, snap).State.Points
	if len(held.Cols) != 4 || !held.Valid() {
		t.Fatalf("got the hub's snapshot %+v, want 4 aligned series (the cap)", held)
	}
	// The hub's table is ragged (s2 and s3 start at the second row); its
	// snapshot is the dense table the subscriber folded.
	if got, want := fmt.Sprint(held), fmt.Sprint(mirror.State.Points); got != want {
		t.Fatalf("got the hub's snapshot %s, want the subscriber's state %s", got, want)
	}
}

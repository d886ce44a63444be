package hub

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

// sameArray reports whether a and b are the same bytes in memory.
func sameArray(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// TestSubscribersShareOneSnapshot: subscribers starting at one position get
// one encoding, the one a fresh encode would give; a publish in between
// gives the next one its own, at the new position.
func TestSubscribersShareOneSnapshot(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("t", events("m", 5, 1, 3))
	var a, b, c recorder
	for _, r := range []*recorder{&a, &b} {
		if _, err := h.Subscribe("t", "m", r); err != nil {
			t.Fatal(err)
		}
	}
	if !sameArray(a.snaps[0], b.snaps[0]) {
		t.Fatal("two subscribers at seq 3 got two encodings")
	}
	fresh, err := wire.Encode(wire.Snapshot{Stream: "m", Epoch: 5, Seq: 3, State: snapshotOf(t, a.snaps[0]).State})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.snaps[0], fresh) {
		t.Fatal("the shared snapshot is not what encoding the state gives")
	}
	if got := snapshotOf(t, h.snapshotOrFatal(t, "m")); got.Seq != 3 {
		t.Fatalf("Hub.Snapshot at seq %d, want 3", got.Seq)
	}

	h.Publish("t", events("m", 5, 4, 1))
	if _, err := h.Subscribe("t", "m", &c); err != nil {
		t.Fatal(err)
	}
	if sameArray(a.snaps[0], c.snaps[0]) {
		t.Fatal("a subscriber after a publish got the snapshot from before it")
	}
	if got := snapshotOf(t, c.snaps[0]); got.Seq != 4 || got.State.Values["n"] != 4 {
		t.Fatalf("after the publish: seq %d, n %v; want seq 4, n 4", got.Seq, got.State.Values["n"])
	}
}

func (h *Hub) snapshotOrFatal(t *testing.T, name string) []byte {
	t.Helper()
	b, err := h.Snapshot("t", name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotReasonsAreNotShared: a snapshot that says why a cursor could
// not be continued is not handed to a plain subscriber, nor the other way.
func TestSnapshotReasonsAreNotShared(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("t", events("m", 5, 1, 3))
	var plain recorder
	if _, err := h.Subscribe("t", "m", &plain); err != nil {
		t.Fatal(err)
	}
	var r1, r2 resumer
	for _, r := range []*resumer{&r1, &r2} {
		res, _, err := h.SubscribeFrom("t", "m", r, wire.Cursor{Stream: "m", Epoch: 4, Seq: 3}, false, 0)
		if err != nil || res.Reason == "" {
			t.Fatalf("another epoch's cursor: %+v, %v; want a snapshot with a reason", res, err)
		}
	}
	if got := snapshotOf(t, plain.snaps[0]); got.Reason != "" {
		t.Fatalf("plain subscriber's snapshot says %q", got.Reason)
	}
	if got := snapshotOf(t, r1.snaps[0]); got.Reason == "" || got.Seq != 3 {
		t.Fatalf("resumer's snapshot: seq %d, reason %q; want seq 3 with the reason", got.Seq, got.Reason)
	}
	if !sameArray(r1.snaps[0], r2.snaps[0]) {
		t.Fatal("two resumers with one reason at one position got two encodings")
	}
}

// TestSnapshotCacheKeepsNothingAlive: once every subscriber has let go of
// its snapshot, the hub does not keep the frame.
func TestSnapshotCacheKeepsNothingAlive(t *testing.T) {
	h := New(Config{})
	h.Publish("t", events("m", 5, 1, 3))
	func() {
		var r recorder
		cancel, err := h.Subscribe("t", "m", &r)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
	}()
	s := h.stream(key{"t", "m"}, false)
	for range 3 {
		runtime.GC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap.first.Value() != nil {
		t.Fatal("the hub keeps a snapshot nobody holds")
	}
}

// BenchmarkSubscribe_BigSnapshot: subscribers arriving at one position of a
// stream holding 10 series of 20,000 points (~1.8 MB a snapshot), each
// keeping its frame (as an outbox does until it is sent).
func BenchmarkSubscribe_BigSnapshot(b *testing.B) {
	h := New(Config{})
	const n, series = 20000, 10
	ts := make([]int64, n)
	cols := make([]wire.Column, series)
	for i := range ts {
		ts[i] = int64(i) * 1000
	}
	for c := range cols {
		cols[c] = wire.Column{Name: string(rune('a' + c)), Vals: make([]float64, n)}
		for i := range cols[c].Vals {
			cols[c].Vals[i] = float64(i*c) + 0.5
		}
	}
	h.Publish("t", []wire.Event{{Stream: "m", Epoch: 1, Seq: 1, Points: &wire.Points{TS: ts, Cols: cols}}})
	held := make([]*recorder, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		r := &recorder{}
		if _, err := h.Subscribe("t", "m", r); err != nil {
			b.Fatal(err)
		}
		if len(held) == cap(held) {
			held = held[:0]
		}
		held = append(held, r)
	}
	b.ReportMetric(float64(len(held[0].snaps[0])), "snapshot-bytes")
}

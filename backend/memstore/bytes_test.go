package memstore

import (
	"context"
	"errors"
	"testing"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

// TestWideEventsAreBoundedInBytes: a stream of wide events keeps as many
// as fit its byte bound, newest first; reads see contiguous seqs from the
// oldest kept, and an older cursor is told the events are trimmed.
func TestWideEventsAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	wide := func() wire.Event {
		p := &wire.Points{TS: make([]int64, 100)}
		for range 10 {
			p.Cols = append(p.Cols, wire.Column{Name: "s", Vals: make([]float64, 100)})
		}
		return wire.Event{Points: p}
	}
	one := wide()
	size := EventSize(&one) // ~8.9 KB
	s := New(Config{Capacity: 1000, CapacityBytes: 10 * size})
	ctx := context.Background()
	for i := range 25 {
		evs := []wire.Event{wide()}
		if i == 17 {
			evs = append(evs, wire.Event{Values: map[string]float64{"x": 1}}) // small ones fit around the wide
		}
		if err := s.Append(ctx, "t", "w", evs); err != nil {
			t.Fatal(err)
		}
	}
	r := s.streams[key{"t", "w"}]
	if r.n > 11 || r.bytes > 10*size {
		t.Fatalf("kept %d events of %d bytes, want at most 10 wide ones (%d bytes)", r.n, r.bytes, 10*size)
	}
	oldest := r.last - uint64(r.n) + 1
	got, err := s.Read(ctx, "t", "w", oldest-1, 100)
	if err != nil || len(got) != r.n {
		t.Fatalf("read from the oldest kept (%d): %d events, err %v; want %d", oldest, len(got), err, r.n)
	}
	for i, ev := range got {
		if ev.Seq != oldest+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, oldest+uint64(i))
		}
	}
	if got[len(got)-1].Seq != 26 {
		t.Fatalf("newest read is %d, want 26", got[len(got)-1].Seq)
	}
	if _, err := s.Read(ctx, "t", "w", oldest-2, 100); !errors.Is(err, store.ErrTrimmed) {
		t.Fatalf("read from before the oldest kept: err %v, want ErrTrimmed", err)
	}
	// One event larger than the bound is still kept: the newest always is.
	huge := wire.Event{Row: &wire.Row{Key: "k", Fields: map[string]any{"blob": string(make([]byte, 20*size))}}}
	if err := s.Append(ctx, "t", "w", []wire.Event{huge}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(ctx, "t", "w", 26, 10); err != nil || len(got) != 1 || got[0].Seq != 27 || r.n != 1 {
		t.Fatalf("after one huge event: read %d events (err %v), %d kept; want just it", len(got), err, r.n)
	}
}

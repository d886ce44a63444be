// Package storetest is the store contract as tests: Run checks that a
// store.Log keeps every promise package store writes down (contiguous seqs
// per tenant and stream, reads by seq and by event time, all-or-nothing
// appends, names and quotas refused before anything is kept). The embedded
// store and PostgreSQL both run it, so a test of the contract is written
// once.
//
// It must never be imported by non-test code, and never skip: a store that
// cannot pass a case fails it.
package storetest

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

// Config is what a case asks of the fresh store it is given.
type Config struct {
	// MaxStreamsPerTenant is the most streams one tenant may create; zero
	// means the store's default.
	MaxStreamsPerTenant int
}

// NewStore returns a fresh, empty store configured as cfg says, cleaned up
// with t. It is called from parallel subtests.
type NewStore func(t *testing.T, cfg Config) store.Log

// Run runs every case of the contract, each on a store of its own.
func Run(t *testing.T, newStore NewStore) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, NewStore)
	}{
		{"AppendAndRead", appendAndRead},
		{"BadStreamName", badStreamName},
		{"ContiguousSeqs", contiguousSeqs},
		{"AppendAll", appendAll},
		{"StreamQuota", streamQuota},
		{"Stamps", stamps},
		{"ReadWindowByEventTime", readWindowByEventTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore)
		})
	}
}

// appendAndRead: Append gives seqs from 1 and an epoch; Read returns the
// events after a seq with their bodies, epoch, Created and Time; another
// tenant's stream of the same name, or an unknown stream, reads as none.
func appendAndRead(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	evs := []wire.Event{
		{Values: map[string]float64{"orders_today": 7}},
		{Row: &wire.Row{Key: "o-1", Fields: map[string]any{"status": "new", "total": 12.5}}},
		{Points: &wire.Points{TS: []int64{1, 2}, Cols: []wire.Column{{Name: "a", Vals: []float64{1, 2}}}}},
	}
	if err := s.Append(ctx, "acme", "orders", evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 1 || evs[2].Seq != 3 || evs[0].Epoch == 0 {
		t.Fatalf("got seqs %d..%d epoch %d, want 1..3 and an epoch", evs[0].Seq, evs[2].Seq, evs[0].Epoch)
	}
	for i := range evs {
		if evs[i].Stream != "orders" || evs[i].Epoch != evs[0].Epoch {
			t.Fatalf("event %d: got stream %q epoch %d, want orders and %d", i, evs[i].Stream, evs[i].Epoch, evs[0].Epoch)
		}
	}
	got, err := s.Read(ctx, "acme", "orders", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 2 || got[0].Row.Fields["status"] != "new" || got[1].Points.Col("a")[1] != 2 {
		t.Fatalf("got %+v, want events 2 and 3 with their bodies", got)
	}
	if got[0].Epoch != evs[0].Epoch || got[0].Created == 0 || got[0].Time != evs[1].Time {
		t.Fatalf("got epoch %d created %d time %d, want them as published", got[0].Epoch, got[0].Created, got[0].Time)
	}
	if got[0].Stream != "orders" {
		t.Fatalf("got stream %q, want orders", got[0].Stream)
	}
	if limited, err := s.Read(ctx, "acme", "orders", 0, 2); err != nil || len(limited) != 2 || limited[0].Seq != 1 || limited[1].Seq != 2 {
		t.Fatalf("read at most 2: got %d events (err %v), want seqs 1 and 2", len(limited), err)
	}
	if caught, err := s.Read(ctx, "acme", "orders", 3, 10); err != nil || len(caught) != 0 {
		t.Fatalf("read after the newest: got %d events (err %v), want none", len(caught), err)
	}
	if other, err := s.Read(ctx, "other", "orders", 0, 10); err != nil || len(other) != 0 {
		t.Fatalf("another tenant read %d events (err %v), want none", len(other), err)
	}
	if none, err := s.Read(ctx, "acme", "nothing", 0, 10); err != nil || len(none) != 0 {
		t.Fatalf("an unknown stream: got %d events (err %v), want none and no error", len(none), err)
	}
	if none, err := s.ReadWindow(ctx, "acme", "nothing", time.UnixMilli(0), time.Now(), 0, 10); err != nil || len(none) != 0 {
		t.Fatalf("an unknown stream's window: got %d events (err %v), want none and no error", len(none), err)
	}
}

// badStreamName: an invalid name is refused, alone or in a batch, and the
// batch stores nothing.
func badStreamName(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	if err := s.Append(ctx, "t", "../x", make([]wire.Event, 1)); err == nil {
		t.Fatal("got nil, want an error for an invalid stream name")
	}
	if err := s.Append(ctx, "acme", "Bad Name", make([]wire.Event, 1)); err == nil {
		t.Fatal("got nil, want an error for a bad stream name")
	}
	if err := s.AppendAll(ctx, "acme", map[string][]wire.Event{"good": make([]wire.Event, 1), "Bad Name": make([]wire.Event, 1)}); err == nil {
		t.Fatal("a batch with a bad stream name: got nil, want an error")
	}
	if evs, err := s.Read(ctx, "acme", "good", 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("a refused batch stored %d events (err %v), want none", len(evs), err)
	}
}

// contiguousSeqs: appenders racing on one stream get disjoint runs of seqs
// that together are 1..n without a hole, and read back in seq order; each
// tenant's stream has a sequence of its own.
func contiguousSeqs(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	const writers, batches, size = 4, 25, 2
	var (
		mu   sync.Mutex
		seqs []uint64
		wg   sync.WaitGroup
	)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				evs := make([]wire.Event, size)
				if err := s.Append(ctx, "t1", "orders", evs); err != nil {
					t.Error(err)
					return
				}
				if evs[1].Seq != evs[0].Seq+1 {
					t.Errorf("one batch got seqs %d and %d, want consecutive", evs[0].Seq, evs[1].Seq)
				}
				mu.Lock()
				seqs = append(seqs, evs[0].Seq, evs[1].Seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const n = writers * batches * size
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("appenders got seq %d at position %d, want %d: seqs must be 1..%d, each once", q, i, i+1, n)
		}
	}
	read, err := s.Read(ctx, "t1", "orders", 0, n+10)
	if err != nil || len(read) != n {
		t.Fatalf("read %d events (err %v), want %d", len(read), err, n)
	}
	for i, ev := range read {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("read seq %d at position %d, want %d", ev.Seq, i, i+1)
		}
	}
	other := make([]wire.Event, 1)
	if err := s.Append(ctx, "t2", "orders", other); err != nil {
		t.Fatal(err)
	}
	if other[0].Seq != 1 {
		t.Fatalf("got t2 seq %d, want 1: tenants must not share a sequence", other[0].Seq)
	}
}

// appendAll: each stream of a batch gets its own next seqs.
func appendAll(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	if err := s.Append(ctx, "acme", "b", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	batch := map[string][]wire.Event{"b": make([]wire.Event, 2), "a": make([]wire.Event, 3)}
	if err := s.AppendAll(ctx, "acme", batch); err != nil {
		t.Fatal(err)
	}
	if batch["a"][2].Seq != 3 || batch["b"][1].Seq != 3 || batch["a"][0].Stream != "a" || batch["b"][0].Epoch == 0 {
		t.Fatalf("got a=%d (%q) b=%d (epoch %d), want seqs 3 and 3, stream a and an epoch", batch["a"][2].Seq, batch["a"][0].Stream, batch["b"][1].Seq, batch["b"][0].Epoch)
	}
	for name, want := range map[string]int{"a": 3, "b": 3} {
		if evs, err := s.Read(ctx, "acme", name, 0, 10); err != nil || len(evs) != want {
			t.Fatalf("stream %s: read %d events (err %v), want %d", name, len(evs), err, want)
		}
	}
	if err := s.AppendAll(ctx, "acme", nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
}

// streamQuota: past a tenant's limit a new stream is refused with
// store.ErrStreamQuota, alone or in a batch (which then stores nothing);
// existing streams and other tenants go on.
func streamQuota(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	s := newStore(t, Config{MaxStreamsPerTenant: 3})
	ev := func() []wire.Event { return []wire.Event{{Values: map[string]float64{"x": 1}}} }
	for _, name := range []string{"a", "b", "c"} {
		if err := s.Append(ctx, "acme", name, ev()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, "acme", "d", ev()); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("a fourth stream: got %v, want ErrStreamQuota", err)
	}
	if err := s.Append(ctx, "acme", "a", ev()); err != nil {
		t.Fatalf("an existing stream: %v", err)
	}
	if err := s.Append(ctx, "globex", "d", ev()); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	// A batch that would pass the quota stores nothing at all.
	if err := s.AppendAll(ctx, "globex", map[string][]wire.Event{"a": ev(), "e": ev(), "f": ev()}); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("batch over the quota: got %v", err)
	}
	if evs, _ := s.Read(ctx, "globex", "a", 0, 10); len(evs) != 0 {
		t.Fatal("a refused batch stored events")
	}
}

// stamps: the store stamps when it kept each event (Stored) and, when the
// producer did not, Created and Time; a read gives the same stamps back
// (Created to the microsecond, PostgreSQL's precision).
func stamps(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	created := time.Now().Add(-time.Second).UnixNano()
	at := time.Now().Add(-time.Hour).UnixMilli()
	evs := []wire.Event{{Created: created, Time: at}, {}}
	if err := s.Append(ctx, "t", "m", evs); err != nil {
		t.Fatal(err)
	}
	read, err := s.Read(ctx, "t", "m", 0, 10)
	if err != nil || len(read) != 2 {
		t.Fatalf("read %d events (err %v), want 2", len(read), err)
	}
	for i := range evs {
		if evs[i].Stored == 0 || read[i].Stored != evs[i].Stored {
			t.Fatalf("event %d: appended Stored %d, read %d: want the same, not zero", i, evs[i].Stored, read[i].Stored)
		}
		if evs[i].Created == 0 || evs[i].Time == 0 || read[i].Created/1000 != evs[i].Created/1000 || read[i].Time != evs[i].Time {
			t.Fatalf("event %d: appended Created %d Time %d, read %d %d: want them stamped and read back", i, evs[i].Created, evs[i].Time, read[i].Created, read[i].Time)
		}
	}
	if evs[0].Created != created || evs[0].Time != at {
		t.Fatalf("the producer's stamps became Created %d Time %d, want %d %d", evs[0].Created, evs[0].Time, created, at)
	}
}

// readWindowByEventTime: events by event time, after a seq, at most limit,
// and never another tenant's.
func readWindowByEventTime(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var evs []wire.Event
	for i := range 10 { // seqs 1..10 at base+0s..9s
		evs = append(evs, wire.Event{Time: base.Add(time.Duration(i) * time.Second).UnixMilli(), Values: map[string]float64{"i": float64(i)}})
	}
	if err := s.Append(ctx, "acme", "metrics", evs); err != nil {
		t.Fatal(err)
	}
	from, to := base.Add(2500*time.Millisecond), base.Add(6*time.Second)
	for _, tc := range []struct {
		name         string
		tenant       string
		after        uint64
		limit        int
		first, count int
	}{
		{"the window", "acme", 0, 100, 4, 4},
		{"after a seq", "acme", 5, 100, 6, 2},
		{"limited", "acme", 0, 1, 4, 1},
		{"another tenant", "globex", 0, 100, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ReadWindow(ctx, tc.tenant, "metrics", from, to, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.count || (tc.count > 0 && got[0].Seq != uint64(tc.first)) {
				t.Fatalf("got %d events from seq %v, want %d from %d", len(got), got, tc.count, tc.first)
			}
			for _, ev := range got {
				if ev.Time < from.UnixMilli() || ev.Time > to.UnixMilli() || ev.Epoch == 0 {
					t.Fatalf("event %d at %d (epoch %d) is outside the window", ev.Seq, ev.Time, ev.Epoch)
				}
			}
		})
	}
}

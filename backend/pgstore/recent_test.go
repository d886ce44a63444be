package pgstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// shapes builds events of every shape the store carries: values, rows with
// every field type the wire carries (as JSON ingest and msgpack ingest decode
// them, nested, empty and nil), points, and the edges of the JSON → jsonb
// round trip (-0, extreme floats, integers past 2^53, float32, escapes).
func shapes(t *testing.T, rng *rand.Rand, n int) []wire.Event {
	t.Helper()
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-7, 1e21, 1e300, -1e-300, 5e-324, math.MaxFloat64, 1.0 / 3, 123456789.123456789, float64(1<<53 + 1)}
	strs := []string{"", "plain", "ünïcödé ☃ 𝄞", "quote \" backslash \\ tab \t nl \n", "<html> & \u2028 \u2029", "\x01\x1f", strings.Repeat("x", 300)}
	var scalar func(depth int) any
	scalar = func(depth int) any {
		switch rng.IntN(14) {
		case 0:
			return nil
		case 1:
			return rng.IntN(2) == 0
		case 2:
			return strs[rng.IntN(len(strs))]
		case 3:
			return floats[rng.IntN(len(floats))]
		case 4:
			return int64(rng.Uint64())
		case 5:
			return rng.Uint64()
		case 6:
			return float32(rng.Float64() * 1e6)
		case 7:
			return int8(rng.IntN(256) - 128)
		case 8:
			return uint16(rng.IntN(65536))
		case 9:
			return int32(rng.Int32())
		case 10:
			if depth > 3 {
				return 1.5
			}
			m := map[string]any{}
			for i := range rng.IntN(4) {
				m[fmt.Sprintf("k%d", i)] = scalar(depth + 1)
			}
			return m
		case 11:
			if depth > 3 {
				return "leaf"
			}
			a := make([]any, rng.IntN(4))
			for i := range a {
				a[i] = scalar(depth + 1)
			}
			return a
		case 12:
			return map[string]any(nil)
		default:
			return []any(nil)
		}
	}
	fields := func() map[string]any {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return map[string]any{}
		}
		m := map[string]any{}
		for i := range 1 + rng.IntN(8) {
			m[fmt.Sprintf("f%d", i)] = scalar(0)
		}
		if rng.IntN(3) == 0 {
			// As msgpack ingest decodes it: the library's own scalar types.
			b, err := msgpack.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			m = nil
			if err := msgpack.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	out := make([]wire.Event, n)
	for i := range out {
		ev := &out[i]
		if rng.IntN(2) == 0 {
			ev.Time = 1_700_000_000_000 + rng.Int64N(1e9)
		}
		if rng.IntN(2) == 0 {
			ev.Created = 1_700_000_000_000_000_000 + rng.Int64N(1e15) // nanoseconds: the store keeps µs
		}
		switch rng.IntN(4) {
		case 0:
			ev.Values = map[string]float64{}
		case 1:
			ev.Values = map[string]float64{"a": floats[rng.IntN(len(floats))], "b ☃": floats[rng.IntN(len(floats))]}
		}
		if rng.IntN(2) == 0 {
			ops := []wire.RowOp{wire.RowUpsert, wire.RowInsert, wire.RowUpdate, wire.RowDelete}
			ev.Row = &wire.Row{Key: strs[rng.IntN(len(strs))], Op: ops[rng.IntN(len(ops))], Fields: fields()}
		}
		if rng.IntN(2) == 0 {
			p := &wire.Points{Upsert: rng.IntN(2) == 0}
			switch rng.IntN(4) {
			case 0: // nil TS and Cols
			case 1:
				p.TS, p.Cols = []int64{}, []wire.Column{}
			default:
				k := 1 + rng.IntN(5)
				for j := range k {
					p.TS = append(p.TS, int64(j)*1000+rng.Int64N(1000))
				}
				for c := range 1 + rng.IntN(4) {
					col := wire.Column{Name: fmt.Sprintf("s%d", c)}
					if rng.IntN(5) > 0 {
						for range k {
							col.Vals = append(col.Vals, floats[rng.IntN(len(floats))])
						}
					}
					p.Cols = append(p.Cols, col)
				}
			}
			ev.Points = p
		}
	}
	return out
}

// same fails unless a and b are reflect.DeepEqual and print the same, to
// the bit: DeepEqual holds -0 == 0, which the hub would encode differently.
func same(a, b wire.Event) error {
	show := func(ev wire.Event) string {
		row, points := ev.Row, ev.Points
		ev.Row, ev.Points = nil, nil
		s := fmt.Sprintf("%#v", ev)
		if row != nil {
			s += fmt.Sprintf("\n  row %#v", *row)
		}
		if points != nil {
			s += fmt.Sprintf("\n  points %#v", *points)
		}
		return s
	}
	if sa, sb := show(a), show(b); !reflect.DeepEqual(a, b) || sa != sb {
		return fmt.Errorf("seq %d:\ncache gives %s\ntable gives %s", b.Seq, sa, sb)
	}
	return nil
}

// TestRecentIsWhatPostgreSQLGivesBack is the cache's contract: for events of
// every shape, what the follower takes from the recent-events cache is
// exactly (reflect.DeepEqual) what it would have read and decoded from the
// events table, whatever the caller does to its events afterwards.
func TestRecentIsWhatPostgreSQLGivesBack(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	s.following.Store(true) // as Run does
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 3))
	for round := range 40 {
		evs := shapes(t, rng, 1+rng.IntN(12))
		var err error
		if round%2 == 0 {
			err = s.Append(ctx, "t", "shapes", evs)
		} else {
			// Through AppendAll, with a second stream in the same transaction.
			err = s.AppendAll(ctx, "t", map[string][]wire.Event{"shapes": evs, "other": shapes(t, rng, 2)})
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		first, last := evs[0].Seq, evs[len(evs)-1].Seq
		// The caller may reuse its events: the cache must not share them.
		for i := range evs {
			for name := range evs[i].Values {
				evs[i].Values[name] = 42
			}
			if evs[i].Row != nil {
				evs[i].Row.Key = "changed"
				for name := range evs[i].Row.Fields {
					evs[i].Row.Fields[name] = "changed"
				}
			}
			if p := evs[i].Points; p != nil {
				for j := range p.TS {
					p.TS[j] = -1
				}
				for _, c := range p.Cols {
					for j := range c.Vals {
						c.Vals[j] = 42
					}
				}
			}
		}
		cached, _ := s.recent.take(key{"t", "shapes"}, evs[0].Epoch, first-1, last, 1000, readBytes, time.Now())
		cold, err := s.Read(ctx, "t", "shapes", first-1, int(last-first+1))
		if err != nil {
			t.Fatal(err)
		}
		if len(cached) != len(cold) {
			t.Fatalf("round %d: got %d events from the cache, want all %d the table gives", round, len(cached), len(cold))
		}
		for i := range cold {
			if err := same(cached[i], cold[i]); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// TestRecentKeepsOnlyWhatItCanVouchFor: a string that is not valid UTF-8 is
// rewritten by encoding/json, so that event and those after it in its batch
// are left to the read; those before it are kept.
func TestRecentKeepsOnlyWhatItCanVouchFor(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	s.following.Store(true) // as Run does
	ctx := context.Background()
	evs := []wire.Event{
		{Values: map[string]float64{"x": 1}},
		{Row: &wire.Row{Key: "k", Fields: map[string]any{"bad": "a\xffb"}}},
		{Values: map[string]float64{"x": 3}},
	}
	if err := s.Append(ctx, "t", "utf", evs); err != nil {
		t.Fatal(err)
	}
	got, _ := s.recent.take(key{"t", "utf"}, evs[0].Epoch, 0, 0, 1000, readBytes, time.Now())
	if len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("got %d events from the cache, want only seq 1", len(got))
	}
	cold, err := s.Read(ctx, "t", "utf", 1, 10)
	if err != nil || len(cold) != 2 || cold[0].Row.Fields["bad"] != "a\ufffdb" {
		t.Fatalf("got %+v (err %v), want the table to give the rewritten string", cold, err)
	}
}

// TestRolledBackAppendAllKeepsNothing: the cache holds only committed events.
func TestRolledBackAppendAllKeepsNothing(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	s.following.Store(true) // as Run does
	ctx := context.Background()
	// "a-good" is appended inside the transaction first (name order), then
	// "b" fails: the transaction rolls back.
	err := s.AppendAll(ctx, "t", map[string][]wire.Event{
		"a-good": {{Values: map[string]float64{"x": 1}}},
		"b":      {{Values: map[string]float64{"x": math.NaN()}}},
	})
	if err == nil {
		t.Fatal("got nil, want the NaN refused")
	}
	if n := s.recent.size(); n != 0 {
		t.Fatalf("got %d bytes kept after a rollback, want 0", n)
	}
	if err := s.SetStreamQuota(ctx, 1); err != nil {
		t.Fatal(err)
	}
	err = s.AppendAll(ctx, "t", map[string][]wire.Event{"a": {{}}, "b": {{}}})
	if err == nil {
		t.Fatal("got nil, want the stream quota to refuse the second stream")
	}
	if n := s.recent.size(); n != 0 {
		t.Fatalf("got %d bytes kept after a refused transaction, want 0", n)
	}
}

// TestRecentNeverServesAnotherEpoch: a stream deleted and recreated is a
// new epoch; the old epoch's cached events are never taken for it, and are
// dropped once the new epoch is seen.
func TestRecentNeverServesAnotherEpoch(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	s.following.Store(true) // as Run does
	ctx := context.Background()
	old := make([]wire.Event, 3)
	if err := s.Append(ctx, "t", "re", old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM telltale.events WHERE stream = 're'; DELETE FROM telltale.streams WHERE stream = 're'`); err != nil {
		t.Fatal(err)
	}
	k := key{"t", "re"}
	s.recent.epochSeen(k, old[0].Epoch+1) // as the scan does on finding the new epoch
	if got, _ := s.recent.take(k, old[0].Epoch, 0, 0, 1000, readBytes, time.Now()); len(got) != 0 {
		t.Fatalf("got %d events of the old epoch after a new one was seen, want 0", len(got))
	}
	if err := s.Append(ctx, "t", "re", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	newer := make([]wire.Event, 2)
	if err := s.Append(ctx, "t", "re", newer); err != nil {
		t.Fatal(err)
	}
	if newer[0].Epoch == old[0].Epoch {
		t.Fatal("the recreated stream kept its epoch")
	}
	if got, _ := s.recent.take(k, old[0].Epoch, 0, 0, 1000, readBytes, time.Now()); len(got) != 0 {
		t.Fatalf("got %d events for the old epoch's cursor, want 0", len(got))
	}
	got, _ := s.recent.take(k, newer[0].Epoch, 0, 0, 1000, readBytes, time.Now())
	if len(got) != 3 || got[0].Seq != 1 || got[2].Epoch != newer[0].Epoch {
		t.Fatalf("got %d events of the new epoch, want seqs 1..3 of it", len(got))
	}
}

func TestRecentBoundsBytesAndAge(t *testing.T) {
	t.Parallel()
	r := newRecent(10*(recentOverhead+100), time.Second, nil)
	k := key{"t", "s"}
	now := time.Now()
	sizes := make([]int, 1)
	for seq := uint64(1); seq <= 20; seq++ {
		r.put(k, 1, []wire.Event{{Seq: seq}}, append(sizes[:0], 100), now)
	}
	if got := r.size(); got != 10*(recentOverhead+100) {
		t.Fatalf("got %d bytes, want the bound %d", got, 10*(recentOverhead+100))
	}
	if got, _ := r.take(k, 1, 0, 0, 100, 1<<30, now); len(got) != 0 {
		t.Fatalf("got %d events from seq 1, want none: the oldest went out", len(got))
	}
	if got, _ := r.take(k, 1, 10, 15, 100, 1<<30, now); len(got) != 5 || got[0].Seq != 11 {
		t.Fatalf("got %d events from 11 up to 15, want 5", len(got))
	}
	if got, _ := r.take(k, 1, 15, 0, 2, 1<<30, now); len(got) != 2 {
		t.Fatalf("got %d events, want 2 (the count bound)", len(got))
	}
	if got, _ := r.take(k, 1, 17, 0, 100, 1, now); len(got) != 1 {
		t.Fatalf("got %d events, want 1 (the byte bound takes at least one)", len(got))
	}
	if got, _ := r.take(k, 1, 18, 0, 100, 1<<30, now.Add(2*time.Second)); len(got) != 0 {
		t.Fatalf("got %d events past the TTL, want 0", len(got))
	}
	r.put(k, 1, []wire.Event{{Seq: 21}}, append(sizes[:0], 100), now.Add(2*time.Second))
	if got := r.size(); got != recentOverhead+100 {
		t.Fatalf("got %d bytes after expiry, want only the newest event's %d", got, recentOverhead+100)
	}
}

// TestFollowerTakesRecentCommits: beside SQL publishes to the same stream
// (events this node did not commit), the follower delivers every event once,
// in order, with this node's from the cache and the rest from the table, and
// /metrics counts both.
func TestFollowerTakesRecentCommits(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []wire.Event
	s := runFollower(t, Config{Pool: db.Pool, ScanInterval: time.Hour, Sink: func(_ string, evs []wire.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
	}})
	rng := rand.New(rand.NewPCG(15, 4))
	const rounds = 60
	total := 0
	var wg sync.WaitGroup
	wg.Add(2)
	var appended, published int
	go func() {
		defer wg.Done()
		for range rounds {
			evs := shapes(t, rng, 1+rng.IntN(5))
			if err := s.Append(ctx, "t", "mixed", evs); err != nil {
				t.Error(err)
				return
			}
			appended += len(evs)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds / 3 {
			if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('t', 'mixed', $1)`, fmt.Sprintf(`{"values":{"sql":%d}}`, i)); err != nil {
				t.Error(err)
				return
			}
			published++
		}
	}()
	wg.Wait()
	total = appended + published
	poll.Until(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != total {
			return fmt.Errorf("%d events delivered, want %d", len(got), total)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	cold, err := s.Read(ctx, "t", "mixed", 0, total)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cold {
		if got[i].Seq != uint64(i+1) {
			t.Fatalf("position %d has seq %d: lost, duplicated or reordered", i, got[i].Seq)
		}
		if err := same(got[i], cold[i]); err != nil {
			t.Fatal(err)
		}
	}
	cached, uncached := s.m.cached.Load(), s.m.uncached.Load()
	if cached == 0 || uncached < int64(published) || cached+uncached != int64(total) {
		t.Fatalf("got %d cached and %d read, want some cached, at least the %d SQL publishes read, %d in all", cached, uncached, published, total)
	}
}

func TestRecentReservations(t *testing.T) {
	t.Parallel()
	r := newRecent(1<<20, time.Second, nil)
	k := key{"t", "s"}
	now := time.Now()
	r.reserve(k, 1, 1, 2, now)
	if got, pending := r.take(k, 1, 0, 0, 100, 1<<30, now); len(got) != 0 || !pending {
		t.Fatalf("got %d events, pending %v at a reserved seq, want none and pending", len(got), pending)
	}
	r.put(k, 1, []wire.Event{{Seq: 1}, {Seq: 2}}, []int{10, 10}, now)
	if got, pending := r.take(k, 1, 0, 0, 100, 1<<30, now); len(got) != 2 || pending {
		t.Fatalf("got %d events, pending %v once put, want 2, not pending", len(got), pending)
	}
	r.reserve(k, 1, 3, 1, now)
	r.release(k, 1, 3, 1)
	if got, pending := r.take(k, 1, 2, 0, 100, 1<<30, now); len(got) != 0 || pending {
		t.Fatalf("got %d events, pending %v after a rollback, want none, not pending", len(got), pending)
	}
	r.reserve(k, 1, 3, 1, now)
	if _, pending := r.take(k, 1, 2, 0, 100, 1<<30, now.Add(pendingWait+time.Millisecond)); pending {
		t.Fatal("a reservation older than pendingWait still holds the lane, want it read from the table")
	}
	r.release(k, 1, 3, 1)
	if n := r.size(); n != 0 {
		t.Fatalf("got %d bytes left, want 0", n)
	}
}

// TestConcurrentWritersAreTakenFromTheCache: two producers' transactions on
// one stream commit in either order; the lane woken by one commit must not
// read back the other's (reserved before its commit), so every event
// reaches the sink from the cache, once and in order.
func TestConcurrentWritersAreTakenFromTheCache(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	rec := &sink{seqs: map[string][]uint64{}}
	s := runFollower(t, Config{Pool: db.Pool, ScanInterval: time.Hour, Sink: rec.publish})
	const writers, batches, per = 2, 100, 3
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				evs := make([]wire.Event, per)
				for i := range evs {
					evs[i].Points = &wire.Points{TS: []int64{1, 2}, Cols: []wire.Column{{Name: "a", Vals: []float64{1, 2}}}}
				}
				if err := s.AppendAll(ctx, "t", map[string][]wire.Event{"two": evs}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := writers * batches * per
	poll.Until(t, 10*time.Second, func() error { return rec.check("t/two", total) })
	t.Logf("cached %d uncached %d pending %d", s.m.cached.Load(), s.m.uncached.Load(), s.m.waits.Load())
	if cached, uncached := s.m.cached.Load(), s.m.uncached.Load(); uncached > int64(total)/20 {
		t.Fatalf("got %d events read back from PostgreSQL (%d from the cache), want at most 5%% of %d", uncached, cached, total)
	}
}

// TestDashboardAnnouncementsAreTakenFromTheCache: a dashboard's save and
// delete announce on the tenant's changes stream in their own transaction;
// what they reserve there is kept (or released) like any append's, so the
// follower hands the announcements on from memory at once, in order,
// instead of waiting on a reservation and reading them back.
func TestDashboardAnnouncementsAreTakenFromTheCache(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	var mu sync.Mutex
	var got []wire.Event
	s := runFollower(t, Config{Pool: db.Pool, ScanInterval: time.Hour, Sink: func(_ string, evs []wire.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
	}})
	d := dashboard.Dashboard{ID: "ops", Title: "Ops", Panels: []dashboard.Panel{{ID: "n", Kind: dashboard.KindKPI, Stream: "orders", Field: "n"}}}
	if _, err := s.Put(ctx, "t", d, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "t", d, "test"); err != nil { // the same spec: nothing saved, nothing announced
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "t", "nope"); err == nil {
		t.Fatal("deleting a dashboard the tenant does not have: want an error")
	}
	if err := s.Delete(ctx, "t", "ops"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 2 {
			return fmt.Errorf("%d announcements delivered, want 2", len(got))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, want := range []dashboard.Change{{ID: "ops", Version: 1, Title: "Ops"}, {ID: "ops", Deleted: true}} {
		if c, ok := dashboard.ParseChange(&got[i]); !ok || c != want || got[i].Seq != uint64(i+1) || got[i].Stream != dashboard.ChangesStream {
			t.Fatalf("announcement %d: got %+v (%+v), want %+v at seq %d", i, c, got[i], want, i+1)
		}
	}
	if n := s.m.uncached.Load(); n != 0 {
		t.Fatalf("%d announcements were read back from the table, want every one from the cache", n)
	}
}

package pgstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// subRec is a hub subscriber that keeps what it was handed.
type subRec struct {
	mu      sync.Mutex
	snaps   []wire.Snapshot
	seqs    []uint64
	resyncs []string
	bad     error
}

func (r *subRec) Snapshot(_ string, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := wire.Decode(frame)
	if s, ok := f.(wire.Snapshot); ok && err == nil {
		r.snaps = append(r.snaps, s)
		return
	}
	r.bad = fmt.Errorf("snapshot frame decodes to %T, %v", f, err)
}

func (r *subRec) Deliver(_ string, first uint64, evs [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range evs {
		r.seqs = append(r.seqs, first+uint64(i))
	}
}

func (r *subRec) Resync(stream, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resyncs = append(r.resyncs, stream+": "+reason)
}

// continues checks that the subscriber holds one snapshot at seq snap and
// then exactly the deltas snap+1..upTo.
func (r *subRec) continues(snap, upTo uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != nil {
		return r.bad
	}
	if len(r.resyncs) > 0 {
		return fmt.Errorf("got resyncs %v, want none", r.resyncs)
	}
	if len(r.snaps) != 1 || r.snaps[0].Seq != snap {
		var got []uint64
		for _, s := range r.snaps {
			got = append(got, s.Seq)
		}
		return fmt.Errorf("got snapshots at seqs %v, want one at %d", got, snap)
	}
	for i, q := range r.seqs {
		if q != snap+1+uint64(i) {
			return fmt.Errorf("delta %d has seq %d, want %d: a hole or a duplicate after the snapshot", i, q, snap+1+uint64(i))
		}
	}
	if want := int(upTo - snap); len(r.seqs) != want {
		return fmt.Errorf("got %d deltas, want %d", len(r.seqs), want)
	}
	return nil
}

// gatedHold holds streams in a real hub; the warm-up's publishing to the
// stream named gated waits for open, so the test can look at a warm-up in
// progress.
type gatedHold struct {
	h     *hub.Hub
	gated key
	open  chan struct{}
}

func (g *gatedHold) hold(tenant, stream string) Held {
	held := g.h.Hold(tenant, stream)
	if (key{tenant, stream}) != g.gated {
		return held
	}
	return gatedHeld{held, g.open}
}

type gatedHeld struct {
	*hub.Held
	open chan struct{}
}

func (g gatedHeld) Publish(evs []wire.Event) {
	<-g.open
	g.Held.Publish(evs)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestWarmUpIsBoundedAndServesAsWarmed: a database holds a stream whose
// last 5,000 events are 60 times the per-stream warm-up budget (2,000 rows
// of 24 KB). A new follower must hold every stream at once, fold only the
// big stream's newest events that fit the budget (memory stays bounded),
// serve each stream as soon as it is warm while others still warm, say how
// many are warming until none is, make a subscription to a stream still
// warming wait for its whole state, and continue every stream with deltas
// and no gap.
func TestWarmUpIsBoundedAndServesAsWarmed(t *testing.T) {
	// Not parallel: it measures the heap.
	db := migrated(t)
	ctx := context.Background()
	const bigEvents, rowBytes = 2000, 24 << 10
	for i := 0; i < bigEvents; i += 500 {
		if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('big', 'wide',
			array(SELECT jsonb_build_object('row', jsonb_build_object('key', 'k' || i,
				'fields', jsonb_build_object('blob', repeat(md5(i::text), $1 / 32))))
			FROM generate_series($2::int, $2::int + 499) i))`, rowBytes, i); err != nil {
			t.Fatal(err)
		}
	}
	pre := New(Config{Pool: db.Pool})
	for _, stream := range []string{"orders", "rows"} {
		evs := make([]wire.Event, 40)
		for i := range evs {
			evs[i].Values = map[string]float64{"n": float64(i + 1)}
		}
		if err := pre.Append(ctx, "small", stream, evs); err != nil {
			t.Fatal(err)
		}
	}

	h := hub.New(hub.Config{})
	g := &gatedHold{h: h, gated: key{"small", "rows"}, open: make(chan struct{})}
	opened := sync.OnceFunc(func() { close(g.open) })
	defer opened() // a failing test must not leave the warm-up waiting
	const budget = 1 << 20
	base := heapInUse()
	start := time.Now()
	s := New(Config{Pool: db.Pool, Sink: h.Publish, Hold: g.hold, WarmBytes: budget, ScanInterval: 200 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() {
		opened()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	select {
	case <-s.Held():
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not hold its streams within 10s: the server could not listen")
	}
	if left, total := s.Warming(); total != 3 || left < 1 {
		t.Fatalf("got warming %d of %d right after holding, want 1 to 3 of 3", left, total)
	}

	// A subscription to the gated stream waits for its warm-up.
	early := &subRec{}
	subscribed := make(chan error, 1)
	go func() {
		_, err := h.Subscribe("small", "rows", early)
		subscribed <- err
	}()

	// The big stream (first in the order) and small/orders are served
	// while small/rows still warms: within a bound, and warm.
	const serveBound = 10 * time.Second
	poll.Until(t, serveBound, func() error {
		if left, _ := s.Warming(); left != 1 {
			return fmt.Errorf("%d streams warming, want only the gated one", left)
		}
		return nil
	})
	orders := &subRec{}
	if _, err := h.Subscribe("small", "orders", orders); err != nil {
		t.Fatal(err)
	}
	t.Logf("small/orders served %v after start, with the big stream warmed first", time.Since(start).Round(time.Millisecond))
	if err := orders.continues(40, 40); err != nil {
		t.Fatalf("small/orders: %v", err)
	}
	if st := orders.snaps[0].State; st.Values["n"] != 40 {
		t.Fatalf("small/orders: got n=%v in the snapshot, want 40", st.Values["n"])
	}
	big := &subRec{}
	if _, err := h.Subscribe("big", "wide", big); err != nil {
		t.Fatal(err)
	}
	if err := big.continues(bigEvents, bigEvents); err != nil {
		t.Fatalf("big/wide: %v", err)
	}
	if rows := big.snaps[0].State.Rows; len(rows) == 0 || rows[0].Key != fmt.Sprint("k", bigEvents-1) {
		t.Fatalf("big/wide: got %d rows in the snapshot, want the newest first (k%d)", len(rows), bigEvents-1)
	}
	grown := int64(heapInUse()) - int64(base)
	t.Logf("heap grew %d KB after warming a stream with %d MB in its last 5,000 events, budget %d KB",
		grown>>10, bigEvents*rowBytes>>20, budget>>10)
	if limit := int64(16 << 20); grown > limit {
		t.Fatalf("heap grew %d MB after warm-up, want under %d MB: the per-stream byte budget did not bound it", grown>>20, limit>>20)
	}
	select {
	case err := <-subscribed:
		t.Fatalf("a subscription to a stream still warming returned (err %v) before its warm-up ended", err)
	default:
	}
	if _, total := s.Warming(); total != 3 {
		t.Fatalf("got %d streams to warm, want 3", total)
	}

	// The gate opens: the waiting subscription gets the whole state, and
	// every stream continues with deltas, no gap.
	opened()
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(serveBound):
		t.Fatal("a subscription to a warming stream still waits after its warm-up ended")
	}
	select {
	case <-s.Ready():
	case <-time.After(serveBound):
		t.Fatal("not ready after every stream was warmed")
	}
	if left, total := s.Warming(); left != 0 || total != 3 {
		t.Fatalf("got warming %d of %d once ready, want 0 of 3", left, total)
	}
	if err := early.continues(40, 40); err != nil {
		t.Fatalf("small/rows, subscribed while warming: %v", err)
	}
	for _, stream := range []string{"orders", "rows", "wide"} {
		tenant := "small"
		if stream == "wide" {
			tenant = "big"
		}
		if err := pre.Append(ctx, tenant, stream, []wire.Event{{Values: map[string]float64{"n": 41}}, {Values: map[string]float64{"n": 42}}}); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, serveBound, func() error {
		return errors.Join(orders.continues(40, 42), early.continues(40, 42), big.continues(bigEvents, bigEvents+2))
	})
}

// TestWarmOrderTakesTenantsInTurn: one tenant's many streams do not all
// warm before another tenant's first.
func TestWarmOrderTakesTenantsInTurn(t *testing.T) {
	t.Parallel()
	streams := map[key]cursor{
		{"a", "1"}: {}, {"a", "2"}: {}, {"a", "3"}: {},
		{"b", "1"}: {}, {"c", "1"}: {}, {"c", "2"}: {},
	}
	got := fmt.Sprint(warmOrder(streams))
	want := "[{a 1} {b 1} {c 1} {a 2} {c 2} {a 3}]"
	if got != want {
		t.Fatalf("got order %s, want %s", got, want)
	}
}

// TestWarmTimeSpentLeavesSmallTails: once the warm-up's time is spent,
// each stream left folds at most 64 KiB, and at least its newest event.
func TestWarmTimeSpentLeavesSmallTails(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('big', 'wide',
		array(SELECT jsonb_build_object('row', jsonb_build_object('key', 'k' || i, 'fields', jsonb_build_object('blob', repeat('x', 100000))))
		FROM generate_series(1, 50) i))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('small', 'orders', array_fill('{"values":{"n":1}}'::jsonb, ARRAY[30]))`); err != nil {
		t.Fatal(err)
	}
	rec := &sink{seqs: map[string][]uint64{}}
	s := runFollower(t, Config{Pool: db.Pool, Sink: rec.publish, WarmTime: time.Nanosecond})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10s")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := fmt.Sprint(rec.seqs["big/wide"]); got != "[50]" {
		t.Fatalf("big/wide: warmed seqs %s, want only the newest, [50] (each event is over 64 KiB)", got)
	}
	if got := rec.seqs["small/orders"]; len(got) != 30 || got[0] != 1 {
		t.Fatalf("small/orders: warmed seqs %v, want all 30 (they fit in 64 KiB)", got)
	}
}

// TestSlowFoldSkipsToNewest: when folding (not reading) outlasts the
// warm-up's time, the fold jumps to the stream's newest events, which the
// hub takes as a restart, and the stream is followed on from its end.
func TestSlowFoldSkipsToNewest(t *testing.T) {
	// Not parallel: it assumes reading 2 MB takes far less than its 2 s
	// warm-up time, measured from before the follower starts.
	db := migrated(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('t', 'rows',
		array(SELECT jsonb_build_object('row', jsonb_build_object('key', 'k' || i, 'fields', jsonb_build_object('blob', repeat('x', 100000))))
		FROM generate_series(1, 20) i))`); err != nil {
		t.Fatal(err)
	}
	rec := &sink{seqs: map[string][]uint64{}}
	const warmTime = 2 * time.Second // reading 2 MB takes far less
	var start time.Time
	slow := func(tenant string, evs []wire.Event) {
		if evs[0].Seq == 1 { // the first fold outlasts the warm-up's time
			poll.Until(t, 10*time.Second, func() error {
				if time.Since(start) <= warmTime {
					return errors.New("still within the warm-up's time")
				}
				return nil
			})
		}
		rec.publish(tenant, evs)
	}
	start = time.Now()
	s := runFollower(t, Config{Pool: db.Pool, Sink: slow, WarmTime: warmTime, ScanInterval: 100 * time.Millisecond})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready within 10s")
	}
	if err := s.Append(ctx, "t", "rows", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		// 256 KiB of 100 KB events is a batch of 3; the newest 64 KiB hold
		// one event (at least the newest is always kept).
		if got := fmt.Sprint(rec.seqs["t/rows"]); got != "[1 2 3 20 21]" {
			return fmt.Errorf("got seqs %s, want [1 2 3 20 21]", got)
		}
		return nil
	})
}

package aggregate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// counter is a fake Computer for the engine's mechanics: it counts source
// events and remembers every seq it folded, so a test can tell an event
// counted twice or never.
type counter struct {
	mu    sync.Mutex
	seen  map[uint64]int
	n     int
	dirty bool
	fulls int
	emits int          // Emit calls
	trace func(uint64) // when set, told every seq Add folds
}

func (c *counter) Add(ev *wire.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trace != nil {
		c.trace(ev.Seq)
	}
	c.seen[ev.Seq]++
	c.n++
	c.dirty = true
}

func (c *counter) Emit(time.Time) []wire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emits++
	if !c.dirty {
		return nil
	}
	c.dirty = false
	return []wire.Event{{Values: map[string]float64{agg.Value: float64(c.n)}}}
}

func (c *counter) Full(time.Time) []wire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty = false
	c.fulls++
	return []wire.Event{{Values: map[string]float64{agg.Value: float64(c.n)}}}
}

func (c *counter) Late() uint64 { return 0 }
func (c *counter) Size() int    { return 64 }

// twice returns the seqs folded more than once.
func (c *counter) twice() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for s, n := range c.seen {
		if n > 1 {
			out = append(out, s)
		}
	}
	return out
}

// rig is an engine over a memstore whose hub taps into it.
type rig struct {
	t     *testing.T
	store *memstore.Store
	hub   *hub.Hub
	eng   *Engine
	reg   *metrics.Registry

	mu    sync.Mutex
	comps map[string][]*counter // by tenant+"/"+derived stream, newest last

	cancel context.CancelFunc
	done   chan error
}

func spec(t *testing.T, d agg.Def) *agg.Spec {
	t.Helper()
	s, err := agg.Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRig(t *testing.T, specs []*agg.Spec, tweak func(*EngineConfig)) *rig {
	t.Helper()
	r := &rig{t: t, reg: metrics.New(), comps: map[string][]*counter{}}
	var eng atomic.Pointer[Engine]
	r.hub = hub.New(hub.Config{Tap: func(tenant string, evs []wire.Event) {
		if e := eng.Load(); e != nil {
			e.Tap(tenant, evs)
		}
	}})
	r.store = memstore.New(memstore.Config{Sink: r.hub.Publish})
	cfg := EngineConfig{
		Store:   r.store,
		Specs:   func(string) []*agg.Spec { return specs },
		Metrics: r.reg,
		Tick:    5 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	newComp := cfg.New
	cfg.New = func(s *agg.Spec) Computer {
		if newComp != nil {
			return newComp(s)
		}
		return &counter{seen: map[uint64]int{}}
	}
	r.eng = NewEngine(cfg)
	eng.Store(r.eng)
	return r
}

// counters returns the computers the engine built (each build makes one).
func (r *rig) track() {
	inner := r.eng.cfg.New
	r.eng.cfg.New = func(s *agg.Spec) Computer {
		c := inner(s)
		if cc, ok := c.(*counter); ok {
			r.mu.Lock()
			r.comps[s.Stream()] = append(r.comps[s.Stream()], cc)
			r.mu.Unlock()
		}
		return c
	}
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.eng.Run(ctx) }()
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run: %v", err)
	}
	r.cancel = nil
}

func (r *rig) publish(tenant, stream string, n int) {
	r.t.Helper()
	evs := make([]wire.Event, n)
	for i := range evs {
		evs[i].Values = map[string]float64{"x": 1}
	}
	if err := r.store.Append(context.Background(), tenant, stream, evs); err != nil {
		r.t.Fatal(err)
	}
}

// last is the newest value of a derived stream in the store, and how many
// events it has.
func (r *rig) last(tenant, stream string) (v float64, n int) {
	evs, err := r.store.Read(context.Background(), tenant, stream, 0, 1_000_000)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(evs) == 0 {
		return -1, 0
	}
	return evs[len(evs)-1].Values[agg.Value], len(evs)
}

func (r *rig) metric(name string) int64 { return r.reg.Lookup(name).Load() }

func wantValue(t *testing.T, r *rig, tenant, stream string, want float64) {
	t.Helper()
	poll.Until(t, 5*time.Second, func() error {
		if v, _ := r.last(tenant, stream); v != want {
			return fmt.Errorf("%s/%s: got %v, want %v", tenant, stream, v, want)
		}
		return nil
	})
}

func TestEngineRebuildsThenFollowsWithoutDoubleCounting(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, nil)
	r.track()
	// Stored before the engine runs: only a rebuild can see these.
	r.publish("t", "orders", 30)
	r.start()
	poll.Until(t, 5*time.Second, func() error {
		if r.eng.Active("t") != 1 {
			return errors.New("aggregate not active")
		}
		return nil
	})
	wantValue(t, r, "t", s.Stream(), 30)
	for range 20 {
		r.publish("t", "orders", 5)
	}
	wantValue(t, r, "t", s.Stream(), 130)
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.comps[s.Stream()]) != 1 {
		t.Fatalf("got %d builds, want 1", len(r.comps[s.Stream()]))
	}
	if tw := r.comps[s.Stream()][0].twice(); len(tw) > 0 {
		t.Fatalf("seqs folded twice: %v", tw)
	}
	if r.comps[s.Stream()][0].fulls != 1 {
		t.Fatalf("got %d full pictures written, want 1 (after the build)", r.comps[s.Stream()][0].fulls)
	}
}

// A full queue drops batches; the engine reads them from the store instead.
func TestEngineQueueOverflowCatchesUpFromTheStore(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) { c.Queue = 1 })
	r.track()
	r.start()
	r.publish("t", "orders", 1)
	wantValue(t, r, "t", s.Stream(), 1)
	// Many batches at once, far more than a queue of one holds.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				r.publish("t", "orders", 3)
			}
		}()
	}
	wg.Wait()
	wantValue(t, r, "t", s.Stream(), 2401)
	if r.metric("telltale_agg_queue_overflows_total") == 0 {
		t.Fatal("no overflow: the test did not test it")
	}
	if r.metric("telltale_agg_catchups_total") < 2 {
		t.Fatalf("got %d catch-ups, want some past the build's", r.metric("telltale_agg_catchups_total"))
	}
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if tw := r.comps[s.Stream()][0].twice(); len(tw) > 0 {
		t.Fatalf("seqs folded twice: %v", tw)
	}
}

// The queue overflowing before the first batch got through still starts
// the aggregate (the stale source does).
func TestEngineOverflowBeforeActivationStillStarts(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) { c.Queue = 1 })
	r.publish("t", "orders", 1) // queued
	r.publish("t", "orders", 1) // dropped
	r.eng.mu.Lock()
	delete(r.eng.tenants, "t") // forget the batches that would start it...
	r.eng.mu.Unlock()
	if n := len(r.eng.taken()); n != 1 { // ...and the queued one: only the stale mark is left
		t.Fatalf("got %d batches queued, want 1", n)
	}
	r.start()
	wantValue(t, r, "t", s.Stream(), 2)
}

// TestEngineCoalescesEmits: events published faster than EmitMs are
// written at most once a beat, and at every beat while they come. The
// engine reads the test's clock, which moves 1 ms an event, so the count
// does not depend on how fast a loaded machine publishes or ticks.
func TestEngineCoalescesEmits(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m", EmitMs: 100})
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) { c.Now = clock.Now })
	r.start()
	r.publish("t", "orders", 1)
	wantValue(t, r, "t", s.Stream(), 1) // the build's Full, at 12:00:00
	const beats = 6
	published := 1
	for range beats {
		for range 10 {
			for range 10 {
				r.publish("t", "orders", 1)
				published++
				clock.Add(time.Millisecond)
			}
			clock.waitReads(t, 3) // the engine ticks between the events
		}
		// Updating live: the beat's emit counts every event so far.
		wantValue(t, r, "t", s.Stream(), float64(published))
	}
	_, n := r.last("t", s.Stream())
	// One for the first event, one per 100ms after, one for the tail.
	if max := 2 + beats + 1; n > max {
		t.Fatalf("got %d derived events in %d beats, want at most %d (one per 100ms)", n, beats, max)
	}
	if n < 3 {
		t.Fatalf("got %d derived events in %d beats: not updating live", n, beats)
	}
}

// fakeClock is an engine clock (EngineConfig.Now) that the test moves;
// it counts the engine's readings, one a tick at least.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	reads int
}

func newFakeClock(at time.Time) *fakeClock { return &fakeClock{now: at} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitReads waits until the engine has read the clock n more times.
func (c *fakeClock) waitReads(t *testing.T, n int) {
	t.Helper()
	c.mu.Lock()
	from := c.reads
	c.mu.Unlock()
	poll.Until(t, 5*time.Second, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if got := c.reads - from; got < n {
			return fmt.Errorf("the engine read the clock %d times, want %d", got, n)
		}
		return nil
	})
}

func TestEngineShutdownFlushesPendingEmits(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m", EmitMs: 60_000})
	r := newRig(t, []*agg.Spec{s}, nil)
	r.start()
	r.publish("t", "orders", 1)
	wantValue(t, r, "t", s.Stream(), 1)
	r.publish("t", "orders", 9) // not due for a minute
	poll.Until(t, 5*time.Second, func() error {
		if n := r.metric("telltale_agg_source_events_total"); n != 10 {
			return fmt.Errorf("folded %d events, want 10", n)
		}
		return nil
	})
	if v, _ := r.last("t", s.Stream()); v != 1 {
		t.Fatalf("got %v before shutdown, want 1 (coalesced)", v)
	}
	r.stop()
	if v, _ := r.last("t", s.Stream()); v != 10 {
		t.Fatalf("got %v after shutdown, want 10: the pending emit was not flushed", v)
	}
}

// Each tenant's aggregate is computed from its own data, under the same
// derived name.
func TestEngineTenantsComputeApart(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, nil)
	r.start()
	r.publish("a", "orders", 7)
	r.publish("b", "orders", 2)
	wantValue(t, r, "a", s.Stream(), 7)
	wantValue(t, r, "b", s.Stream(), 2)
	if src, derived, err := r.eng.Source("b", s.Stream()); err != nil || !derived || src != "orders" {
		t.Fatalf("Source: got %q %v %v, want orders true nil", src, derived, err)
	}
}

func TestEngineWantAndCap(t *testing.T) {
	s1 := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	s2 := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "5m"})
	s3 := spec(t, agg.Def{Source: "trucks", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s1, s2, s3}, func(c *EngineConfig) {
		c.MaxPerTenant = 2
		c.ParseM4 = func(name string) (*agg.Spec, error) {
			if name != "m4.1000.trucks" {
				return nil, errors.New("bad m4 name")
			}
			return spec(t, agg.Def{Source: "trucks", Fn: "m4", Window: "1s"}), nil
		}
	})
	r.start()
	// Pages ask before any event: nothing starts them but Want.
	if err := r.eng.Want("t", s1.Stream()); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Want("t", s1.Stream()); err != nil {
		t.Fatalf("asking again: %v", err)
	}
	if err := r.eng.Want("t", "m4.1000.trucks"); err != nil {
		t.Fatal(err)
	}
	err := r.eng.Want("t", s3.Stream())
	if !errors.Is(err, ErrTooMany) || !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("third aggregate: got %v, want ErrTooMany (a stream quota error)", err)
	}
	// trucks' events would start s3: the cap still holds, and the
	// definition's refusal is counted once however many batches ask.
	r.publish("t", "trucks", 2)
	r.publish("t", "trucks", 2)
	wantValue(t, r, "t", "m4.1000.trucks", 4)
	if got := r.metric("telltale_agg_refused_total"); got != 2 {
		t.Fatalf("got %d refusals counted, want 2 (the page's, the definition's once)", got)
	}
	for _, name := range []string{"agg.0000000000000000", "m4.5.nope"} {
		if err := r.eng.Want("t", name); !errors.Is(err, ErrUnknown) {
			t.Fatalf("Want(%s): got %v, want ErrUnknown", name, err)
		}
		if _, derived, err := r.eng.Source("t", name); !derived || !errors.Is(err, ErrUnknown) {
			t.Fatalf("Source(%s): got %v %v, want derived, ErrUnknown", name, derived, err)
		}
	}
	if _, derived, err := r.eng.Source("t", "orders"); derived || err != nil {
		t.Fatalf("Source(orders): got %v %v, want not derived", derived, err)
	}
	if r.eng.Active("t") != 2 {
		t.Fatalf("got %d active, want 2", r.eng.Active("t"))
	}
}

// failing refuses AppendAll of derived streams while on.
type failing struct {
	*memstore.Store
	on atomic.Bool
}

func (f *failing) AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	if f.on.Load() {
		return errors.New("store down")
	}
	return f.Store.AppendAll(ctx, tenant, streams)
}

// A write the store refused is made good by the next: the whole picture.
func TestEngineFailedWriteRewritesTheWholePicture(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	var f *failing
	r := newRig(t, []*agg.Spec{s}, nil)
	f = &failing{Store: r.store}
	r.eng.cfg.Store = f
	r.track()
	r.start()
	r.publish("t", "orders", 3)
	wantValue(t, r, "t", s.Stream(), 3)
	f.on.Store(true)
	r.publish("t", "orders", 4)
	poll.Until(t, 5*time.Second, func() error {
		if r.metric("telltale_agg_write_errors_total") == 0 {
			return errors.New("no write failed yet")
		}
		return nil
	})
	f.on.Store(false)
	wantValue(t, r, "t", s.Stream(), 7)
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.comps[s.Stream()][0].fulls; got < 2 {
		t.Fatalf("got %d full pictures, want 2 or more (build, after the failure)", got)
	}
}

func TestEngineReloadStopsRemovedDefinitions(t *testing.T) {
	s1 := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	s2 := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "2m"})
	var mu sync.Mutex
	defs := []*agg.Spec{s1, s2}
	r := newRig(t, nil, func(c *EngineConfig) {
		c.Specs = func(string) []*agg.Spec { mu.Lock(); defer mu.Unlock(); return defs }
	})
	r.start()
	r.publish("t", "orders", 2)
	wantValue(t, r, "t", s1.Stream(), 2)
	wantValue(t, r, "t", s2.Stream(), 2)
	mu.Lock()
	defs = []*agg.Spec{s1}
	mu.Unlock()
	r.eng.Reload()
	if r.eng.Active("t") != 1 {
		t.Fatalf("got %d active after reload, want 1", r.eng.Active("t"))
	}
	if _, _, err := r.eng.Source("t", s2.Stream()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("removed definition: got %v, want ErrUnknown", err)
	}
	r.publish("t", "orders", 3)
	wantValue(t, r, "t", s1.Stream(), 5)
	if v, _ := r.last("t", s2.Stream()); v != 2 {
		t.Fatalf("stopped aggregate: got %v, want it left at 2", v)
	}
}

// Sliding and calendar windows rebuild from their window only.
func TestEngineRebuildReadsTheWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 30, 0, 0, time.UTC)
	sl := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "last 10m"})
	cal := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "this hour"})
	r := newRig(t, []*agg.Spec{sl, cal}, func(c *EngineConfig) { c.Now = func() time.Time { return now } })
	at := func(d time.Duration, n int) {
		evs := make([]wire.Event, n)
		for i := range evs {
			evs[i] = wire.Event{Time: now.Add(-d).UnixMilli(), Values: map[string]float64{"x": 1}}
		}
		if err := r.store.Append(context.Background(), "t", "orders", evs); err != nil {
			t.Fatal(err)
		}
	}
	at(2*time.Hour, 5)    // in neither
	at(20*time.Minute, 3) // this hour, not the last 10m
	at(5*time.Minute, 2)  // both
	at(40*time.Minute, 1) // late and old: neither
	r.start()
	wantValue(t, r, "t", sl.Stream(), 2)
	wantValue(t, r, "t", cal.Stream(), 5)
}

func TestDerived(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{{"agg.0011223344556677", true}, {"m4.1000.cpu", true}, {"orders", false}, {"aggregate", false}, {"m4", false}} {
		if got := Derived(tc.name); got != tc.want {
			t.Errorf("Derived(%q): got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// With the real State: a rebuilt bucket and the live events after it are
// each counted once, and the derived stream folds (Upsert) to the count.
func TestEngineWithStateCountsEachEventOnce(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m", GroupBy: "region"})
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) { c.New = New })
	bucket := time.Now().Truncate(time.Minute)
	rows := func(region string, n int) {
		evs := make([]wire.Event, n)
		for i := range evs {
			evs[i] = wire.Event{Time: bucket.UnixMilli() + int64(i), Row: &wire.Row{Key: fmt.Sprint(i), Fields: map[string]any{"region": region}}}
		}
		if err := r.store.Append(context.Background(), "t", "orders", evs); err != nil {
			t.Fatal(err)
		}
	}
	rows("eu", 30) // before the engine: the rebuild's
	r.start()
	for range 10 {
		rows("eu", 2)
		rows("us", 1)
	}
	poll.Until(t, 5*time.Second, func() error {
		evs, err := r.store.Read(context.Background(), "t", s.Stream(), 0, 100_000)
		if err != nil {
			return err
		}
		var st livestateStream
		for i := range evs {
			if err := st.apply(&evs[i]); err != nil {
				return err
			}
		}
		eu, us := st.at(bucket.UnixMilli(), "eu"), st.at(bucket.UnixMilli(), "us")
		if eu != 50 || us != 10 {
			return fmt.Errorf("bucket %v: eu %v us %v, want 50 and 10", bucket, eu, us)
		}
		return nil
	})
}

// counting counts the AppendAll calls that write derived streams.
type counting struct {
	*memstore.Store
	mu      sync.Mutex
	writes  int
	streams int
}

func (c *counting) AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	c.mu.Lock()
	c.writes++
	c.streams += len(streams)
	c.mu.Unlock()
	return c.Store.AppendAll(ctx, tenant, streams)
}

// Aggregates with the same emit_ms write together, one AppendAll for all,
// even when they started apart.
func TestEngineAggregatesWriteTogether(t *testing.T) {
	var specs []*agg.Spec
	for i := range 4 {
		specs = append(specs, spec(t, agg.Def{Source: fmt.Sprint("orders", i), Fn: "count", Window: "1m", EmitMs: 100}))
	}
	// The engine reads the test's clock: how far apart they started, and
	// how many beats pass, do not depend on the machine's load.
	clock := newFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	r := newRig(t, specs, func(c *EngineConfig) { c.Now = clock.Now })
	c := &counting{Store: r.store}
	r.eng.cfg.Store = c
	r.start()
	for i, s := range specs { // started 30 ms apart
		r.publish("t", s.Source, 1)
		wantValue(t, r, "t", s.Stream(), 1)
		if i < 3 {
			clock.Add(30 * time.Millisecond)
		}
	}
	c.mu.Lock()
	c.writes, c.streams = 0, 0
	c.mu.Unlock()
	// 600 ms, each aggregate's source getting an event every 2 ms.
	const span = 600 * time.Millisecond
	for at := time.Duration(0); at < span; at += 2 * time.Millisecond {
		for _, s := range specs {
			r.publish("t", s.Source, 1)
		}
		clock.Add(2 * time.Millisecond)
		if at%(10*time.Millisecond) == 0 {
			clock.waitReads(t, 3) // the engine ticks between the events
		}
	}
	r.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Four aggregates each emitting about every 100 ms: together, about
	// one write per 100 ms carrying all four; apart, four times as many.
	if max := 6 + 3; c.writes > max {
		t.Fatalf("%d writes of %d derived streams in %v: want at most %d (aligned beats)", c.writes, c.streams, span, max)
	}
}

// failingReads refuses ReadWindow while on, counting the calls.
type failingReads struct {
	*memstore.Store
	on    atomic.Bool
	calls atomic.Int64
}

func (f *failingReads) ReadWindow(ctx context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error) {
	if f.on.Load() {
		f.calls.Add(1)
		return nil, errors.New("store down")
	}
	return f.Store.ReadWindow(ctx, tenant, stream, from, to, after, limit)
}

// A store that fails is asked again a second later, not every tick; once it
// answers, the aggregate is built.
func TestEngineStoreFailureBacksOff(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, nil)
	f := &failingReads{Store: r.store}
	f.on.Store(true)
	r.eng.cfg.Store = f
	r.start()
	r.publish("t", "orders", 3)
	time.Sleep(500 * time.Millisecond) // a span to count retries over
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("the failing store was read %d times in 500 ms, want once (a second between tries)", n)
	}
	f.on.Store(false)
	wantValue(t, r, "t", s.Stream(), 3)
}

// A group that vanished while no engine computed (a row deleted during a
// restart) is deleted from the derived stream by the rebuilt aggregate,
// which Restores from what the stream holds and writes the difference.
func TestEngineRebuildDeletesVanishedGroups(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", GroupBy: "status", Window: "current"})
	var eng atomic.Pointer[Engine]
	h := hub.New(hub.Config{Tap: func(tenant string, evs []wire.Event) {
		if e := eng.Load(); e != nil {
			e.Tap(tenant, evs)
		}
	}})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	current := func(tenant, stream string) (*wire.State, error) {
		b, err := h.Snapshot(tenant, stream)
		if err != nil {
			return nil, err
		}
		f, err := wire.Decode(b)
		if err != nil {
			return nil, err
		}
		snap := f.(wire.Snapshot)
		return &snap.State, nil
	}
	run := func() (stop func()) {
		e := NewEngine(EngineConfig{Store: st, Tick: 5 * time.Millisecond, Current: current,
			Specs: func(string) []*agg.Spec { return []*agg.Spec{s} }})
		eng.Store(e)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		if err := e.Want("t", s.Stream()); err != nil {
			t.Fatal(err)
		}
		return func() { cancel(); <-done; eng.Store(nil) }
	}
	row := func(key, status string, op wire.RowOp) {
		ev := wire.Event{Row: &wire.Row{Key: key, Op: op, Fields: map[string]any{"status": status}}}
		if err := st.Append(context.Background(), "t", "orders", []wire.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	groups := func() map[string]any {
		got, err := current("t", s.Stream())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, r := range got.Rows {
			out[r.Key] = r.Fields[agg.Value]
		}
		return out
	}
	stop := run()
	row("a", "new", wire.RowInsert)
	row("b", "paid", wire.RowInsert)
	poll.Until(t, 5*time.Second, func() error {
		if g := groups(); len(g) != 2 {
			return fmt.Errorf("groups %v, want new and paid", g)
		}
		return nil
	})
	stop()
	row("a", "new", wire.RowDelete) // while no engine runs
	stop = run()
	defer stop()
	poll.Until(t, 5*time.Second, func() error {
		if g := groups(); len(g) != 1 || g["paid"] == nil {
			return fmt.Errorf("groups %v, want paid alone: new's only order was deleted", g)
		}
		return nil
	})
}

// An aggregate a page asked for that no definition names stops once nobody
// watches it, giving its place under the cap back; defined ones go on.
func TestEngineUnwatchedAskedAggregatesStop(t *testing.T) {
	defined := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	var watched atomic.Bool
	watched.Store(true)
	r := newRig(t, []*agg.Spec{defined}, func(c *EngineConfig) {
		c.MaxPerTenant = 2
		c.IdleAfter = 100 * time.Millisecond
		c.Watched = func(string, string) bool { return watched.Load() }
	})
	r.start()
	r.publish("t", "orders", 1)
	r.publish("t", "cpu", 1)
	wantValue(t, r, "t", defined.Stream(), 1)
	if err := r.eng.Want("t", "m4.1000.cpu"); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Want("t", "m4.2000.cpu"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("a third: got %v, want ErrTooMany", err)
	}
	time.Sleep(300 * time.Millisecond) // watched all along: it runs
	if r.eng.Active("t") != 2 {
		t.Fatalf("got %d active while watched, want 2", r.eng.Active("t"))
	}
	watched.Store(false)
	poll.Until(t, 5*time.Second, func() error {
		if n := r.eng.Active("t"); n != 1 {
			return fmt.Errorf("%d active, want the defined one alone", n)
		}
		return nil
	})
	if err := r.eng.Want("t", "m4.2000.cpu"); err != nil {
		t.Fatalf("its place freed: got %v", err)
	}
	r.publish("t", "orders", 1)
	wantValue(t, r, "t", defined.Stream(), 2)
}

// TestNextBeatKeepsTheBeatOfALateEmit: an emit that ran late for its beat
// (a busy engine, a loaded machine) is followed by the next beat, not the
// one after: asking for a whole period after the late emit made updates up
// to two periods old (the aggregate benchmark's update p99 was 490 ms at
// emit_ms 250). Two emits stay at least half a period apart.
func TestNextBeatKeepsTheBeatOfALateEmit(t *testing.T) {
	const period = 250 * time.Millisecond
	beat := time.UnixMilli(1_700_000_000_000).Truncate(period)
	for _, tc := range []struct {
		late, want time.Duration
	}{
		{0, period},
		{9 * time.Millisecond, period},
		{30 * time.Millisecond, period},
		{120 * time.Millisecond, period},
		{126 * time.Millisecond, 2 * period}, // the next beat would be under half a period away
		{249 * time.Millisecond, 2 * period},
	} {
		now := beat.Add(tc.late)
		got := nextBeat(now, period)
		if want := beat.Add(tc.want); !got.Equal(want) {
			t.Errorf("emit %v after its beat: next at beat+%v, want beat+%v", tc.late, got.Sub(beat), tc.want)
		}
		if gap := got.Sub(now); gap < period/2 {
			t.Errorf("emit %v after its beat: next only %v later", tc.late, gap)
		}
		if got.Sub(beat)%period != 0 {
			t.Errorf("next emit %v is not on a beat", got.Sub(beat))
		}
	}
}

// The batches tapped between two folds are folded aggregate by aggregate:
// each aggregate takes every held batch of its source, in order, before the
// next one starts (its state's memory touched once per fold, not once per
// batch), and each event once.
func TestEngineFoldsHeldBatchesAggregateByAggregate(t *testing.T) {
	a := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	b := spec(t, agg.Def{Source: "orders", Fn: "sum", Field: "x", Window: "1m"})
	r := newRig(t, []*agg.Spec{a, b}, nil)
	r.track()
	r.start()
	r.publish("t", "orders", 1) // activates both
	wantValue(t, r, "t", a.Stream(), 1)
	wantValue(t, r, "t", b.Stream(), 1)
	r.stop() // Run is done: the test drives hold and fold itself

	r.publish("t", "orders", 2)
	r.publish("t", "orders", 3)
	ctx := context.Background()
	bs := r.eng.taken()
	if len(bs) != 2 {
		t.Fatalf("got %d batches tapped, want 2", len(bs))
	}
	r.eng.hold(ctx, bs[0])
	r.eng.hold(ctx, bs[1])
	if r.eng.heldN != 5 {
		t.Fatalf("held %d events, want 5", r.eng.heldN)
	}
	var order []string
	r.mu.Lock()
	for _, s := range []*agg.Spec{a, b} {
		c := r.comps[s.Stream()][len(r.comps[s.Stream()])-1]
		name := s.Fn
		c.trace = func(seq uint64) { order = append(order, fmt.Sprintf("%s:%d", name, seq)) }
	}
	r.mu.Unlock()
	r.eng.fold(ctx)
	want := "[count:2 count:3 count:4 count:5 count:6 sum:2 sum:3 sum:4 sum:5 sum:6]"
	if got := fmt.Sprint(order); got != want {
		t.Errorf("folded %s, want %s", got, want)
	}
	if r.eng.heldN != 0 || len(r.eng.held) != 0 || len(r.eng.heldBy) != 0 {
		t.Errorf("after the fold: %d events, %d sources still held", r.eng.heldN, len(r.eng.held))
	}
}

// An aggregate whose emit had nothing to say waits for the next beat like
// one that wrote: it is not computed again at every tick.
func TestEngineEmptyEmitWaitsForTheNextBeat(t *testing.T) {
	var (
		mu    sync.Mutex
		now   = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		calls int
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return now
	}
	set := func(t time.Time) {
		mu.Lock()
		now = t
		mu.Unlock()
	}
	ticks := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) { c.Now = clock })
	r.track()
	r.start()
	r.publish("t", "orders", 1)
	wantValue(t, r, "t", s.Stream(), 1) // the build's Full, at 12:00:00
	r.mu.Lock()
	c := r.comps[s.Stream()][0]
	r.mu.Unlock()
	emits := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.emits
	}
	set(now.Add(300 * time.Millisecond)) // past the next beat (12:00:00.250)
	poll.Until(t, 5*time.Second, func() error {
		if n := emits(); n != 1 {
			return fmt.Errorf("%d emits, want 1", n)
		}
		return nil
	})
	// Twenty ticks later (each reads the clock), still before the beat after
	// (12:00:00.500): no other Emit.
	from := ticks()
	poll.Until(t, 5*time.Second, func() error {
		if n := ticks() - from; n < 20 {
			return fmt.Errorf("%d ticks", n)
		}
		return nil
	})
	if n := emits(); n != 1 {
		t.Errorf("%d emits before the next beat, want 1", n)
	}
}

// Tap copies a batch (the hub's slice is not its to keep) into the slice of
// a batch folded before, once there is one: a tapped batch costs the GC no
// new memory.
func TestEngineTapReusesFoldedBatches(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	e := NewEngine(EngineConfig{Store: memstore.New(memstore.Config{}), Specs: func(string) []*agg.Spec { return []*agg.Spec{s} }})
	evs := make([]wire.Event, 20)
	for i := range evs {
		evs[i] = wire.Event{Stream: "orders", Seq: uint64(i + 1), Row: &wire.Row{Key: "k"}}
	}
	e.Tap("t", evs)
	e.free(e.taken())
	allocs := testing.AllocsPerRun(100, func() {
		e.Tap("t", evs)
		bs := e.taken()
		if len(bs) != 1 || len(bs[0].evs) != len(evs) || bs[0].evs[19].Seq != 20 {
			t.Fatalf("got %d batches, want 1 of %d events", len(bs), len(evs))
		}
		e.free(bs)
	})
	if allocs != 0 {
		t.Fatalf("got %.0f allocations per tapped batch, want 0", allocs)
	}
	e.Tap("t", evs)
	bs := e.taken()
	e.free(bs)
	if bs[0].evs[:1][0].Row != nil {
		t.Fatal("a freed batch still holds its events")
	}
}

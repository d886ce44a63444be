package aggregate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// benchSpecs is n grouped aggregates, every function over every window it
// has a meaning for, spread over sources (bench/cmd/aggregate's mix).
func benchSpecs(b *testing.B, n, sources int) []*agg.Spec {
	fns := []string{"count", "sum", "avg", "min", "max", "last", "rate", "distinct", "p50", "p95"}
	windows := []string{"1s", "1m", "last 1m", "today", "current", "this hour"}
	var out []*agg.Spec
	for _, w := range windows {
		for _, fn := range fns {
			if len(out) == n {
				return out
			}
			d := agg.Def{Source: fmt.Sprintf("orders%d", len(out)%sources), Fn: fn, Window: w, GroupBy: "region"}
			switch fn {
			case "count", "rate":
			case "distinct":
				d.Field = "customer"
			default:
				d.Field = "total"
			}
			if s, err := agg.Compile(d); err == nil {
				out = append(out, s)
			}
		}
	}
	b.Fatalf("only %d aggregates", len(out))
	return nil
}

// switches is the process's voluntary context switches so far: a thread
// that blocked (a futex wait: an idle processor's thread parked, to be woken
// for the next goroutine made ready). Involuntary ones, the machine's other
// processes taking the core, are left out.
func switches() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchEngine publishes b.N order rows in batches of 100 over 5 streams into
// a memstore whose hub taps into an engine running aggs aggregates (none:
// no tap), waits until the engine folded them all, and reports the
// process's CPU per source event: the difference between the two
// benchmarks is what the aggregates cost, the emits written into the store
// and folded by the hub included.
func benchEngine(b *testing.B, aggs int) { benchEngineAt(b, aggs, 100, 0, 0, 0) }

// benchEngineAt is benchEngine with batches of size rows, and with rate > 0
// paced at rate source events per second as the server receives them from
// bench/cmd/aggregate (an ingest request of 100 rows every 10 ms, spread
// over the 5 streams: batches of 20): the engine then emits at its real
// pace (every 250 ms) and its states go cold between batches, as in the
// server, where the in-process figure of the unpaced benchmark is a third
// of what the server's profile shows.
//
// thrash > 0 writes that many bytes of other memory every 100 events (an
// ingest request's worth), standing for the server's other work between
// batches (ingest decoding, the hub, 200 sockets' writes) that pushes the
// states out of the caches.
//
// fan > 0 subscribes that many subscribers to a stream published at 100
// events a second beside the rows, each with a writer goroutine of its own
// as a WebSocket connection has (the hub's Deliver hands the events over,
// the writer takes them when it is scheduled), and reports the p99 from
// publish to the writer (fan-p99-µs): what the engine's work at its beats
// takes from the fan-out path, as scheduling delay of the writers.
func benchEngineAt(b *testing.B, aggs, size, rate, thrash, fan int) {
	const sources = 5
	var specs []*agg.Spec
	if aggs > 0 {
		specs = benchSpecs(b, aggs, sources)
	}
	reg := metrics.New()
	var e *Engine
	cfg := hub.Config{}
	if aggs > 0 {
		cfg.Tap = func(tenant string, evs []wire.Event) { e.Tap(tenant, evs) }
	}
	h := hub.New(cfg)
	st := memstore.New(memstore.Config{Sink: h.Publish, Capacity: 100_000})
	e = NewEngine(EngineConfig{Store: st, Metrics: reg, Specs: func(string) []*agg.Spec { return specs }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	rows := make([]wire.Event, size)
	batch := func(now int64) {
		for i := range rows {
			rows[i] = wire.Event{Time: now, Row: &wire.Row{Key: "k" + strconv.Itoa(rand.IntN(1000)), Fields: map[string]any{
				"region": "r" + strconv.Itoa(rand.IntN(10)), "customer": "c" + strconv.Itoa(rand.IntN(1000)), "total": float64(rand.IntN(50000)) / 100}}}
		}
	}
	fo := startFanout(b, h, fan)
	defer fo.stop()
	folded := reg.Lookup("telltale_agg_source_events_total")
	// Start every aggregate and let the builds finish.
	for s := range sources {
		batch(time.Now().UnixMilli())
		if err := st.Append(ctx, "t", fmt.Sprintf("orders%d", s), rows); err != nil {
			b.Fatal(err)
		}
	}
	for aggs > 0 && folded.Load() < int64(len(rows)*aggs) {
		time.Sleep(time.Millisecond)
	}
	base := folded.Load()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, sw0 := cpuTime(), switches()
	other := make([]byte, thrash)
	start := time.Now()
	for n := 0; n < b.N; n += len(rows) {
		if rate > 0 {
			if d := time.Duration(n) * time.Second / time.Duration(rate); time.Since(start) < d {
				time.Sleep(d - time.Since(start))
			}
		}
		if thrash > 0 && n%100 == 0 {
			for i := 0; i < len(other); i += 64 {
				other[i]++
			}
		}
		batch(time.Now().UnixMilli())
		if err := st.Append(ctx, "t", fmt.Sprintf("orders%d", (n/len(rows))%sources), rows); err != nil {
			b.Fatal(err)
		}
		if fan > 0 && rate > 0 && n%(rate/100) < len(rows) { // 100 a second
			fo.publish(ctx, st)
		}
	}
	want := base + int64((b.N+len(rows)-1)/len(rows)*len(rows)*aggs/sources)
	for aggs > 0 && folded.Load() < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/1e3/float64(b.N), "cpu-µs/event")
	b.ReportMetric(float64(switches()-sw0)*1000/float64(b.N), "ctxsw/1000events")
	if fan > 0 {
		b.ReportMetric(fo.p99().Seconds()*1e6, "fan-p99-µs")
	}
}

// fanout is benchEngineAt's fan-out stream and its subscribers' writers.
type fanout struct {
	mu      sync.Mutex
	pubAt   map[uint64]time.Time // seq → when it was published
	lat     []time.Duration
	stopped context.CancelFunc // (close is a helper of this package's tests)
	wg      sync.WaitGroup
}

func startFanout(b *testing.B, h *hub.Hub, n int) *fanout {
	f := &fanout{pubAt: map[uint64]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	f.stopped = cancel
	for range n {
		ch := make(chan uint64, 256)
		if _, err := h.Subscribe("t", "fan0", fanSub{ch}); err != nil {
			b.Fatal(err)
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case seq := <-ch:
					now := time.Now()
					f.mu.Lock()
					if at, ok := f.pubAt[seq]; ok {
						f.lat = append(f.lat, now.Sub(at))
					}
					f.mu.Unlock()
				}
			}
		}()
	}
	return f
}

// publish appends one event to the fan-out stream; the store's seqs start
// at 1 and the benchmark is its only writer.
func (f *fanout) publish(ctx context.Context, st *memstore.Store) {
	f.mu.Lock()
	seq := uint64(len(f.pubAt) + 1)
	f.pubAt[seq] = time.Now()
	f.mu.Unlock()
	_ = st.Append(ctx, "t", "fan0", []wire.Event{{Values: map[string]float64{"v": 1}}})
}

func (f *fanout) stop() {
	f.stopped()
	f.wg.Wait()
}

func (f *fanout) p99() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lat) == 0 {
		return 0
	}
	slices.Sort(f.lat)
	return f.lat[len(f.lat)*99/100]
}

type fanSub struct{ ch chan uint64 }

func (fanSub) Snapshot(string, []byte) {}
func (s fanSub) Deliver(_ string, first uint64, _ [][]byte) {
	select {
	case s.ch <- first:
	default:
	}
}
func (fanSub) Resync(string, string) {}

func BenchmarkEngine_NoAggregates(b *testing.B)         { benchEngine(b, 0) }
func BenchmarkEngine_50Aggregates10Groups(b *testing.B) { benchEngine(b, 50) }

// The server's pace: 10,000 source events per second in batches of 20 per
// stream (-benchtime 50000x is 5 s).
func BenchmarkEnginePaced_NoAggregates(b *testing.B)         { benchEngineAt(b, 0, 20, 10_000, 0, 0) }
func BenchmarkEnginePaced_50Aggregates10Groups(b *testing.B) { benchEngineAt(b, 50, 20, 10_000, 0, 0) }

// And 4 MiB of other memory written between requests.
func BenchmarkEngineCold_NoAggregates(b *testing.B) { benchEngineAt(b, 0, 20, 10_000, 4<<20, 0) }
func BenchmarkEngineCold_50Aggregates10Groups(b *testing.B) {
	benchEngineAt(b, 50, 20, 10_000, 4<<20, 0)
}

// The paced load with 200 subscribers of a stream at 100 events a second
// (bench/cmd/aggregate's fan-out clients), each with a writer goroutine:
// fan-p99-µs with and without the aggregates is the fan-out goal's
// in-process figure.
func BenchmarkEngineFanout_NoAggregates(b *testing.B) { benchEngineAt(b, 0, 20, 10_000, 4<<20, 200) }
func BenchmarkEngineFanout_50Aggregates10Groups(b *testing.B) {
	benchEngineAt(b, 50, 20, 10_000, 4<<20, 200)
}

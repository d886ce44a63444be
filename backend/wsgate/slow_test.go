package wsgate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestSlowConsumerIsCutOffWithoutSlowingOthers: 20 clients read normally;
// then a client that stops reading once subscribed, with 4 KB socket
// buffers, joins them.
// While its write side is stuck, every reader gets every event published,
// its queue fills to its bound and no further, and its backlog becomes a
// resync; as it still takes nothing, it is then closed as a slow consumer
// after the write timeout. Every step is an order of events, not a race
// with the clock: the stuck client's timer is held (holdTimer) while the
// events are published, so its write timeout cannot cut it off early
// however slowly a loaded machine publishes. The readers' p99 latency,
// beside it and alone, is logged, and held to a small factor of the run
// without it only with TELLTALE_TIMING_TESTS=1.
func TestSlowConsumerIsCutOffWithoutSlowingOthers(t *testing.T) {
	const queue = 64 << 10
	f := start(t, Config{QueueBytes: queue, WriteTimeout: time.Second})
	f.publish(t, "orders", 1)
	f.publish(t, "backlog", 1)

	type rec struct {
		mu  sync.Mutex
		lat []time.Duration
	}
	recs := make([]*rec, 20)
	clients := make([]*client.Client, len(recs))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range recs {
		r := &rec{}
		recs[i] = r
		clients[i] = client.New(client.Config{URL: f.url, Streams: []string{"orders"},
			OnEvent: func(ev *wire.Event) {
				if ns, ok := ev.Values["pub_ns"]; ok {
					r.mu.Lock()
					r.lat = append(r.lat, time.Since(time.Unix(0, int64(ns))))
					r.mu.Unlock()
				}
			}})
		wg.Add(1)
		go func() { defer wg.Done(); _ = clients[i].Run(ctx) }()
	}
	var seq uint64 = 1
	pad := strings.Repeat("x", 1000)
	// peak is the largest queue of any connection, read after each event
	// is published (the hub delivers it before Append returns).
	var peak int
	queued := func() {
		f.gate.mu.Lock()
		for c := range f.gate.conns {
			c.out.mu.Lock()
			peak = max(peak, c.out.eventBytes)
			c.out.mu.Unlock()
		}
		f.gate.mu.Unlock()
	}
	// run publishes 300 events of ~1 KB, one every 2 ms, waits for every
	// client to hold them and returns the clients' p99 latency.
	run := func() time.Duration {
		t.Helper()
		for _, r := range recs {
			r.mu.Lock()
			r.lat = r.lat[:0]
			r.mu.Unlock()
		}
		for range 300 {
			ev := wire.Event{Values: map[string]float64{"pub_ns": float64(time.Now().UnixNano())}, Row: &wire.Row{Key: "k", Fields: map[string]any{"pad": pad}}}
			if err := f.store.Append(context.Background(), "demo", "orders", []wire.Event{ev}); err != nil {
				t.Fatal(err)
			}
			seq++
			queued()
			time.Sleep(2 * time.Millisecond) // a producer's pace, not a wait for a condition
		}
		poll.Until(t, time.Minute, func() error {
			for i, c := range clients {
				var at uint64
				c.Read(func(s map[string]*livestate.Stream, _ client.Info) { at = s["orders"].Seq })
				if at != seq {
					return fmt.Errorf("client %d at seq %d, want %d", i, at, seq)
				}
			}
			return nil
		})
		var all []time.Duration
		for _, r := range recs {
			r.mu.Lock()
			all = append(all, r.lat...)
			r.mu.Unlock()
		}
		slices.Sort(all)
		return all[len(all)*99/100]
	}
	poll.Until(t, 10*time.Second, func() error {
		for i, c := range clients {
			var s client.Status
			c.Read(func(_ map[string]*livestate.Stream, in client.Info) { s = in.Status })
			if s != client.Live {
				return fmt.Errorf("client %d is %s", i, s)
			}
		}
		return nil
	})
	alone := run()

	// 4 KB socket buffers both ways: what the server sends it stays in the
	// server's queue, not in the kernel's. It reads its welcome and its
	// snapshots, so that it is subscribed, and nothing after them.
	readers := connSet(f.gate)
	slow := stuckClient(t, serveSmallSend(t, f.gate, nil))
	slow.send(wire.Hello{})
	slow.expect(wire.TypeWelcome)
	for _, stream := range []string{"orders", "backlog"} {
		slow.send(wire.Sub{Stream: stream})
		slow.expect(wire.TypeSnapshot)
	}
	poll.Until(t, 5*time.Second, func() error {
		if n := f.reg.Lookup("telltale_ws_connections").Load(); n != 21 {
			return fmt.Errorf("%d connections, want 21", n)
		}
		return nil
	})
	var stuck *conn
	for c := range connSet(f.gate) {
		if !readers[c] {
			stuck = c
		}
	}
	if stuck == nil {
		t.Fatal("the client that never reads has no connection among the 21")
	}
	resyncs := f.reg.Lookup("telltale_ws_resyncs_total") // queued, not yet written
	closes := f.reg.Lookup("telltale_ws_slow_closes_total")

	release := holdTimer(t, stuck)
	peak = 0
	withSlow := run()
	// Still held: the stuck client cannot have been cut off yet, so every
	// reader got every event while it was there.
	stuck.out.mu.Lock()
	resynced := stuck.out.resyncing["orders"]
	stuck.out.mu.Unlock()
	if c := closes.Load(); !resynced || resyncs.Load() == 0 || c != 0 {
		t.Fatalf("the stuck client resynced %v, %d slow closes, while it was stuck: want its backlog resynced, and it not closed", resynced, c)
	}
	if peak > queue || peak < queue/2 {
		t.Fatalf("largest queue %d bytes: want it to have reached at least half of its %d-byte bound, and never past it", peak, queue)
	}
	// Then a backlog on another stream it subscribed to, within the
	// bound: what its write side has to write once its timer is released
	// is far more than its socket can take, so the write waits until the
	// write timeout cuts it off.
	for i := 0; ; i++ {
		stuck.out.mu.Lock()
		n := stuck.out.eventBytes
		stuck.out.mu.Unlock()
		if n >= queue/2 {
			break
		}
		if i == 1000 {
			t.Fatalf("%d events published for the held client hold %d bytes in its queue: want them queued while its write side is stuck", i, n)
		}
		ev := wire.Event{Row: &wire.Row{Key: "k", Fields: map[string]any{"pad": pad}}}
		if err := f.store.Append(context.Background(), "demo", "backlog", []wire.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	queued()
	stuck.out.mu.Lock()
	resynced = stuck.out.resyncing["backlog"]
	stuck.out.mu.Unlock()
	if c := closes.Load(); resynced || c != 0 || peak > queue {
		t.Fatalf("a backlog within the bound: resynced %v, %d slow closes, largest queue %d bytes; want neither, and the %d-byte bound kept", resynced, c, peak, queue)
	}
	release()
	poll.Until(t, 10*time.Second, func() error {
		if closes.Load() == 0 {
			return fmt.Errorf("the client that never reads is not closed as a slow consumer")
		}
		if n := f.reg.Lookup("telltale_ws_connections").Load(); n != 20 {
			return fmt.Errorf("%d connections, want the 20 readers", n)
		}
		return nil
	})
	if c := connSet(f.gate); len(c) != len(readers) || c[stuck] {
		t.Fatalf("%d connections open, the stuck one among them %v: want the %d readers", len(c), c[stuck], len(readers))
	}
	t.Logf("readers' p99: %v alone, %v beside a stuck client; its queue peaked at %d bytes (bound %d)", alone, withSlow, peak, queue)
	if limit := 3*alone + 50*time.Millisecond; timing.Over(t, withSlow, limit) {
		t.Fatalf("the readers' p99 was %v alone and %v beside a client that never reads: want at most %v", alone, withSlow, limit)
	}
}

// connSet is the gateway's open connections.
func connSet(g *Gateway) map[*conn]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	set := make(map[*conn]bool, len(g.conns))
	for c := range g.conns {
		set[c] = true
	}
	return set
}

// holdTimer holds c's timer until the returned release is called (at the
// latest when the test ends, or after two minutes, so that a publish path
// that waits on c fails the test rather than hanging it): c's write
// watchdog cannot fire meanwhile, and its slow path, which arms the
// watchdog (c.watch) before each write to a full socket, waits before
// writing. The connection stays busy, so what is published for it stays in
// its outbox, as behind a write that never ends; once released, the
// watchdog runs from then on. A test holds it to order the write timeout
// after what it publishes, whatever the machine's load.
func holdTimer(t *testing.T, c *conn) (release func()) {
	t.Helper()
	c.timer.mu.Lock()
	var once sync.Once
	release = func() { once.Do(c.timer.mu.Unlock) }
	safety := time.AfterFunc(2*time.Minute, release)
	t.Cleanup(func() { safety.Stop(); release() })
	return release
}

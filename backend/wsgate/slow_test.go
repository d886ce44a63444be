package wsgate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestSlowConsumerIsCutOffWithoutSlowingOthers: 20 clients read normally;
// then a client that never reads, with 4 KB socket buffers, subscribes too. Its queue stays within its bound, its backlog becomes a
// resync, and, as it still takes nothing, it is closed as a slow consumer
// after the write timeout; meanwhile the other clients' p99 latency stays
// within a small factor of the same run without it.
func TestSlowConsumerIsCutOffWithoutSlowingOthers(t *testing.T) {
	const queue = 64 << 10
	f := start(t, Config{QueueBytes: queue, WriteTimeout: time.Second})
	f.publish(t, "orders", 1)

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
			time.Sleep(2 * time.Millisecond) // a producer's pace, not a wait for a condition
		}
		poll.Until(t, 20*time.Second, func() error {
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
	// server's queue, not in the kernel's.
	slow := stuckClient(t, serveSmallSend(t, f.gate, nil))
	slow.send(wire.Hello{})
	slow.send(wire.Sub{Stream: "orders"})
	poll.Until(t, 5*time.Second, func() error {
		if n := f.reg.Lookup("telltale_ws_connections").Load(); n != 21 {
			return fmt.Errorf("%d connections, want 21", n)
		}
		return nil
	})
	// While it runs: the largest queue of any connection, and when the
	// resync and the close were first counted.
	resyncs := f.reg.Lookup("telltale_ws_resyncs_total")
	closes := f.reg.Lookup("telltale_ws_slow_closes_total")
	var peak atomic.Int64
	var resyncAt, closeAt atomic.Int64
	began := time.Now()
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			f.gate.mu.Lock()
			for c := range f.gate.conns {
				c.out.mu.Lock()
				if n := int64(c.out.eventBytes); n > peak.Load() {
					peak.Store(n)
				}
				c.out.mu.Unlock()
			}
			f.gate.mu.Unlock()
			if resyncs.Load() > 0 && resyncAt.Load() == 0 {
				resyncAt.Store(int64(time.Since(began)))
			}
			if closes.Load() > 0 && closeAt.Load() == 0 {
				closeAt.Store(int64(time.Since(began)))
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond): // the sampling period
			}
		}
	}()
	withSlow := run()
	poll.Until(t, 10*time.Second, func() error {
		if closes.Load() == 0 {
			return fmt.Errorf("the client that never reads is not closed as a slow consumer")
		}
		if n := f.reg.Lookup("telltale_ws_connections").Load(); n != 20 {
			return fmt.Errorf("%d connections, want the 20 readers", n)
		}
		return nil
	})
	close(stop)
	<-sampled

	if p := peak.Load(); p > queue || p < queue/2 {
		t.Fatalf("largest queue %d bytes: want it to have reached at least half of its %d-byte bound, and never past it", p, queue)
	}
	if r, c := resyncAt.Load(), closeAt.Load(); r == 0 || r > c {
		t.Fatalf("resync counted at %v, slow close at %v: want the resync first", time.Duration(r), time.Duration(c))
	}
	if limit := 3*alone + 50*time.Millisecond; withSlow > limit {
		t.Fatalf("the readers' p99 was %v alone and %v beside a client that never reads: want at most %v", alone, withSlow, limit)
	}
	t.Logf("readers' p99: %v alone, %v beside a stuck client; its queue peaked at %d bytes (bound %d); resync at %v, slow close at %v",
		alone, withSlow, peak.Load(), queue, time.Duration(resyncAt.Load()).Round(time.Millisecond), time.Duration(closeAt.Load()).Round(time.Millisecond))
}

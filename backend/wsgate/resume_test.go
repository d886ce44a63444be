package wsgate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestResumeReplaysExactlyTheGap: a client that drops and comes back with
// its cursor gets an acknowledgement, then exactly the events it missed
// (older than the hub's ring, so read from the store while live events are
// held) and then live ones published during the resume: no snapshot, no gap,
// no duplicate.
func TestResumeReplaysExactlyTheGap(t *testing.T) {
	reg := metrics.New()
	h := hub.New(hub.Config{Metrics: reg, Ring: 16})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	g := New(Config{Hub: h, Metrics: reg, History: st})
	srv := httptest.NewServer(g)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	pub := func(n int) {
		for i := 0; i < n; i++ {
			if err := st.Append(context.Background(), "demo", "orders", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	pub(10)
	r := dial(t, url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "orders"})
	snap := r.expect(wire.TypeSnapshot).(wire.Snapshot)
	r.ws.CloseNow()

	pub(300) // far past the ring of 16
	r = dial(t, url)
	r.send(wire.Hello{Cursors: []wire.Cursor{{Stream: "orders", Epoch: snap.Epoch, Seq: snap.Seq}}})
	r.expect(wire.TypeWelcome)
	done := make(chan struct{})
	go func() { defer close(done); pub(300) }() // live while resuming
	if b := r.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 0 {
		t.Fatalf("got a batch of %d events first, want the empty acknowledgement", len(b.Events))
	}
	next := snap.Seq + 1
	for next <= 610 {
		f, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		switch f := f.(type) {
		case wire.Batch:
			for _, ev := range f.Events {
				if ev.Seq != next {
					t.Fatalf("got seq %d, want %d", ev.Seq, next)
				}
				next++
			}
		case wire.Ping:
		default:
			t.Fatalf("got %T during the resume, want only batches", f)
		}
	}
	<-done
	if n := reg.Lookup("telltale_ws_replayed_from_store_total").Load(); n == 0 {
		t.Fatal("nothing was read from the store: the test did not exercise the hold path")
	}
}

// checker records what one client applied and proves it continuous.
type checker struct {
	mu        sync.Mutex
	last      map[string]uint64
	epoch     map[string]uint64
	snapshots int
	err       error
}

func (c *checker) trace(stream string, epoch, seq uint64, snapshot bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snapshot {
		c.snapshots++
		c.last[stream], c.epoch[stream] = seq, epoch
		return
	}
	if c.err == nil && (epoch != c.epoch[stream] || seq != c.last[stream]+1) {
		c.err = fmt.Errorf("%s: applied seq %d after %d: a gap or a duplicate", stream, seq, c.last[stream])
	}
	c.last[stream] = seq
}

type publisher interface {
	Append(ctx context.Context, tenant, stream string, evs []wire.Event) error
}

// runChecker connects clients through a flaky proxy to two streams while
// events are published continuously, cutting connections at random. At the
// end every client must hold every seq, each applied once and in order,
// none received twice, and no client may have needed more than its first
// snapshot per stream: every reconnect resumed from its cursor.
func runChecker(t *testing.T, h *hub.Hub, history History, pub publisher, clients int) {
	t.Helper()
	reg := metrics.New()
	g := New(Config{Hub: h, Metrics: reg, History: history, PingInterval: time.Second})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	streams := []string{"orders", "metrics"}
	for _, s := range streams {
		if err := pub.Append(context.Background(), "demo", s, []wire.Event{{Values: map[string]float64{"n": 0}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Let the hub hold both streams first: a client subscribing to a stream
	// the hub has not seen yet gets an empty snapshot and, at its first
	// event, an explicit resync, which would blur what this test counts.
	poll.Until(t, 10*time.Second, func() error {
		for _, s := range streams {
			if c, _ := h.Cursor("demo", s); c.Seq == 0 {
				return fmt.Errorf("hub has not seen %s yet", s)
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	cs := make([]*client.Client, clients)
	checks := make([]*checker, clients)
	for i := range cs {
		ch := &checker{last: map[string]uint64{}, epoch: map[string]uint64{}}
		checks[i] = ch
		cs[i] = client.New(client.Config{
			URL: "ws://" + proxy.Addr(), Streams: streams, Trace: ch.trace,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cs[i].Run(ctx)
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	rng := rand.New(rand.NewPCG(1, 2))
	const rounds = 30
	var published [2]int
	for r := 0; r < rounds; r++ {
		for k, s := range streams {
			n := 5 + rng.IntN(20)
			for i := 0; i < n; i++ {
				published[k]++
				if err := pub.Append(context.Background(), "demo", s, []wire.Event{{Values: map[string]float64{"n": float64(published[k])}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r%3 == 0 {
			proxy.Cut(rng)
		}
		time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond) // the pace of publishing between cuts, not a wait for a condition
	}
	poll.Until(t, 30*time.Second, func() error {
		for i, c := range cs {
			var err error
			c.Read(func(st map[string]*livestate.Stream, _ client.Info) {
				for k, s := range streams {
					if got := st[s].State.Values["n"]; got != float64(published[k]) {
						err = fmt.Errorf("client %d %s: n=%v, want %d", i, s, got, published[k])
					}
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	resumes := 0
	for i, ch := range checks {
		ch.mu.Lock()
		if ch.err != nil {
			t.Errorf("client %d: %v", i, ch.err)
		}
		if ch.snapshots != len(streams) {
			t.Errorf("client %d took %d snapshots, want %d: a reconnect was resynced instead of resumed", i, ch.snapshots, len(streams))
		}
		ch.mu.Unlock()
		cs[i].Read(func(_ map[string]*livestate.Stream, info client.Info) {
			resumes += info.Resumes
			if info.Duplicates != 0 {
				t.Errorf("client %d received %d events twice: a resume must replay exactly what was missed", i, info.Duplicates)
			}
		})
	}
	if proxy.Cuts() == 0 || resumes == 0 {
		t.Fatalf("%d cuts and %d resumes: the test did not exercise reconnects", proxy.Cuts(), resumes)
	}
	t.Logf("%d clients, %d cuts, %d stream resumes, %d+%d events, every seq once and in order", clients, proxy.Cuts(), resumes, published[0], published[1])
}

func TestCheckerEmbedded(t *testing.T) {
	h := hub.New(hub.Config{Ring: 64}) // small: reconnects also read from the store
	st := memstore.New(memstore.Config{Sink: h.Publish})
	runChecker(t, h, st, st, 30)
}

func TestCheckerPostgres(t *testing.T) {
	db := pgtest.New(t)
	if _, err := pgstore.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{Ring: 64})
	pg := pgstore.New(pgstore.Config{Pool: db.Pool, Sink: h.Publish, ScanInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pg.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := pg.Health(); !ok {
			return fmt.Errorf("follower: %s", reason)
		}
		return nil
	})
	runChecker(t, h, pg, pg, 30)
}

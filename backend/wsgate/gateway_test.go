package wsgate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

type fixture struct {
	url   string
	srv   *httptest.Server
	store *memstore.Store
	gate  *Gateway
	reg   *metrics.Registry
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	return startOn(t, cfg, httptest.NewServer)
}

// startOn is start with the test server of serve (httptest.NewTLSServer).
func startOn(t *testing.T, cfg Config, serve func(http.Handler) *httptest.Server) *fixture {
	t.Helper()
	reg := metrics.New()
	h := hub.New(hub.Config{Metrics: reg})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	cfg.Hub, cfg.Metrics = h, reg
	g := New(cfg)
	srv := serve(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		srv.Close()
	})
	return &fixture{url: "ws" + strings.TrimPrefix(srv.URL, "http"), srv: srv, store: st, gate: g, reg: reg}
}

func (f *fixture) publish(t *testing.T, stream string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := f.store.Append(context.Background(), "demo", stream, []wire.Event{{Values: map[string]float64{"n": float64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// raw is a bare protocol peer for asserting exactly what the server sends.
type raw struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &raw{t, ws}
}

// subscribed dials, says hello without a token and subscribes to stream,
// past its snapshot.
func subscribed(t *testing.T, url, stream string) *raw {
	t.Helper()
	r := dial(t, url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: stream})
	r.expect(wire.TypeSnapshot)
	return r
}

func (r *raw) send(f wire.Frame) {
	r.t.Helper()
	b, err := wire.Encode(f)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendBytes(b)
}

func (r *raw) sendBytes(b []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) read() (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

func (r *raw) expect(want wire.Type) wire.Frame {
	r.t.Helper()
	for {
		f, err := r.read()
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", want, err)
		}
		if f.FrameType() == wire.TypePing {
			continue
		}
		if f.FrameType() != want {
			r.t.Fatalf("got %T %+v, want %s", f, f, want)
		}
		return f
	}
}

// TestLiveDeltasAfterSnapshot publishes while a client subscribes: the client
// must see a snapshot and then every later seq exactly once, in order, with
// events coalesced into batches.
func TestLiveDeltasAfterSnapshot(t *testing.T) {
	f := start(t, Config{})
	f.publish(t, "orders", 10)
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "orders"})

	// Publishing goes on until the client has read 1,000 events past its
	// snapshot, wherever the snapshot fell.
	var published atomic.Uint64
	published.Store(10)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 10; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := f.store.Append(context.Background(), "demo", "orders", []wire.Event{{Values: map[string]float64{"n": float64(i)}}}); err != nil {
				t.Error(err)
				return
			}
			published.Store(uint64(i + 1))
		}
	}()
	snap := r.expect(wire.TypeSnapshot).(wire.Snapshot)
	st := livestate.Stream{}
	st.Reset(&snap)
	batches := 0
	total := uint64(math.MaxUint64)
	for st.Seq < total {
		if st.Seq >= snap.Seq+1000 && total == math.MaxUint64 {
			close(stop)
			<-done
			total = published.Load()
			continue
		}
		b := r.expect(wire.TypeBatch).(wire.Batch)
		batches++
		for i := range b.Events {
			ev := &b.Events[i]
			if ev.Seq != st.Seq+1 {
				t.Fatalf("got seq %d after %d: not contiguous", ev.Seq, st.Seq)
			}
			if ev.Ingested == 0 || ev.Created == 0 || b.Sent == 0 {
				t.Fatalf("missing latency stamps: created %d ingested %d sent %d", ev.Created, ev.Ingested, b.Sent)
			}
			if _, err := st.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := st.State.Values["n"]; got != float64(total-1) {
		t.Fatalf("got n=%v, want %d", got, total-1)
	}
	if batches >= int(total-snap.Seq) {
		t.Fatalf("got %d batches for %d events: no coalescing", batches, total-snap.Seq)
	}
	t.Logf("snapshot at seq %d, then %d events in %d batch frames", snap.Seq, total-snap.Seq, batches)
}

func TestClientFollowsStreams(t *testing.T) {
	f := start(t, Config{})
	f.publish(t, "orders", 5)
	f.publish(t, "metrics", 5)
	c := client.New(client.Config{URL: f.url, Streams: []string{"orders", "metrics"}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	}()
	f.publish(t, "orders", 20)
	poll.Until(t, 5*time.Second, func() error {
		var err error
		c.Read(func(streams map[string]*livestate.Stream, info client.Info) {
			if info.Status != client.Live {
				err = fmt.Errorf("status %v", info.Status)
				return
			}
			if o := streams["orders"]; o.Seq != 25 || o.State.Values["n"] != 19 {
				err = fmt.Errorf("orders at seq %d n=%v, want 25 and 19", o.Seq, o.State.Values["n"])
			}
			if m := streams["metrics"]; m.Seq != 5 {
				err = fmt.Errorf("metrics at seq %d, want 5", m.Seq)
			}
		})
		return err
	})
}

func TestHostileFramesGetErrors(t *testing.T) {
	f := start(t, Config{MaxSubs: 2})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	tests := []struct {
		name string
		send func()
		code wire.Code
	}{
		{"garbage", func() { r.sendBytes([]byte{0xc1, 0x00}) }, wire.CodeBadFrame},
		{"huge claim", func() { r.sendBytes([]byte{0x83, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff}) }, wire.CodeBadFrame},
		{"server frame from client", func() { r.send(wire.Welcome{}) }, wire.CodeUnknownType},
		{"second hello", func() { r.send(wire.Hello{}) }, wire.CodeBadFrame},
		{"bad stream name", func() { r.send(wire.Sub{Stream: "../etc"}) }, wire.CodeBadStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send()
			e := r.expect(wire.TypeError).(wire.Error)
			if e.Code != tt.code {
				t.Fatalf("got code %v (%s), want %v", e.Code, e.Message, tt.code)
			}
		})
	}
	r.send(wire.Sub{Stream: "a"})
	r.expect(wire.TypeSnapshot)
	r.send(wire.Sub{Stream: "b"})
	r.expect(wire.TypeSnapshot)
	r.send(wire.Sub{Stream: "c"})
	if e := r.expect(wire.TypeError).(wire.Error); e.Code != wire.CodeTooManySubs {
		t.Fatalf("got %v, want too_many_subs", e.Code)
	}
	if got := f.reg.Lookup("telltale_ws_bad_frames_total").Load(); got != 6 {
		t.Fatalf("got %d bad frames counted, want 6", got)
	}
}

func TestFirstFrameMustBeHello(t *testing.T) {
	f := start(t, Config{})
	r := dial(t, f.url)
	r.send(wire.Sub{Stream: "orders"})
	_, err := r.read()
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Fatalf("got close %v (%v), want policy violation", got, err)
	}
}

func TestOversizedFrameCloses(t *testing.T) {
	f := start(t, Config{MaxFrameBytes: 1024})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Hello{Token: strings.Repeat("x", 4096)})
	var err error
	for err == nil {
		_, err = r.read()
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("got close %v (%v), want message too big", got, err)
	}
}

// TestSlowClientIsResyncedNotWaitedFor subscribes a client that never reads.
// Publishing must not block, the stuck client's backlog must turn into a
// resync, and a second client must still get every event promptly.
func TestSlowClientIsResyncedNotWaitedFor(t *testing.T) {
	f := start(t, Config{QueueBytes: 16 << 10, WriteTimeout: 500 * time.Millisecond})
	_ = subscribed(t, f.url, "orders") // and never reads again

	fast := client.New(client.Config{URL: f.url, Streams: []string{"orders"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fast.Run(ctx)

	big := strings.Repeat("x", 2000)
	start := time.Now()
	for i := 0; i < 3000; i++ {
		if err := f.store.Append(context.Background(), "demo", "orders", []wire.Event{{Row: &wire.Row{Key: fmt.Sprint(i), Fields: map[string]any{"pad": big}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); timing.Over(t, d, 5*time.Second) {
		t.Fatalf("publishing 3000 events took %v: the publish path waited on a client", d)
	}
	poll.Until(t, 10*time.Second, func() error {
		var err error
		fast.Read(func(s map[string]*livestate.Stream, _ client.Info) {
			if s["orders"].Seq != 3000 {
				err = fmt.Errorf("fast client at seq %d, want 3000", s["orders"].Seq)
			}
		})
		return err
	})
	poll.Until(t, 10*time.Second, func() error {
		if n := f.reg.Lookup("telltale_ws_resyncs_total").Load(); n == 0 {
			return errors.New("no resync counted for the stuck client")
		}
		return nil
	})
}

func TestShutdownTellsClientsToReconnect(t *testing.T) {
	f := start(t, Config{})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go f.gate.Shutdown(ctx)
	var (
		err   error
		frame wire.Frame
		said  bool // a restarting error frame came before the close
	)
	for err == nil {
		if frame, err = r.read(); err == nil {
			if e, ok := frame.(wire.Error); ok && e.Code == wire.CodeRestarting {
				said = true
			}
		}
	}
	if got := websocket.CloseStatus(err); got != wire.CloseRestart {
		t.Fatalf("got close %v (%v), want %d", got, err, wire.CloseRestart)
	}
	// A browser's Go client does not see close codes: the frame says it.
	if !said {
		t.Fatal("no restarting error frame before the close")
	}
}

func TestIdleClientIsClosed(t *testing.T) {
	f := start(t, Config{PingInterval: 100 * time.Millisecond})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	// Read pings but never answer: silence for two intervals closes.
	var err error
	for err == nil {
		_, err = r.read()
	}
	if got := websocket.CloseStatus(err); got != wire.CloseIdle {
		t.Fatalf("got close %v (%v), want %d", got, err, wire.CloseIdle)
	}
}

// writers counts the gateway's running flusher goroutines and its
// connections with a write scheduled or in progress.
func (f *fixture) writers() int {
	n := 0
	for _, fl := range f.gate.flushers {
		fl.mu.Lock()
		if fl.running {
			n++
		}
		fl.mu.Unlock()
	}
	f.gate.mu.Lock()
	defer f.gate.mu.Unlock()
	for c := range f.gate.conns {
		if c.sched.Load() == busy {
			n++
		}
	}
	return n
}

// TestIdleConnectionHasNoWriter: once a quiet connection's frames are
// written, no goroutine writes for it (its flusher ends when none of its
// connections has anything queued), and the next event is written again.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	f := start(t, Config{})
	f.publish(t, "orders", 1)
	r := subscribed(t, f.url, "orders")
	poll.Until(t, 5*time.Second, func() error {
		if n := f.writers(); n != 0 {
			return fmt.Errorf("%d writers still running on an idle connection", n)
		}
		return nil
	})
	f.publish(t, "orders", 1)
	if b := r.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 1 || b.Events[0].Seq != 2 {
		t.Fatalf("got %+v, want seq 2", b)
	}
}

// TestWindowCoalescesBursts: with a coalescing window, events published one
// by one faster than the window arrive in fewer frames, none lost.
func TestWindowCoalescesBursts(t *testing.T) {
	// One connection and a budget of 20 frames/s: a 50ms window.
	f := start(t, Config{FrameBudget: 20})
	f.publish(t, "orders", 1)
	r := subscribed(t, f.url, "orders")
	const n = 100
	start := time.Now()
	go func() {
		for range n {
			f.publish(t, "orders", 1)
			time.Sleep(time.Millisecond) // a producer's pace, not a wait for a condition
		}
	}()
	var seq uint64 = 1
	frames := 0
	for seq < n+1 {
		b := r.expect(wire.TypeBatch).(wire.Batch)
		frames++
		for _, ev := range b.Events {
			if ev.Seq != seq+1 {
				t.Fatalf("got seq %d after %d", ev.Seq, seq)
			}
			seq = ev.Seq
		}
	}
	// At most one frame per 50ms window, plus the bucket's one extra.
	if limit := int(time.Since(start)/(50*time.Millisecond)) + 2; frames > limit {
		t.Fatalf("%d events came in %d frames over %v, want at most %d", n, frames, time.Since(start), limit)
	}
	t.Logf("%d events in %d frames over %v", n, frames, time.Since(start))
}

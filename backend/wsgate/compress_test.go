package wsgate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/wire"
)

// TestLargeFramesAreCompressed: a peer that offers permessage-deflate, as
// every browser does, gets a snapshot over the threshold deflated and the
// same frame once inflated; a small live batch and a peer that does not
// offer it get plain frames.
func TestLargeFramesAreCompressed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        Config
		offer      bool
		compressed bool
	}{
		{"peer offers deflate", Config{}, true, true},
		{"peer does not offer it", Config{}, false, false},
		{"server disables it", Config{CompressAbove: -1}, true, false},
		{"threshold above the snapshot", Config{CompressAbove: 1 << 20}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, tc.cfg)
			// 1,000 samples of a slowly moving series and the last rows:
			// ~22 KB in the snapshot.
			pts := slowSeries(1000)
			evs := []wire.Event{{Points: pts}}
			for i := range 50 {
				evs = append(evs, wire.Event{Row: &wire.Row{Key: fmt.Sprintf("SO-%06d", i), Fields: map[string]any{
					"status": "packed", "region": "north-east", "total": float64(i) + 0.5}}})
			}
			if err := f.store.Append(context.Background(), "demo", "orders", evs); err != nil {
				t.Fatal(err)
			}
			proxy := faultnet.New(t, strings.TrimPrefix(f.url, "ws://"))
			r := welcomed(t, proxy, tc.offer)
			before := proxy.Downstream()
			r.send(wire.Sub{Stream: "orders"})
			snap := r.expect(wire.TypeSnapshot).(wire.Snapshot)
			onWire := proxy.Downstream() - before
			plain, err := wire.Encode(snap)
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) < 12<<10 || len(snap.State.Rows) == 0 {
				t.Fatalf("snapshot of %d bytes, %d rows: want one over the 8 KiB threshold", len(plain), len(snap.State.Rows))
			}
			if got := onWire*3 < int64(len(plain)); got != tc.compressed {
				t.Fatalf("snapshot of %d bytes took %d on the wire: compressed %v, want %v", len(plain), onWire, got, tc.compressed)
			}
			if !reflect.DeepEqual(snap.State.Points, *pts) || snap.State.Rows[0].Key != "SO-000049" {
				t.Fatalf("snapshot read back with %d points, newest row %+v: want the 1,000 published and SO-000049", len(snap.State.Points.TS), snap.State.Rows[0])
			}

			// A live event is a small batch: sent as it is.
			before = proxy.Downstream()
			f.publish(t, "orders", 1)
			b := r.expect(wire.TypeBatch).(wire.Batch)
			onWire = proxy.Downstream() - before
			frame := wire.EncodeBatch("orders", b.Sent, [][]byte{mustEvent(t, &b.Events[0])})
			if onWire < int64(len(frame)) {
				t.Fatalf("a %d-byte batch took %d bytes on the wire: want it sent uncompressed", len(frame), onWire)
			}
		})
	}
}

func mustEvent(t *testing.T, ev *wire.Event) []byte {
	t.Helper()
	b, err := wire.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOnlyCatchUpIsCompressed: on a connection that negotiated deflate, a
// live batch over the threshold goes as it is (it was encoded once for
// every subscriber), while the same events replayed to a resuming
// subscription are compressed.
func TestOnlyCatchUpIsCompressed(t *testing.T) {
	f := start(t, Config{})
	proxy := faultnet.New(t, strings.TrimPrefix(f.url, "ws://"))
	dialDeflate := func() *raw { return welcomed(t, proxy, true) }
	f.publish(t, "metrics", 1)
	live := dialDeflate()
	live.send(wire.Sub{Stream: "metrics"})
	snap := live.expect(wire.TypeSnapshot).(wire.Snapshot)

	// One event of ~22 KB: a live batch over the 8 KiB threshold.
	pts := slowSeries(1000)
	before := proxy.Downstream()
	if err := f.store.Append(context.Background(), "demo", "metrics", []wire.Event{{Points: pts}}); err != nil {
		t.Fatal(err)
	}
	b := live.expect(wire.TypeBatch).(wire.Batch)
	onWire := proxy.Downstream() - before
	if len(b.Events) != 1 || !reflect.DeepEqual(b.Events[0].Points, pts) {
		t.Fatalf("live batch of %d events: want the one published, intact", len(b.Events))
	}
	frame := wire.EncodeBatch("metrics", b.Sent, [][]byte{mustEvent(t, &b.Events[0])})
	if len(frame) < 16<<10 || onWire < int64(len(frame)) {
		t.Fatalf("a live batch of %d bytes took %d on the wire: want it over 16 KB and sent as it is", len(frame), onWire)
	}

	// The same event replayed from the cursor before it: compressed.
	resumer := dialDeflate()
	before = proxy.Downstream()
	resumer.send(wire.Sub{Stream: "metrics", From: &wire.Cursor{Stream: "metrics", Epoch: snap.Epoch, Seq: snap.Seq}})
	resumer.expect(wire.TypeBatch) // the resume ack
	replay := resumer.expect(wire.TypeBatch).(wire.Batch)
	onWire = proxy.Downstream() - before
	if len(replay.Events) != 1 || replay.Events[0].Seq != snap.Seq+1 || !reflect.DeepEqual(replay.Events[0].Points, pts) {
		t.Fatalf("replay of %d events: want seq %d, intact", len(replay.Events), snap.Seq+1)
	}
	if onWire*3 > int64(len(frame)) {
		t.Fatalf("the replayed batch of %d bytes took %d on the wire: want it compressed", len(frame), onWire)
	}
}

// welcomed dials through proxy, offering deflate or not, and says hello.
func welcomed(t *testing.T, proxy *faultnet.Proxy, offerDeflate bool) *raw {
	t.Helper()
	opts := &websocket.DialOptions{}
	if offerDeflate {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+proxy.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	r := &raw{t, ws}
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	return r
}

// slowSeries is n samples 20 ms apart of a slowly moving series, as
// metrics are: ~22 bytes a sample as msgpack, 3–4x less deflated.
func slowSeries(n int) *wire.Points {
	pts := &wire.Points{TS: make([]int64, n), Cols: []wire.Column{{Name: "queue_depth", Vals: make([]float64, n)}}}
	for i := range pts.TS {
		pts.TS[i] = 1_790_000_000_000 + int64(i)*20
		pts.Cols[0].Vals[i] = 40 + float64(i%50)/10
	}
	return pts
}

// TestStuckClientsDoNotHoldUpCompression: clients that stopped reading,
// with large compressed snapshots stuck in their sockets, hold no deflate
// slot: a new client's snapshot takes a free slot and is sent while their
// writes are still blocked, not after their writes time out.
// The stuck writes never time out here, so the test waits for events (all
// of them blocked, the new snapshot read), never on the clock: a loaded
// machine only makes it slower.
func TestStuckClientsDoNotHoldUpCompression(t *testing.T) {
	// Stuck writes never time out during the test: a slot they held would
	// keep the new client's snapshot from being compressed, or from coming
	// at all. Nor is a socket closed for silence (two ping intervals)
	// while the new client waits for its snapshot.
	f := start(t, Config{WriteTimeout: time.Hour, PingInterval: time.Minute})
	small, blocked := smallSendBuffers(t, f.gate)
	// 1,000 samples of 20 noisy series, ~180 KB: it deflates poorly, so
	// each compressed snapshot is far more than a stuck socket takes.
	rng := rand.New(rand.NewPCG(1, 2))
	pts := &wire.Points{TS: make([]int64, 1000)}
	for i := range pts.TS {
		pts.TS[i] = 1_790_000_000_000 + int64(i)*20
	}
	for c := range 20 {
		col := wire.Column{Name: fmt.Sprintf("noise%d", c), Vals: make([]float64, len(pts.TS))}
		for i := range col.Vals {
			col.Vals[i] = rng.Float64()
		}
		pts.Cols = append(pts.Cols, col)
	}
	if err := f.store.Append(context.Background(), "demo", "noise", []wire.Event{{Points: pts}}); err != nil {
		t.Fatal(err)
	}
	const stuck = maxDeflates + 4
	for range stuck {
		r := stuckClient(t, small)
		r.send(wire.Hello{})
		for range 3 { // each sub queues another snapshot; none is read
			r.send(wire.Sub{Stream: "noise"})
		}
	}
	// At least as many stuck writers as there are deflate slots have
	// compressed a snapshot and are blocked writing it to a socket nobody
	// reads; at most stuck-maxDeflates may still be compressing, so if
	// the blocked ones hold no slot, most slots are free.
	poll.Until(t, 2*time.Minute, func() error {
		if n := blocked(); n < maxDeflates {
			return fmt.Errorf("%d large writes blocked, want ≥ %d", n, maxDeflates)
		}
		return nil
	})
	busy := f.reg.Lookup("telltale_ws_deflate_busy_total")
	busyBefore := busy.Load()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, small, &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	fresh := &raw{t, ws}
	fresh.send(wire.Hello{})
	fresh.expect(wire.TypeWelcome)
	began := time.Now()
	fresh.send(wire.Sub{Stream: "noise"})
	// Its snapshot comes whatever the load: behind a held slot it would
	// never come, so the read may wait long.
	rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
	defer rcancel()
	var snap wire.Snapshot
	for snap.Stream == "" {
		_, b, err := ws.Read(rctx)
		if err != nil {
			t.Fatalf("waiting for the new client's snapshot behind %d stuck clients: %v", stuck, err)
		}
		fr, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		switch fr := fr.(type) {
		case wire.Snapshot:
			snap = fr
		case wire.Ping:
			fresh.send(wire.Pong{Time: fr.Time})
		default:
			t.Fatalf("got %T %+v, want a snapshot", fr, fr)
		}
	}
	took := time.Since(began)
	if len(snap.State.Points.Cols) != len(pts.Cols) {
		t.Fatalf("snapshot with %d series, want %d", len(snap.State.Points.Cols), len(pts.Cols))
	}
	// It took a free slot (compressed, not sent plain for want of one)...
	if n := busy.Load() - busyBefore; n != 0 {
		t.Fatalf("%d frames sent uncompressed for want of a deflate slot behind %d stuck clients: want the new snapshot compressed", n, stuck)
	}
	// ...and came while the stuck writes were still blocked.
	if n := blocked(); n < maxDeflates || f.reg.Lookup("telltale_ws_slow_closes_total").Load() != 0 {
		t.Fatalf("%d stuck writes still blocked when the new snapshot came: want ≥ %d (it waited for none)", n, maxDeflates)
	}
	t.Logf("a new client's snapshot behind %d stuck clients: %v", stuck, took.Round(time.Millisecond))
	if timing.Over(t, took, 4*time.Second) {
		t.Fatalf("a new client's snapshot took %v behind %d stuck clients: want it at once", took, stuck)
	}
}

// smallSendBuffers serves g on another address whose accepted sockets send
// through a 4 KB buffer, so that a client that does not read blocks the
// server's writes after a few KB. It returns the ws:// URL and how many
// writes of over 32 KB are in progress on its connections.
func smallSendBuffers(t *testing.T, g *Gateway) (string, func() int32) {
	t.Helper()
	var inFlight atomic.Int32
	return serveSmallSend(t, g, &inFlight), inFlight.Load
}

// serveSmallSend serves g on another address whose accepted sockets send
// through a 4 KB buffer. With inFlight, connections count their large
// writes in progress, and are no longer plain sockets to the gateway (it
// writes them on their slow path); without, they are.
func serveSmallSend(t *testing.T, g *Gateway, inFlight *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(g)
	srv.Listener = smallSendListener{srv.Listener, inFlight}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

type smallSendListener struct {
	net.Listener
	inFlight *atomic.Int32
}

func (l smallSendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	if l.inFlight == nil {
		return c, nil
	}
	return watchedConn{c, l.inFlight}, nil
}

// watchedConn counts its large writes while they are in progress.
type watchedConn struct {
	net.Conn
	inFlight *atomic.Int32
}

func (c watchedConn) Write(p []byte) (int, error) {
	if len(p) > 32<<10 {
		c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
	}
	return c.Conn.Write(p)
}

// stuckClient dials with deflate offered and a 4 KB socket receive buffer,
// and is never read: what the server sends it stays in the server's socket.
func stuckClient(t *testing.T, url string) *raw {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, CompressionMode: websocket.CompressionNoContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &raw{t, ws}
}

package wsgate

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// connGoroutines counts the goroutines running a connection's code.
func connGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "wsgate.(*conn).") {
			n++
		}
	}
	return n
}

// TestIdleConnectionsHoldNoGoroutine: after the handshake an idle
// connection waits in the poller with no goroutine of its own, and its next
// frames are still read and answered.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	f := start(t, Config{})
	f.publish(t, "orders", 1)
	var rs []*raw
	for range 20 {
		rs = append(rs, subscribed(t, f.url, "orders"))
	}
	poll.Until(t, 5*time.Second, func() error {
		if n := connGoroutines(); n != 0 {
			return fmt.Errorf("%d goroutines run connection code for 20 idle connections", n)
		}
		return nil
	})
	// Each connection's next frames: a sub answered with a snapshot, then
	// a live event.
	for _, r := range rs {
		r.send(wire.Sub{Stream: "orders"})
	}
	for _, r := range rs {
		if s := r.expect(wire.TypeSnapshot).(wire.Snapshot); s.Seq != 1 {
			t.Fatalf("snapshot at seq %d, want 1", s.Seq)
		}
	}
	f.publish(t, "orders", 1)
	for _, r := range rs {
		if b := r.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 1 || b.Events[0].Seq != 2 {
			t.Fatalf("got %+v, want seq 2", b)
		}
	}
	if n := f.reg.Lookup("telltale_ws_connections").Load(); n != 20 {
		t.Fatalf("%d connections open, want 20", n)
	}
}

// TestIdlePeerThatVanishesIsForgotten: a client whose socket goes away while
// its connection waits in the poller is torn down: no connection, no
// subscriber left.
func TestIdlePeerThatVanishesIsForgotten(t *testing.T) {
	f := start(t, Config{})
	f.publish(t, "orders", 1)
	r := subscribed(t, f.url, "orders")
	poll.Until(t, 5*time.Second, func() error {
		if n := connGoroutines(); n != 0 {
			return fmt.Errorf("%d goroutines run connection code", n)
		}
		return nil
	})
	r.ws.CloseNow() // no close frame: the socket just ends
	poll.Until(t, 5*time.Second, func() error {
		f.gate.mu.Lock()
		n := len(f.gate.conns)
		f.gate.mu.Unlock()
		if n != 0 || f.reg.Lookup("telltale_ws_connections").Load() != 0 {
			return fmt.Errorf("%d connections still known after the peer went", n)
		}
		return nil
	})
	f.publish(t, "orders", 1) // nobody to deliver to, nothing to trip over
}

// TestWebSocketOverTLS: a connection without a plain socket (TLS) reads on
// a goroutine of its own and writes through its slow path, with the same
// frames and order.
func TestWebSocketOverTLS(t *testing.T) {
	f := startOn(t, Config{}, httptest.NewTLSServer)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, f.url, &websocket.DialOptions{HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	r := &raw{t, ws}
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "orders"})
	r.expect(wire.TypeSnapshot)
	for i := range 50 {
		if err := f.store.Append(context.Background(), "demo", "orders", []wire.Event{{Values: map[string]float64{"n": float64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint64(0); seq < 50; {
		for _, ev := range r.expect(wire.TypeBatch).(wire.Batch).Events {
			if ev.Seq != seq+1 {
				t.Fatalf("got seq %d after %d", ev.Seq, seq)
			}
			seq = ev.Seq
		}
	}
	if n := f.reg.Lookup("telltale_ws_slow_writes_total").Load(); n == 0 {
		t.Fatal("no write went through the slow path on a TLS connection")
	}
}

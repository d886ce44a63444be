package wsgate

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/wire"
)

func TestSpreadWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		max  time.Duration
		want time.Duration
	}{
		{"none", 0, 2 * time.Second, 0},
		{"a few", 50, 2 * time.Second, 50 * time.Millisecond},
		{"at the cap", 2000, 2 * time.Second, 2 * time.Second},
		{"capped", 10_000, 2 * time.Second, 2 * time.Second},
		{"spread off", 10_000, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SpreadWindow(tc.n, tc.max); got != tc.want {
				t.Fatalf("SpreadWindow(%d, %v) = %v, want %v", tc.n, tc.max, got, tc.want)
			}
		})
	}
}

// TestDrainRefusesNewUpgrades: a draining gateway answers a new upgrade 503
// (a balancer retries it on another node) and counts it, while the
// connections it has go on being served.
func TestDrainRefusesNewUpgrades(t *testing.T) {
	f := start(t, Config{})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	f.gate.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, f.url, nil)
	if err == nil {
		ws.CloseNow()
		t.Fatal("a draining gateway accepted a new upgrade, want 503")
	}
	if res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining: %v (%v), want 503", res, err)
	}
	if got := f.gate.m.drainRefused.Load(); got != 1 {
		t.Fatalf("telltale_ws_drain_refused_total %d, want 1", got)
	}
	r.send(wire.Sub{Stream: "metrics"})
	r.expect(wire.TypeSnapshot)
	if n := f.gate.Conns(); n != 1 {
		t.Fatalf("Conns %d while draining, want 1 (the open one)", n)
	}
}

// TestCloseSpreadPacesCloses: CloseSpread closes every connection as
// Shutdown does (a restarting error frame, then 4010), spread over the
// window: the k-th close a client sees cannot come before k/(n-1) of the
// window (that would be closes bunched together), and the first comes well
// before the window ends (not all at its end, as Shutdown after a delay
// would).
func TestCloseSpreadPacesCloses(t *testing.T) {
	const (
		n      = 20
		window = time.Second
	)
	f := start(t, Config{})
	peers := make([]*raw, n)
	for i := range peers {
		peers[i] = dial(t, f.url)
		peers[i].send(wire.Hello{})
		peers[i].expect(wire.TypeWelcome)
	}
	type seen struct {
		at   time.Time
		code websocket.StatusCode
		said bool // a restarting error frame before the close
	}
	got := make(chan seen, n)
	for _, r := range peers {
		go func() {
			var s seen
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, b, err := r.ws.Read(ctx)
				cancel()
				if err != nil {
					s.at, s.code = time.Now(), websocket.CloseStatus(err)
					got <- s
					return
				}
				if fr, err := wire.Decode(b); err == nil {
					if e, ok := fr.(wire.Error); ok && e.Code == wire.CodeRestarting {
						s.said = true
					}
				}
			}
		}()
	}
	start := time.Now()
	if closed := f.gate.CloseSpread(context.Background(), window); closed != n {
		t.Fatalf("CloseSpread closed %d, want %d", closed, n)
	}
	returned := time.Since(start)
	var at []time.Duration
	for range n {
		s := <-got
		if s.code != wire.CloseRestart || !s.said {
			t.Fatalf("a client saw close %v (restarting frame first: %v), want %d after a restarting frame", s.code, s.said, wire.CloseRestart)
		}
		at = append(at, s.at.Sub(start))
	}
	slices.Sort(at)
	t.Logf("closes seen at %v; CloseSpread returned after %v", at, returned)
	for k, d := range at {
		if due := window * time.Duration(k) / (n - 1); d < due {
			t.Fatalf("close %d of %d seen %v after the start, before it was due (%v): closes bunched", k+1, n, d, due)
		}
	}
	if returned < window {
		t.Fatalf("CloseSpread returned after %v, before its %v window", returned, window)
	}
	if at[0] > window/2 {
		t.Fatalf("first close seen %v after the start, want it early in the %v window", at[0], window)
	}
}

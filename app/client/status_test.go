//go:build !js

package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/wire"
)

// TestCatchingUpShowsProgress: after a reconnect, the resume ack says where
// the replay ends; until the client holds it, the status is catching up
// with the events applied of those missed, then live.
func TestCatchingUpShowsProgress(t *testing.T) {
	var conns atomic.Int32
	rest := make(chan struct{})
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		if _, err := recv(ctx, ws); err != nil {
			return
		}
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		if conns.Add(1) == 1 {
			_, _ = recv(ctx, ws) // the sub
			_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 5})
			ws.Close(websocket.StatusGoingAway, "restart")
			return
		}
		_ = send(ctx, ws, wire.Batch{Stream: "m", Events: []wire.Event{}, Head: 15})
		_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(6, 7, 8, 9)})
		select {
		case <-rest:
		case <-ctx.Done():
			return
		}
		_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(10, 11, 12, 13, 14, 15)})
		<-ctx.Done()
	})
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if i := infoOf(c); i.Status != CatchingUp || i.CatchUp != (Progress{Done: 4, Total: 10}) {
			return fmt.Errorf("status %v, progress %+v; want catching up 4 of 10", i.Status, i.CatchUp)
		}
		return nil
	})
	close(rest)
	poll.Until(t, 5*time.Second, func() error {
		if i := infoOf(c); i.Status != Live || i.CatchUp != (Progress{}) {
			return fmt.Errorf("status %v, progress %+v; want live, nothing to catch up", i.Status, i.CatchUp)
		}
		return nil
	})
}

// TestLagDegradesWhateverTheClocks: events that left their producer 5 s
// before they arrive make the status degraded, and timely ones bring it back
// to live, with the server's clock ahead, behind or in step with the
// client's: the offset is measured, not assumed.
func TestLagDegradesWhateverTheClocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		skew time.Duration // server clock minus client clock
	}{
		{"same clock", 0},
		{"server an hour ahead", time.Hour},
		{"server 40 minutes behind", -40 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			late := make(chan time.Duration)
			url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
				serverNow := func() int64 { return time.Now().Add(tc.skew).UnixNano() }
				if _, err := recv(ctx, ws); err != nil {
					return
				}
				_ = send(ctx, ws, wire.Welcome{ServerTime: serverNow(), Limits: wire.Limits{PingIntervalMs: 10000}})
				_, _ = recv(ctx, ws)
				_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 0})
				for seq := uint64(1); ; seq++ {
					var by time.Duration
					select {
					case by = <-late:
					case <-ctx.Done():
						return
					}
					now := serverNow()
					ev := wire.Event{Stream: "m", Epoch: 1, Seq: seq, Created: now - int64(by)}
					_ = send(ctx, ws, wire.Batch{Stream: "m", Sent: now, Events: []wire.Event{ev}})
				}
			})
			c := New(Config{URL: url, Streams: []string{"m"}, DegradedLag: 3 * time.Second})
			runClient(t, c)
			for _, step := range []struct {
				by   time.Duration
				want Status
			}{{0, Live}, {5 * time.Second, Degraded}, {2 * time.Second, Degraded}, {100 * time.Millisecond, Live}} {
				poll.Until(t, 5*time.Second, func() error {
					if s := infoOf(c).Status; s != Live && s != Degraded {
						return fmt.Errorf("status %v", s)
					}
					return nil
				})
				late <- step.by
				poll.Until(t, 5*time.Second, func() error {
					i := infoOf(c)
					if i.Status != step.want || i.Lag < step.by || i.Lag > step.by+2*time.Second {
						return fmt.Errorf("%v late: status %v, lag %v; want %v", step.by, i.Status, i.Lag, step.want)
					}
					return nil
				})
			}
		})
	}
}

// TestKickReconnectsAtOnce: a client waiting out a long backoff tries again
// as soon as it is kicked (the page's online, visible and pageshow events).
func TestKickReconnectsAtOnce(t *testing.T) {
	var conns atomic.Int32
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		conns.Add(1)
		_, _ = recv(ctx, ws)
		ws.Close(websocket.StatusGoingAway, "bye")
	})
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if i := infoOf(c); conns.Load() != 1 || i.RetryAt.IsZero() {
			return fmt.Errorf("%d connections, retry at %v; want 1 and a retry due", conns.Load(), i.RetryAt)
		}
		return nil
	})
	retryAt := infoOf(c).RetryAt
	start := time.Now()
	c.Kick()
	poll.Until(t, 5*time.Second, func() error {
		if n := conns.Load(); n != 2 {
			return fmt.Errorf("%d connections, want 2", n)
		}
		return nil
	})
	if !time.Now().Before(retryAt) {
		t.Fatalf("the backoff (due %v) was over anyway: the test proves nothing", retryAt)
	}
	t.Logf("reconnected %v after the kick; the backoff would have waited %v", time.Since(start).Round(time.Millisecond), retryAt.Sub(start).Round(time.Second))
}

// TestKickDropsASilentSocket: a kick on a connection that has heard nothing
// for more than a ping interval reconnects now instead of waiting for the
// second interval to pass.
func TestKickDropsASilentSocket(t *testing.T) {
	var conns atomic.Int32
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		conns.Add(1)
		_, _ = recv(ctx, ws)
		// An interval of 1 s: the watchdog alone would wait 2 s.
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 1000}})
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1})
		<-ctx.Done() // then silence
	})
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if s := infoOf(c).Status; s != Live {
			return fmt.Errorf("status %v", s)
		}
		return nil
	})
	live := time.Now()
	// Past one interval of silence, a kick drops the socket at once and
	// (the backoff being an hour) the same kick's retry follows.
	poll.Until(t, 5*time.Second, func() error {
		c.Kick()
		if n := conns.Load(); n < 2 {
			return fmt.Errorf("%d connections", n)
		}
		return nil
	})
	if d := time.Since(live); timing.Over(t, d, 1900*time.Millisecond) {
		t.Fatalf("reconnected %v after the last frame: the watchdog's time, not the kick's", d)
	}
	if e := infoOf(c).LastError; !strings.Contains(e, "woken") {
		t.Fatalf("last error %q, want the kick's reason", e)
	}
}

// TestRestartCloseIsAHandover: a server that closes a live session with
// 4010 (restarting: a node drained out of its load balancer), or says so
// in a restarting error frame (what a browser sees), hands the client over
// to the next connection: its status goes from live to
// catching up, never offline or connecting, until the next session has
// resumed its streams; a connection that then fails is offline as usual.
func TestRestartCloseIsAHandover(t *testing.T) {
	var conns atomic.Int32
	resume := make(chan struct{})
	live := make(chan struct{}, 2) // the client reported live (each connection's once)
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		if _, err := recv(ctx, ws); err != nil {
			return
		}
		n := conns.Add(1)
		if n >= 3 {
			ws.Close(websocket.StatusInternalError, "not welcomed")
			return
		}
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		if n == 1 {
			_, _ = recv(ctx, ws) // the sub (later, the cursor rides in the hello)
			_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 5})
			select { // the client is live before the node restarts
			case <-live:
			case <-ctx.Done():
				return
			}
			ws.Close(wire.CloseRestart, "server restarting")
			return
		}
		select { // the second node resumes once the test has looked
		case <-resume:
		case <-ctx.Done():
			return
		}
		_ = send(ctx, ws, wire.Batch{Stream: "m", Events: []wire.Event{}, Head: 5})
		select { // live again on this connection before it goes
		case <-live:
		case <-ctx.Done():
			return
		}
		// As a browser sees it: the restarting error frame, and a close
		// whose code does not reach Go in wasm.
		_ = send(ctx, ws, wire.Error{Code: wire.CodeRestarting, Message: "server restarting"})
		ws.Close(websocket.StatusGoingAway, "")
	})
	var (
		mu   sync.Mutex
		seen []Status
		c    *Client
	)
	c = New(Config{URL: url, Streams: []string{"m"}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnChange: func() {
			st := infoOf(c).Status
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
				if st == Live {
					select {
					case live <- struct{}{}:
					default:
					}
				}
			}
			mu.Unlock()
		}})
	runClient(t, c)
	statuses := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(seen)
	}
	poll.Until(t, 5*time.Second, func() error {
		if conns.Load() < 2 || infoOf(c).Status != CatchingUp {
			return fmt.Errorf("connections %d, statuses %s; want the second, catching up", conns.Load(), statuses())
		}
		return nil
	})
	close(resume)
	// Live again on the second connection, then that one closes 4010 too
	// and the third refuses the hello: offline.
	const want = "[connecting live catching up live catching up offline"
	poll.Until(t, 5*time.Second, func() error {
		if got := statuses(); !strings.Contains(got, "offline") {
			return fmt.Errorf("statuses %s; want them to end offline once a connection fails", got)
		}
		return nil
	})
	if got := statuses(); !strings.HasPrefix(got, want) {
		t.Fatalf("statuses %s; want %s…: live and catching up only, until a connection failed", got, want)
	}
}

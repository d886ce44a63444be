//go:build !js

package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestSilentSocketDegradesBeforeItIsDeclaredDead: a connection that hears no
// frame at all (no event, no ping) for 1.2 ping intervals says so at once,
// degraded with the time of its last frame, long before the watchdog
// declares it dead at two intervals; the next frame makes it live again on
// the same socket.
func TestSilentSocketDegradesBeforeItIsDeclaredDead(t *testing.T) {
	const interval = 3 * time.Second
	var conns atomic.Int32
	speak := make(chan struct{})
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		conns.Add(1)
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: interval.Milliseconds()}})
		_, _ = recv(ctx, ws) // the sub
		_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 1})
		select { // silence, until the test lets it speak
		case <-speak:
		case <-ctx.Done():
			return
		}
		_ = send(ctx, ws, wire.Ping{Time: time.Now().UnixNano()})
		<-ctx.Done()
	})
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if s := infoOf(c).Status; s != Live {
			return fmt.Errorf("status %v, want live", s)
		}
		return nil
	})
	lastFrame := infoOf(c).LastFrameAt
	if lastFrame.IsZero() || timing.Over(t, time.Since(lastFrame), time.Second) {
		t.Fatalf("last frame at %v, want just now", lastFrame)
	}
	poll.Until(t, 5*time.Second, func() error {
		if i := infoOf(c); i.Status != Degraded {
			return fmt.Errorf("status %v after %v of silence, want degraded", i.Status, time.Since(lastFrame).Round(time.Millisecond))
		}
		return nil
	})
	if d := time.Since(lastFrame); d < interval || timing.Over(t, d, 2*interval-time.Second) {
		t.Fatalf("degraded after %v of silence: want after one ping interval (%v) and well before two", d, interval)
	}
	if i := infoOf(c); !i.LastFrameAt.Equal(lastFrame) {
		t.Fatalf("last frame at %v, want %v: nothing came since", i.LastFrameAt, lastFrame)
	}
	close(speak)
	poll.Until(t, 3*time.Second, func() error {
		if i := infoOf(c); i.Status != Live || !i.LastFrameAt.After(lastFrame) {
			return fmt.Errorf("status %v, last frame %v: want live again after the ping", i.Status, i.LastFrameAt)
		}
		return nil
	})
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections: the socket was not dead, it must be kept", n)
	}
}

// TestPingsKeepAQuietSocketLive: a connection with no events but the
// server's pings on time never turns degraded.
func TestPingsKeepAQuietSocketLive(t *testing.T) {
	const interval = 200 * time.Millisecond
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: interval.Milliseconds()}})
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 1})
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if send(ctx, ws, wire.Ping{Time: time.Now().UnixNano()}) != nil {
					return
				}
			}
		}
	})
	var mu sync.Mutex
	seen := map[Status]int{}
	var c *Client
	c = New(Config{URL: url, Streams: []string{"m"}, OnChange: func() {
		c.Read(func(_ map[string]*livestate.Stream, i Info) {
			mu.Lock()
			seen[i.Status]++
			mu.Unlock()
		})
	}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if s := infoOf(c).Status; s != Live {
			return fmt.Errorf("status %v, want live", s)
		}
		return nil
	})
	start := time.Now()
	poll.Until(t, 5*time.Second, func() error {
		if d := time.Since(start); d < 10*interval {
			return fmt.Errorf("only %v of pings so far", d)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if seen[Degraded] > 0 || seen[Offline] > 0 {
		t.Fatalf("statuses seen %v: a socket pinged on time must stay live", seen)
	}
}

// TestBrowserOfflineIsOfflineAtOnce: when the browser says the device has
// no network, the status is offline at once, even though the socket has not
// noticed (Chromium's offline emulation and a phone in a tunnel both leave
// it open); when it says the network is back, the status follows the
// connection again, and the client is kicked.
func TestBrowserOfflineIsOfflineAtOnce(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10_000}})
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Snapshot{Stream: "m", Epoch: 1, Seq: 1})
		<-ctx.Done()
	})
	c := New(Config{URL: url, Streams: []string{"m"}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if s := infoOf(c).Status; s != Live {
			return fmt.Errorf("status %v, want live", s)
		}
		return nil
	})
	c.SetOnline(false)
	if i := infoOf(c); i.Status != Offline || !i.NetworkDown {
		t.Fatalf("status %v, network down %v: want offline at once", i.Status, i.NetworkDown)
	}
	c.SetOnline(true)
	if i := infoOf(c); i.Status != Live || i.NetworkDown {
		t.Fatalf("status %v, network down %v: want live again", i.Status, i.NetworkDown)
	}
}

//go:build !js

// Node has no WebSocket or listening sockets: these run natively.

package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
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

// fakeServer scripts the server side of each connection. The script's
// context ends at cleanup, which waits for every script to return (a hijacked
// connection's request context never ends by itself).
func fakeServer(t *testing.T, script func(ctx context.Context, ws *websocket.Conn)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		script(ctx, ws)
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func send(ctx context.Context, ws *websocket.Conn, f wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	return ws.Write(ctx, websocket.MessageBinary, b)
}

func recv(ctx context.Context, ws *websocket.Conn) (wire.Frame, error) {
	_, b, err := ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

func evs(seqs ...uint64) []wire.Event {
	out := make([]wire.Event, len(seqs))
	for i, s := range seqs {
		out[i] = wire.Event{Stream: "m", Epoch: 1, Seq: s, Values: map[string]float64{"n": float64(s)}}
	}
	return out
}

func runClient(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

// TestGapTriggersResubscribe: a batch that skips a seq is never applied; the
// client asks for a fresh snapshot instead. Events received twice are
// ignored and counted.
func TestGapTriggersResubscribe(t *testing.T) {
	var subs atomic.Int32
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		if f, err := recv(ctx, ws); err != nil || f.FrameType() != wire.TypeHello {
			t.Errorf("first frame %v %v, want hello", f, err)
			return
		}
		_ = send(ctx, ws, wire.Welcome{Session: "s", Limits: wire.Limits{PingIntervalMs: 10000}})
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			sub, ok := f.(wire.Sub)
			if !ok {
				continue
			}
			switch subs.Add(1) {
			case 1:
				_ = send(ctx, ws, wire.Snapshot{Stream: sub.Stream, Epoch: 1, Seq: 5})
				_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(6, 7)})
				_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(6, 7)})   // duplicates: ignored
				_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(9, 10)})  // gap: 8 is missing
				_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(11, 12)}) // in flight: no second resubscribe
			case 2:
				_ = send(ctx, ws, wire.Snapshot{Stream: sub.Stream, Epoch: 1, Seq: 10, State: wire.State{Values: map[string]float64{"n": 10}}})
			}
		}
	})
	c := New(Config{URL: url, Streams: []string{"m"}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		var err error
		c.Read(func(s map[string]*livestate.Stream, info Info) {
			if m := s["m"]; m.Seq != 10 || m.State.Values["n"] != 10 || info.Status != Live {
				err = fmt.Errorf("at seq %d n=%v status %v, want seq 10 from the second snapshot, live", m.Seq, m.State.Values["n"], info.Status)
			}
		})
		return err
	})
	if n := subs.Load(); n != 2 {
		t.Fatalf("got %d subs, want 2 (the first, and one after the gap)", n)
	}
	c.Read(func(_ map[string]*livestate.Stream, info Info) {
		if info.Duplicates != 2 {
			t.Fatalf("%d duplicates counted, want the 2 sent twice", info.Duplicates)
		}
	})
}

// TestReconnectsWithBackoff: a server that drops every connection sees the
// client come back, with waits that stay within the backoff ceiling.
func TestReconnectsWithBackoff(t *testing.T) {
	var conns atomic.Int32
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		conns.Add(1)
		_, _ = recv(ctx, ws)
		ws.Close(websocket.StatusGoingAway, "bye")
	})
	start := time.Now()
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		if n := conns.Load(); n < 5 {
			return fmt.Errorf("%d connections so far", n)
		}
		return nil
	})
	// Five attempts with waits capped at 40ms cannot take seconds.
	if d := time.Since(start); timing.Over(t, d, 3*time.Second) {
		t.Fatalf("5 reconnects took %v", d)
	}
	var info Info
	c.Read(func(_ map[string]*livestate.Stream, i Info) { info = i })
	if info.Reconnects < 4 || info.LastError == "" {
		t.Fatalf("got %+v, want reconnects counted and the last error kept", info)
	}
}

// TestSilentServerIsDetected: no frame for two ping intervals means the
// socket is dead even without a close.
func TestSilentServerIsDetected(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 50}})
		<-ctx.Done() // then silence
	})
	c := New(Config{URL: url, Streams: []string{"m"}, MinBackoff: time.Hour})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		var err error
		c.Read(func(_ map[string]*livestate.Stream, i Info) {
			if i.Status != Offline || !strings.Contains(i.LastError, "presumed dead") {
				err = fmt.Errorf("status %v, last error %q", i.Status, i.LastError)
			}
		})
		return err
	})
}

// TestRefusedStreamDoesNotBlockLive: one stream the server refuses must not
// keep the connection at "connecting" while the others flow.
func TestRefusedStreamDoesNotBlockLive(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		_, _ = recv(ctx, ws)
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			if sub, ok := f.(wire.Sub); ok {
				if sub.Stream == "forbidden" {
					_ = send(ctx, ws, wire.Error{Code: wire.CodeBadStream, Message: "no", Stream: sub.Stream})
					continue
				}
				_ = send(ctx, ws, wire.Snapshot{Stream: sub.Stream, Epoch: 1, Seq: 1})
			}
		}
	})
	c := New(Config{URL: url, Streams: []string{"m", "forbidden"}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		var err error
		c.Read(func(_ map[string]*livestate.Stream, i Info) {
			if i.Status != Live || !strings.Contains(i.LastError, "bad_stream") {
				err = fmt.Errorf("status %v, last error %q; want live with the refusal recorded", i.Status, i.LastError)
			}
		})
		return err
	})
}

// TestAfterSnapshotRunsBetweenSnapshots: the client calls AfterSnapshot once
// per snapshot, with that snapshot applied and the next one not yet, so the
// page can draw the first stream before the client decodes the others.
func TestAfterSnapshotRunsBetweenSnapshots(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		if _, err := recv(ctx, ws); err != nil {
			return
		}
		_ = send(ctx, ws, wire.Welcome{Session: "s", Limits: wire.Limits{PingIntervalMs: 10000}})
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			if sub, ok := f.(wire.Sub); ok {
				_ = send(ctx, ws, wire.Snapshot{Stream: sub.Stream, Epoch: 1, Seq: 1})
			}
		}
	})
	var (
		mu   sync.Mutex
		seen [][]string // the streams held at each call
	)
	var c *Client
	c = New(Config{URL: url, Streams: []string{"a", "b", "c"}, AfterSnapshot: func(context.Context) {
		var held []string
		c.Read(func(s map[string]*livestate.Stream, _ Info) {
			for _, name := range []string{"a", "b", "c"} {
				if s[name] != nil && s[name].Epoch != 0 {
					held = append(held, name)
				}
			}
		})
		mu.Lock()
		seen = append(seen, held)
		mu.Unlock()
	}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < 3 {
			return fmt.Errorf("AfterSnapshot called %d times, want 3", len(seen))
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for i, held := range seen {
		if len(held) != i+1 {
			t.Fatalf("call %d saw streams %v applied, want %d: one more snapshot per call", i+1, held, i+1)
		}
	}
}

//go:build !js

package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestSetStreamsKeepsDropsAndAdds: on the open connection, a stream still
// named keeps its state (no second snapshot), a stream no longer named is
// unsubscribed and dropped, a new one is subscribed; a later reconnect
// names only what is followed now.
func TestSetStreamsKeepsDropsAndAdds(t *testing.T) {
	var mu sync.Mutex
	var got []string // "hello a,b", "sub a", "unsub a", ...
	note := func(s string) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		f, err := recv(ctx, ws)
		if err != nil {
			return
		}
		note(fmt.Sprintf("hello %d cursors", len(f.(wire.Hello).Cursors)))
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			switch f := f.(type) {
			case wire.Sub:
				note("sub " + f.Stream)
				_ = send(ctx, ws, wire.Snapshot{Stream: f.Stream, Epoch: 1, Seq: 5, State: wire.State{Values: map[string]float64{"n": 5}}})
			case wire.Unsub:
				note("unsub " + f.Stream)
			}
		}
	})
	c := New(Config{URL: url, Streams: []string{"a", "b"}})
	runClient(t, c)
	state := func(want func(s map[string]*livestate.Stream, i Info) error) {
		t.Helper()
		poll.Until(t, 5*time.Second, func() error {
			var err error
			c.Read(func(s map[string]*livestate.Stream, i Info) { err = want(s, i) })
			return err
		})
	}
	state(func(s map[string]*livestate.Stream, i Info) error {
		if i.Status != Live || i.Snapshots != 2 {
			return fmt.Errorf("status %v, %d snapshots; want live, 2", i.Status, i.Snapshots)
		}
		return nil
	})
	c.SetStreams([]string{"b", "c", "b"})
	state(func(s map[string]*livestate.Stream, i Info) error {
		_, hasA := s["a"]
		if hasA || s["c"] == nil || s["c"].Epoch == 0 || s["b"].Seq != 5 || i.Snapshots != 3 || len(s) != 2 {
			return fmt.Errorf("streams %v, %d snapshots; want b kept at seq 5, c snapshotted, a dropped, 3 snapshots", keys(s), i.Snapshots)
		}
		return nil
	})
	if names := c.followed(); !slices.Equal(names, []string{"b", "c"}) {
		t.Fatalf("followed %v, want [b c]", names)
	}
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"hello 0 cursors", "sub a", "sub b", "unsub a", "sub c"}; !slices.Equal(got, want) {
			return fmt.Errorf("server saw %q, want %q", got, want)
		}
		return nil
	})
}

func keys(m map[string]*livestate.Stream) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSetStreamsWhilePolling: over the HTTP fallback, a stream SetStreams
// adds is polled (snapshot, then its events), a dropped one's poll ends,
// and the stream kept continues from its cursor without a second snapshot.
func TestSetStreamsWhilePolling(t *testing.T) {
	rs := startReal(t)
	rs.refuse.Store(true)
	rs.publish(t, 3)
	appendTo := func(stream string, n int) {
		t.Helper()
		for range n {
			ev := wire.Event{Created: time.Now().UnixNano(), Values: map[string]float64{"n": 1}}
			if err := rs.store.Append(context.Background(), "acme", stream, []wire.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendTo("fleet", 2)
	appendTo("metrics", 4)
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders", "fleet"}, Get: NetHTTPGet,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Status != Degraded || i.Transport != TransportPoll || i.Snapshots != 2 {
			return fmt.Errorf("status %v over %q, %d snapshots; want degraded over polls, 2", i.Status, i.Transport, i.Snapshots)
		}
		return nil
	})
	c.SetStreams([]string{"orders", "metrics"})
	rs.publish(t, 2)
	appendTo("metrics", 1)
	poll.Until(t, 10*time.Second, func() error {
		var err error
		c.Read(func(s map[string]*livestate.Stream, i Info) {
			if s["orders"].Seq != 5 || s["metrics"] == nil || s["metrics"].Seq != 5 || s["fleet"] != nil || i.Snapshots != 3 {
				err = fmt.Errorf("streams %v, %d snapshots; want orders at 5 (kept), metrics at 5, no fleet, 3 snapshots", keys(s), i.Snapshots)
			}
		})
		return err
	})
}

// TestSetStreamsBeforeWelcome: a stream the hello resumed (a stored
// cursor) and SetStreams dropped before the welcome is unsubscribed at the
// welcome; one added meanwhile is subscribed then.
func TestSetStreamsBeforeWelcome(t *testing.T) {
	var mu sync.Mutex
	var got []string
	helloSeen, setDone := make(chan struct{}), make(chan struct{})
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		f, err := recv(ctx, ws)
		if err != nil {
			return
		}
		for _, cur := range f.(wire.Hello).Cursors {
			mu.Lock()
			got = append(got, "resume "+cur.Stream)
			mu.Unlock()
		}
		close(helloSeen)
		select {
		case <-setDone:
		case <-ctx.Done():
			return
		}
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			mu.Lock()
			switch f := f.(type) {
			case wire.Sub:
				got = append(got, "sub "+f.Stream)
			case wire.Unsub:
				got = append(got, "unsub "+f.Stream)
			}
			mu.Unlock()
		}
	})
	c := New(Config{URL: url, Streams: []string{"a", "b"}})
	c.Seed([]wire.Snapshot{{Stream: "a", Epoch: 1, Seq: 3}, {Stream: "b", Epoch: 1, Seq: 4}})
	runClient(t, c)
	<-helloSeen
	c.SetStreams([]string{"b", "c"})
	close(setDone)
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"resume a", "resume b", "unsub a", "sub c"}; !slices.Equal(got, want) {
			return fmt.Errorf("server saw %q, want %q", got, want)
		}
		return nil
	})
}

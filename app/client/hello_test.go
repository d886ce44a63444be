//go:build !js

package client

import (
	"context"
	"errors"
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

// TestSubsRideBehindTheHello: the streams a hello does not resume are
// subscribed right behind it, before the welcome (which would cost a round
// trip): a server that reads them before it welcomes sees them, then
// answers with their snapshots. A stream SetStreams drops before the
// welcome is unsubscribed then, and not subscribed twice.
func TestSubsRideBehindTheHello(t *testing.T) {
	var mu sync.Mutex
	var got []string
	subsSeen, setDone := make(chan struct{}), make(chan struct{})
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
		// No welcome yet: the client's subs must come anyway.
		for range 2 {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %s before the welcome", f.FrameType(), f.(wire.Sub).Stream))
			mu.Unlock()
		}
		close(subsSeen)
		select {
		case <-setDone:
		case <-ctx.Done():
			return
		}
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		_ = send(ctx, ws, wire.Snapshot{Stream: "b", Epoch: 1, Seq: 7})
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
	c := New(Config{URL: url, Streams: []string{"held", "a", "b"}})
	c.Seed([]wire.Snapshot{{Stream: "held", Epoch: 1, Seq: 3}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		select {
		case <-subsSeen:
			return nil
		default:
			return errors.New("the server has not seen two subs, and has not welcomed the client")
		}
	})
	c.SetStreams([]string{"held", "b", "c"})
	close(setDone)
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		want := []string{"resume held", "sub a before the welcome", "sub b before the welcome", "unsub a", "sub c"}
		if !slices.Equal(got, want) {
			return fmt.Errorf("server saw %q, want %q", got, want)
		}
		var seq uint64
		c.Read(func(s map[string]*livestate.Stream, _ Info) { seq = s["b"].Seq })
		if seq != 7 {
			return fmt.Errorf("b at seq %d, want 7 (its snapshot)", seq)
		}
		return nil
	})
}

// TestResyncAnswerToASubIsFollowed: a server whose queue is full answers a
// sub with a resync again (wsgate defers a snapshot that would pass its
// control bound): the client subscribes again, until the snapshot comes,
// instead of waiting for a snapshot that will never come.
func TestResyncAnswerToASubIsFollowed(t *testing.T) {
	subs := make(chan int, 10)
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		if _, err := recv(ctx, ws); err != nil { // hello
			return
		}
		if _, err := recv(ctx, ws); err != nil { // sub a, behind it
			return
		}
		_ = send(ctx, ws, wire.Welcome{Limits: wire.Limits{PingIntervalMs: 10000}})
		_ = send(ctx, ws, wire.Resync{Stream: "a", Reason: "snapshot deferred"})
		n := 0
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			if s, ok := f.(wire.Sub); ok && s.Stream == "a" {
				n++
				subs <- n
				if n == 1 {
					_ = send(ctx, ws, wire.Resync{Stream: "a", Reason: "snapshot deferred"}) // the answer to it
				} else {
					_ = send(ctx, ws, wire.Snapshot{Stream: "a", Epoch: 1, Seq: 5})
				}
			}
		}
	})
	c := New(Config{URL: url, Streams: []string{"a"}})
	runClient(t, c)
	poll.Until(t, 5*time.Second, func() error {
		var seq uint64
		c.Read(func(s map[string]*livestate.Stream, _ Info) { seq = s["a"].Seq })
		if seq != 5 {
			return fmt.Errorf("a at seq %d after %d resubscriptions, want 5 (its snapshot after two)", seq, len(subs))
		}
		return nil
	})
}

//go:build !js

package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// TestSeededClientResumes: a client seeded from stored state says hello with
// the stored cursor, sends no sub for it, and goes live on the replayed
// events alone, without a snapshot.
func TestSeededClientResumes(t *testing.T) {
	hellos := make(chan wire.Hello, 1)
	url := fakeServer(t, func(ctx context.Context, ws *websocket.Conn) {
		f, err := recv(ctx, ws)
		if err != nil {
			return
		}
		hellos <- f.(wire.Hello)
		_ = send(ctx, ws, wire.Welcome{Session: "s", Limits: wire.Limits{PingIntervalMs: 10000}})
		_ = send(ctx, ws, wire.Batch{Stream: "m", Events: evs(6, 7)})
		_ = send(ctx, ws, wire.Batch{Stream: "m"}) // the resume's acknowledgement
		for {
			f, err := recv(ctx, ws)
			if err != nil {
				return
			}
			if sub, ok := f.(wire.Sub); ok && sub.Stream == "m" {
				t.Errorf("got sub %+v, want none for m: the hello resumed it", sub)
			}
		}
	})
	c := New(Config{URL: url, Streams: []string{"m", "other"}})
	c.Seed([]wire.Snapshot{
		{Stream: "m", Epoch: 1, Seq: 5, State: wire.State{Values: map[string]float64{"n": 5}}},
		{Stream: "not-followed", Epoch: 1, Seq: 9},
	})
	c.Read(func(s map[string]*livestate.Stream, info Info) {
		if s["m"].Seq != 5 || s["m"].State.Values["n"] != 5 || len(s) != 2 || info.Snapshots != 0 {
			t.Fatalf("after Seed: m at %d (n=%v), %d streams, %d snapshots; want 5, 5, 2, 0", s["m"].Seq, s["m"].State.Values["n"], len(s), info.Snapshots)
		}
	})
	runClient(t, c)
	select {
	case h := <-hellos:
		if len(h.Cursors) != 1 || h.Cursors[0] != (wire.Cursor{Stream: "m", Epoch: 1, Seq: 5}) {
			t.Fatalf("hello cursors %+v, want only m at {1 5}", h.Cursors)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no hello")
	}
	poll.Until(t, 5*time.Second, func() error {
		var err error
		c.Read(func(s map[string]*livestate.Stream, info Info) {
			if s["m"].Seq != 7 || s["m"].State.Values["n"] != 7 || info.Resumes != 1 || info.Snapshots != 0 {
				err = fmt.Errorf("m at %d (n=%v), %d resumes, %d snapshots; want 7, 7, 1, 0", s["m"].Seq, s["m"].State.Values["n"], info.Resumes, info.Snapshots)
			}
		})
		return err
	})
}

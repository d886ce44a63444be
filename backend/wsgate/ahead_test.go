package wsgate

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestResumeAheadOfThisNode: with several nodes on one PostgreSQL, a client
// that moves from a node to one whose follower is behind holds a cursor
// ahead of this node's stream (bench/cmd/nodes found 4 to 210 of 500 such
// clients after a kill -9, each given a snapshot). With AheadWait the
// resume waits for the hub to reach the cursor and continues with exactly
// the events after it: an acknowledgement, no snapshot, no duplicate. A
// wait that runs out ends in a resync; without AheadWait (one node) such a
// cursor gets a snapshot at once, as before.
func TestResumeAheadOfThisNode(t *testing.T) {
	// The hub is fed directly, as a follower feeds it: epoch 5, seqs from 1.
	setup := func(t *testing.T, wait time.Duration) (*hub.Hub, *metrics.Registry, string) {
		reg := metrics.New()
		h := hub.New(hub.Config{Metrics: reg})
		g := New(Config{Hub: h, Metrics: reg, History: memstore.New(memstore.Config{}), AheadWait: wait})
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		return h, reg, "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	publish := func(h *hub.Hub, from, to uint64) {
		for s := from; s <= to; s++ {
			h.Publish("demo", []wire.Event{{Stream: "orders", Epoch: 5, Seq: s, Values: map[string]float64{"n": float64(s)}}})
		}
	}
	ahead := []wire.Cursor{{Stream: "orders", Epoch: 5, Seq: 15}} // the hub is at 10
	// The hello's cursors are taken after the welcome: the resume must be
	// waiting before the hub moves, or it is an ordinary replay.
	waiting := func(t *testing.T, reg *metrics.Registry) {
		poll.Until(t, 5*time.Second, func() error {
			if n := reg.Lookup("telltale_ws_resume_ahead_waits_total").Load(); n != 1 {
				return fmt.Errorf("ahead waits = %d, want 1", n)
			}
			return nil
		})
	}

	t.Run("waits for the hub", func(t *testing.T) {
		h, reg, url := setup(t, 10*time.Second)
		publish(h, 1, 10)
		r := dial(t, url)
		r.send(wire.Hello{Cursors: ahead})
		r.expect(wire.TypeWelcome)
		waiting(t, reg)
		publish(h, 11, 20) // the follower catches up, and beyond
		if b := r.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 0 {
			t.Fatalf("got a batch of %d events first, want the empty acknowledgement", len(b.Events))
		}
		next := uint64(16)
		for next <= 20 {
			b := r.expect(wire.TypeBatch).(wire.Batch)
			for _, ev := range b.Events {
				if ev.Seq != next {
					t.Fatalf("got seq %d, want %d", ev.Seq, next)
				}
				next++
			}
		}
		publish(h, 21, 21) // live after the resume
		if b := r.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 1 || b.Events[0].Seq != 21 {
			t.Fatalf("got %+v, want seq 21", b.Events)
		}
	})

	t.Run("a wait that runs out resyncs", func(t *testing.T) {
		h, reg, url := setup(t, 100*time.Millisecond)
		publish(h, 1, 10)
		r := dial(t, url)
		r.send(wire.Hello{Cursors: ahead})
		r.expect(wire.TypeWelcome)
		waiting(t, reg)
		publish(h, 11, 12) // not as far as the cursor
		rs := r.expect(wire.TypeResync).(wire.Resync)
		if !strings.Contains(rs.Reason, "ahead") {
			t.Fatalf("resync reason %q, want it to say the cursor is ahead", rs.Reason)
		}
		if n := reg.Lookup("telltale_ws_resume_ahead_timeouts_total").Load(); n != 1 {
			t.Fatalf("ahead timeouts = %d, want 1", n)
		}
	})

	t.Run("one node: a snapshot at once", func(t *testing.T) {
		h, _, url := setup(t, 0)
		publish(h, 1, 10)
		r := dial(t, url)
		r.send(wire.Hello{Cursors: ahead})
		r.expect(wire.TypeWelcome)
		s := r.expect(wire.TypeSnapshot).(wire.Snapshot)
		if s.Seq != 10 || !strings.Contains(s.Reason, "ahead") {
			t.Fatalf("got a snapshot at %d saying %q, want 10 and the cursor ahead", s.Seq, s.Reason)
		}
	})
}

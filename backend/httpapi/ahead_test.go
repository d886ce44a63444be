package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// lagging stands for a node whose follower is behind the shared store: the
// store's events reach the hub only when released.
type lagging struct {
	mu   sync.Mutex
	held [][]wire.Event
	h    *hub.Hub
}

func (l *lagging) sink(tenant string, evs []wire.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = append(l.held, append([]wire.Event(nil), evs...))
}

func (l *lagging) release(tenant string) {
	l.mu.Lock()
	held := l.held
	l.held = nil
	l.mu.Unlock()
	for _, evs := range held {
		l.h.Publish(tenant, evs)
	}
}

// TestLongPollAheadOfThisNode: with several nodes on one PostgreSQL, an
// events request whose cursor another node gave (ahead of this node's
// follower) used to get the 409 that sends the client to a snapshot. With
// AheadWait it is held until the hub reaches the cursor and answered with
// exactly the events after it; a wait that runs out keeps the 409, and one
// node (no AheadWait) answers the 409 at once, as before.
func TestLongPollAheadOfThisNode(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, ahead time.Duration) (string, *memstore.Store, *lagging, *metrics.Registry, string) {
		keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		reg := metrics.New()
		h := hub.New(hub.Config{})
		l := &lagging{h: h}
		st := memstore.New(memstore.Config{Sink: l.sink})
		for range 10 {
			if err := st.Append(context.Background(), "acme", "orders", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
				t.Fatal(err)
			}
		}
		l.release("acme") // the hub at seq 10
		guard := auth.NewGuard(keys, st)
		if err := guard.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		api := New(Config{Verify: guard.Verify, Hub: h, History: st, Metrics: reg, AheadWait: ahead})
		srv := httptest.NewServer(api)
		t.Cleanup(srv.Close)
		t.Cleanup(api.Close)
		tok, _ := keys.Mint("acme", "alice", time.Hour, nil, "")
		return srv.URL, st, l, reg, tok
	}
	more := func(t *testing.T, st *memstore.Store, n int) {
		for range n {
			if err := st.Append(context.Background(), "acme", "orders", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	epochOf := func(t *testing.T, st *memstore.Store) uint64 {
		evs, err := st.Read(context.Background(), "acme", "orders", 0, 1)
		if err != nil || len(evs) != 1 {
			t.Fatal(len(evs), err)
		}
		return evs[0].Epoch
	}

	for _, wait := range []string{"", "&wait=20s"} {
		t.Run("waits for the hub"+wait, func(t *testing.T) {
			t.Parallel()
			url, st, l, reg, tok := setup(t, 10*time.Second)
			more(t, st, 10) // stored to 20; the hub still at 10
			f := &fixture{url: url}
			got := f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=15%s", epochOf(t, st), wait), tok)
			poll.Until(t, 5*time.Second, func() error {
				if n := reg.Lookup("telltale_http_ahead_waits_total").Load(); n != 1 {
					return fmt.Errorf("ahead waits = %d, want 1", n)
				}
				return nil
			})
			select {
			case a := <-got:
				t.Fatalf("answered %d %s before the hub reached the cursor", a.status, a.body)
			case <-time.After(50 * time.Millisecond):
			}
			l.release("acme") // the follower catches up
			b := batchOf(t, <-got)
			if len(b.Events) != 5 || b.Events[0].Seq != 16 || b.Events[4].Seq != 20 || b.Head != 20 {
				t.Fatalf("got %d events from %v, head %d; want 16..20, head 20", len(b.Events), b.Events, b.Head)
			}
		})
	}

	t.Run("a wait that runs out is a 409", func(t *testing.T) {
		t.Parallel()
		url, st, _, _, tok := setup(t, 100*time.Millisecond)
		more(t, st, 10)
		f := &fixture{url: url}
		a := <-f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=15", epochOf(t, st)), tok)
		if a.status != http.StatusConflict {
			t.Fatalf("got %d %s, want 409", a.status, a.body)
		}
		if a.took < 100*time.Millisecond {
			t.Fatalf("answered after %v, before the ahead wait", a.took)
		}
	})

	t.Run("one node answers at once", func(t *testing.T) {
		t.Parallel()
		url, st, _, reg, tok := setup(t, 0)
		more(t, st, 10)
		f := &fixture{url: url}
		a := <-f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=15&wait=20s", epochOf(t, st)), tok)
		if a.status != http.StatusConflict {
			t.Fatalf("got %d %s, want 409", a.status, a.body)
		}
		if n := reg.Lookup("telltale_http_ahead_waits_total").Load(); n != 0 {
			t.Fatalf("ahead waits = %d, want 0", n)
		}
	})
}

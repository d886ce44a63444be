//go:build !js

package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/httpapi"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// realServer is the real hub, store, gateway and stream API behind one
// handler whose WebSocket endpoint can be refused, as a proxy would.
type realServer struct {
	url     string
	store   *memstore.Store
	token   string
	refuse  atomic.Bool
	upgrade atomic.Int32 // refused upgrade attempts
	down    atomic.Bool  // every request fails, as with the network down
	polls   atomic.Int32 // stream API requests answered
	// refuseNext refuses that many more upgrades: a network not quite back.
	refuseNext atomic.Int32
}

func startReal(t *testing.T) *realServer {
	t.Helper()
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	guard := auth.NewGuard(keys, st)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	gate := wsgate.New(wsgate.Config{Hub: h, History: st,
		Authenticate: func(_ context.Context, tok string) (*auth.Principal, error) { return guard.Verify(tok) }})
	api := httpapi.New(httpapi.Config{Verify: guard.Verify, Hub: h, History: st})
	rs := &realServer{store: st}
	rs.token, _ = keys.Mint("acme", "alice", time.Hour, nil, "")
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/streams/", func(w http.ResponseWriter, r *http.Request) {
		if rs.down.Load() {
			http.Error(w, "unreachable", http.StatusBadGateway)
			return
		}
		rs.polls.Add(1)
		api.ServeHTTP(w, r)
	})
	mux.HandleFunc("/api/v1/ws", func(w http.ResponseWriter, r *http.Request) {
		if rs.down.Load() {
			http.Error(w, "unreachable", http.StatusBadGateway)
			return
		}
		if rs.refuseNext.Add(-1) >= 0 {
			rs.upgrade.Add(1)
			http.Error(w, "not yet", http.StatusBadGateway)
			return
		}
		if rs.refuse.Load() {
			rs.upgrade.Add(1)
			http.Error(w, "no websockets here", http.StatusForbidden)
			return
		}
		gate.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gate.Shutdown(ctx)
		srv.Close()
	})
	rs.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/ws"
	return rs
}

func (rs *realServer) publish(t *testing.T, n int) {
	t.Helper()
	for range n {
		ev := wire.Event{Created: time.Now().UnixNano(), Values: map[string]float64{"n": 1}}
		if err := rs.store.Append(context.Background(), "acme", "orders", []wire.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
}

// seqChecker proves every seq is applied once and in order.
type seqChecker struct {
	mu        sync.Mutex
	last      uint64
	snapshots int
	err       error
}

func (s *seqChecker) trace(_ string, _, seq uint64, snapshot bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snapshot {
		s.snapshots++
	} else if seq != s.last+1 && s.err == nil {
		s.err = fmt.Errorf("applied %d after %d", seq, s.last)
	}
	s.last = seq
}

func (s *seqChecker) state() (uint64, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.snapshots, s.err
}

func infoOf(c *Client) Info {
	var info Info
	c.Read(func(_ map[string]*livestate.Stream, i Info) { info = i })
	return info
}

// TestFallbackToPollingAndBack: with WebSocket upgrades refused, the client
// polls the stream API after three failed attempts, says so (degraded, over
// HTTP), and applies every event once and in order; when upgrades work again
// it goes back to the WebSocket by resuming from its cursor, with no second
// snapshot.
func TestFallbackToPollingAndBack(t *testing.T) {
	rs := startReal(t)
	rs.refuse.Store(true)
	rs.publish(t, 5)
	var chk seqChecker
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders"}, Trace: chk.trace,
		Get: NetHTTPGet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Status != Degraded || i.Transport != TransportPoll {
			return fmt.Errorf("status %v over %q, want degraded over %s", i.Status, i.Transport, TransportPoll)
		}
		return nil
	})
	if n := rs.upgrade.Load(); n < 3 {
		t.Fatalf("fell back after %d refused upgrades, want at least 3", n)
	}
	rs.publish(t, 20) // wakes the held poll
	poll.Until(t, 10*time.Second, func() error {
		if last, _, err := chk.state(); err != nil || last != 25 {
			return fmt.Errorf("at seq %d (%v), want 25", last, err)
		}
		return nil
	})
	rs.refuse.Store(false)
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Status != Live || i.Transport != TransportWebSocket {
			return fmt.Errorf("status %v over %q, want live over the websocket", i.Status, i.Transport)
		}
		return nil
	})
	rs.publish(t, 5)
	poll.Until(t, 10*time.Second, func() error {
		if last, _, err := chk.state(); err != nil || last != 30 {
			return fmt.Errorf("at seq %d (%v), want 30", last, err)
		}
		return nil
	})
	if _, snaps, _ := chk.state(); snaps != 1 {
		t.Fatalf("got %d snapshots, want 1: the way back resumes from the cursor", snaps)
	}
}

// TestNoFallbackWithoutGet: without Config.Get the client only retries the
// WebSocket and says offline.
func TestNoFallbackWithoutGet(t *testing.T) {
	rs := startReal(t)
	rs.refuse.Store(true)
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders"}, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 10*time.Second, func() error {
		if n := rs.upgrade.Load(); n < 6 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	if i := infoOf(c); i.Status != Offline && i.Status != Connecting || i.Transport != "" {
		t.Fatalf("status %v over %q, want offline or connecting over nothing", i.Status, i.Transport)
	}
}

// TestKickStopsPollingThatNeverReachedTheServer: WebSocket attempts that
// fail while every poll fails too say the network is down, not that
// WebSockets are blocked. When the network is back (a kick), the client
// drops that fallback and catches up over the WebSocket, even when the
// first attempts after the kick still fail (a network not quite back):
// no poll is made meanwhile.
func TestKickStopsPollingThatNeverReachedTheServer(t *testing.T) {
	rs := startReal(t)
	rs.publish(t, 3)
	rs.down.Store(true)
	c := New(Config{URL: rs.url, Token: rs.token, Streams: []string{"orders"}, Get: NetHTTPGet,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
	runClient(t, c)
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Transport != TransportPoll || i.Status != Offline {
			return fmt.Errorf("status %v over %q, want offline while polling", i.Status, i.Transport)
		}
		return nil
	})
	rs.upgrade.Store(0)
	rs.refuseNext.Store(2) // fewer than the 3 failures that start polling
	rs.down.Store(false)
	c.Kick()
	poll.Until(t, 10*time.Second, func() error {
		if i := infoOf(c); i.Status != Live || i.Transport != TransportWebSocket {
			return fmt.Errorf("status %v over %q, want live over the websocket", i.Status, i.Transport)
		}
		return nil
	})
	if n := rs.upgrade.Load(); n != 2 {
		t.Fatalf("%d upgrades refused after the kick, want 2", n)
	}
	if n := rs.polls.Load(); n != 0 {
		t.Fatalf("%d polls reached the server after the kick: want the catch-up over the WebSocket only", n)
	}
}

package haproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/child"
	"github.com/telltale/telltale/internal/poll"
)

// node is a stand-in backend: /healthz answers 200 or 503 as told, / says
// its name, /ws echoes one WebSocket message.
type node struct {
	name     string
	sick     atomic.Bool
	draining atomic.Bool // /ws answers 503, as a draining node does
	srv      *httptest.Server
}

func newNode(t *testing.T, name string) *node {
	n := &node{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if n.sick.Load() {
			http.Error(w, `{"status":"draining"}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if n.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), typ, append([]byte(n.name+":"), b...))
		_ = c.Close(websocket.StatusNormalClosure, "")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, n.name) })
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// TestProxyTakesOutAnUnhealthyNode: HAProxy from the generated
// configuration spreads requests over both nodes, carries a WebSocket,
// retries on the other node a WebSocket upgrade answered 503, marks a node
// whose /healthz answers 503 DOWN (Stats) within a few check
// intervals and sends it nothing more, and takes it back once healthy.
func TestProxyTakesOutAnUnhealthyNode(t *testing.T) {
	t.Parallel()
	a, b := newNode(t, "a"), newNode(t, "b")
	ctx := context.Background()
	p, err := Start(ctx, Config{Servers: []Server{
		{"a", strings.TrimPrefix(a.srv.URL, "http://")},
		{"b", strings.TrimPrefix(b.srv.URL, "http://")},
	}, Inter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	status := func(name string) string {
		t.Helper()
		st, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st[name].Status
	}
	poll.Until(t, 5*time.Second, func() error {
		if sa, sb := status("a"), status("b"); sa != "UP" || sb != "UP" {
			return fmt.Errorf("a %q, b %q; want both UP", sa, sb)
		}
		return nil
	})
	served := func(n int) map[string]int {
		t.Helper()
		got, err := child.Served(p.URL+"/", n)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := served(10); got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("served %v, want both nodes", got)
	}
	echo := func() string {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, "ws://"+p.Addr+"/ws", nil)
		if err != nil {
			t.Fatalf("websocket through haproxy: %v", err)
		}
		defer ws.CloseNow()
		if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		_, msg, err := ws.Read(ctx)
		if err != nil || !strings.HasSuffix(string(msg), ":hi") {
			t.Fatalf("websocket echo %q, %v; want NODE:hi", msg, err)
		}
		return strings.TrimSuffix(string(msg), ":hi")
	}
	echo()
	// A node that refuses new WebSockets with 503 (draining, before the
	// checks mark it down): each upgrade is retried on the other.
	a.draining.Store(true)
	for i := range 6 {
		if got := echo(); got != "b" {
			t.Fatalf("upgrade %d with a refusing upgrades: served by %q, want b", i, got)
		}
	}
	a.draining.Store(false)

	a.sick.Store(true)
	poll.Until(t, 5*time.Second, func() error {
		if s := status("a"); !strings.HasPrefix(s, "DOWN") {
			return fmt.Errorf("a is %q; want DOWN", s)
		}
		return nil
	})
	if got := served(10); got["a"] != 0 {
		t.Fatalf("served %v with a DOWN, want b only", got)
	}
	a.sick.Store(false)
	poll.Until(t, 5*time.Second, func() error {
		if s := status("a"); s != "UP" {
			return fmt.Errorf("a is %q; want UP again", s)
		}
		return nil
	})
}

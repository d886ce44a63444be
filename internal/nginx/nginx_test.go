package nginx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/child"
	"github.com/telltale/telltale/internal/poll"
)

// drainable is a stand-in node: GET / says its name; /ws upgrades and
// says its name, or, once draining, answers 503 as a draining Telltale node
// does to a new upgrade.
type drainable struct {
	name     string
	draining atomic.Bool
	srv      *httptest.Server
}

func newDrainable(t *testing.T, name string) *drainable {
	d := &drainable{name: name}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			io.WriteString(w, d.name)
			return
		}
		if d.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, []byte(d.name))
		_ = c.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *drainable) addr() string { return strings.TrimPrefix(d.srv.URL, "http://") }

// TestProxyRetriesADrainingNode: nginx from the generated configuration
// spreads requests over both nodes and carries WebSockets; a node that
// answers an upgrade 503 (draining) has it retried on the other, which the
// client never sees, and the access log names both tries; a node that is
// gone (refused connects) likewise.
func TestProxyRetriesADrainingNode(t *testing.T) {
	t.Parallel()
	a, b := newDrainable(t, "a"), newDrainable(t, "b")
	ctx := context.Background()
	p, err := Start(ctx, Config{Servers: []string{a.addr(), b.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
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
	upgrade := func() string {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, "ws://"+p.Addr+"/ws", nil)
		if err != nil {
			t.Fatalf("websocket through nginx: %v", err)
		}
		defer ws.CloseNow()
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("websocket through nginx: %v", err)
		}
		return string(msg)
	}
	a.draining.Store(true)
	for i := range 6 {
		if got := upgrade(); got != "b" {
			t.Fatalf("upgrade %d with a draining: served by %q, want b", i, got)
		}
	}
	a.srv.Close() // refused connects from now on
	for i := range 3 {
		if got := upgrade(); got != "b" {
			t.Fatalf("upgrade %d with a gone: served by %q, want b", i, got)
		}
	}
	// A WebSocket's line is written when it closes: poll for all of them.
	var ws []Entry
	poll.Until(t, 5*time.Second, func() error {
		log, err := p.Log()
		if err != nil {
			return err
		}
		ws = slices.DeleteFunc(log, func(e Entry) bool { return e.URI != "/ws" })
		if len(ws) != 9 {
			return fmt.Errorf("access log has %d /ws lines, want 9: %+v", len(ws), ws)
		}
		return nil
	})
	retried503, retriedGone := 0, 0
	for _, e := range ws {
		if e.Status != http.StatusSwitchingProtocols {
			t.Errorf("nginx answered an upgrade %d (%+v), want 101: a retry the client saw", e.Status, e)
		}
		if e.Upstreams[len(e.Upstreams)-1] != b.addr() {
			t.Errorf("upgrade served by %v, want b (%s) last", e.Upstreams, b.addr())
		}
		if e.Retried() && e.Upstreams[0] == a.addr() {
			switch e.Statuses[0] {
			case "503":
				retried503++
			case "502":
				retriedGone++
			}
		}
	}
	if retried503 == 0 || retriedGone == 0 {
		t.Errorf("%d upgrades retried after a's 503, %d after its refused connect; want some of each: %+v", retried503, retriedGone, ws)
	}
	t.Logf("%d upgrades retried after a draining 503, %d after a refused connect", retried503, retriedGone)
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Entry
	}{
		{"one node", `1765080000.123 0.000 GET / 200 "127.0.0.1:1" "200"`, Entry{Start: time.UnixMilli(1765080000123), At: time.UnixMilli(1765080000123), Method: "GET", URI: "/", Status: 200, Upstreams: []string{"127.0.0.1:1"}, Statuses: []string{"200"}}},
		{"retried", `1765080002.000 1.500 GET /api/v1/ws 101 "127.0.0.1:1, 127.0.0.1:2" "503, 101"`,
			Entry{Start: time.UnixMilli(1765080000500), At: time.UnixMilli(1765080002000), Method: "GET", URI: "/api/v1/ws", Status: 101, Upstreams: []string{"127.0.0.1:1", "127.0.0.1:2"}, Statuses: []string{"503", "101"}}},
		{"no node", `1765080000.999 0.001 GET /x 502 "-" "-"`, Entry{Start: time.UnixMilli(1765080000998), At: time.UnixMilli(1765080000999), Method: "GET", URI: "/x", Status: 502}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEntry(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(tc.want.At) || !got.Start.Equal(tc.want.Start) || got.Method != tc.want.Method || got.URI != tc.want.URI || got.Status != tc.want.Status ||
				!slices.Equal(got.Upstreams, tc.want.Upstreams) || !slices.Equal(got.Statuses, tc.want.Statuses) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

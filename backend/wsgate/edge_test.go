package wsgate

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/wire"
)

// dialFrom dials the gateway from a given loopback source address, with
// extra headers; it returns the connection or the HTTP status of a refusal.
func dialFrom(t *testing.T, url, source string, header http.Header) (*websocket.Conn, int, error) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: header})
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	if ws != nil {
		t.Cleanup(func() { ws.CloseNow() })
	}
	return ws, status, err
}

func TestForeignOriginIsRefused(t *testing.T) {
	f := start(t, Config{})
	if _, status, err := dialFrom(t, f.url, "127.0.0.1", http.Header{"Origin": {"https://evil.example"}}); err == nil || status != http.StatusForbidden {
		t.Fatalf("cross-site upgrade: got status %d, err %v; want 403", status, err)
	}
	if got := f.reg.Counter("telltale_ws_bad_origin_total", "").Load(); got != 1 {
		t.Fatalf("bad origin counter %v, want 1", got)
	}
	// The page's own origin, and a client that sends none (not a browser),
	// connect.
	host := f.url[len("ws://"):]
	for _, h := range []http.Header{{"Origin": {"http://" + host}}, nil} {
		if _, status, err := dialFrom(t, f.url, "127.0.0.1", h); err != nil {
			t.Fatalf("origin %v: status %d, %v", h, status, err)
		}
	}
}

func TestConnectionFloodIsLimitedPerAddress(t *testing.T) {
	f := start(t, Config{ConnRate: 1, ConnBurst: 5})
	limited := 0
	for range 20 {
		_, status, err := dialFrom(t, f.url, "127.0.0.1", nil)
		if err != nil {
			if status != http.StatusTooManyRequests {
				t.Fatalf("got status %d (%v), want 429 when limited", status, err)
			}
			limited++
		}
	}
	if limited < 14 {
		t.Fatalf("%d of 20 rapid connections limited, want at least 14 (burst 5, 1/s)", limited)
	}
	// Another address is not affected.
	ws, status, err := dialFrom(t, f.url, "127.0.0.2", nil)
	if err != nil {
		t.Fatalf("another address: status %d, %v", status, err)
	}
	r := &raw{t, ws}
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
}

func TestConnectionCapClosesWithAReason(t *testing.T) {
	f := start(t, Config{MaxConns: 2})
	for range 2 {
		r := dial(t, f.url)
		r.send(wire.Hello{})
		r.expect(wire.TypeWelcome)
	}
	r := dial(t, f.url)
	_, err := r.read()
	if code := websocket.CloseStatus(err); code != wire.CloseFull {
		t.Fatalf("third connection: got %v (%v), want close %d", code, err, wire.CloseFull)
	}
}

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

// TestHostileClientDoesNotDisturbOthers: a connection that sends malformed,
// unknown, text and oversized frames gets error frames and then a close, while
// another client keeps receiving its stream; nothing it sent is stored.
func TestHostileClientDoesNotDisturbOthers(t *testing.T) {
	f := start(t, Config{MaxFrameBytes: 4096})
	f.publish(t, "orders", 1)
	bystander := dial(t, f.url)
	bystander.send(wire.Hello{})
	bystander.expect(wire.TypeWelcome)
	bystander.send(wire.Sub{Stream: "orders"})
	bystander.expect(wire.TypeSnapshot)

	hostile := dial(t, f.url)
	hostile.send(wire.Hello{})
	hostile.expect(wire.TypeWelcome)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hostile.ws.Write(ctx, websocket.MessageText, []byte(`{"t":"sub","b":{"stream":"orders"}}`))
	for i := range 20 {
		switch i % 4 {
		case 0:
			hostile.sendBytes([]byte{0xc1})
		case 1:
			hostile.sendBytes([]byte{0x83, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff})
		case 2:
			hostile.send(wire.Snapshot{Stream: "orders"})
		case 3:
			hostile.send(wire.Sub{Stream: "../evil/stream"})
		}
	}
	errorsSeen := 0
	var err error
	for err == nil {
		var fr wire.Frame
		if fr, err = hostile.read(); err == nil {
			if _, ok := fr.(wire.Error); ok {
				errorsSeen++
			}
		}
	}
	if code := websocket.CloseStatus(err); code != wire.CloseProtocol || errorsSeen < maxBadFrames {
		t.Fatalf("hostile connection: %d error frames then %v; want %d+ then close %d", errorsSeen, err, maxBadFrames, wire.CloseProtocol)
	}
	// An oversized frame closes another hostile connection at once.
	big := dial(t, f.url)
	big.send(wire.Hello{})
	big.expect(wire.TypeWelcome)
	big.sendBytes(make([]byte, 8192))
	for err = nil; err == nil; _, err = big.read() {
	}
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: got %v, want close 1009", err)
	}
	// The bystander did not notice.
	f.publish(t, "orders", 1)
	if b := bystander.expect(wire.TypeBatch).(wire.Batch); len(b.Events) != 1 || b.Events[0].Seq != 2 {
		t.Fatalf("bystander got %+v, want seq 2", b)
	}
	// Nothing of the hostile input reached the store or the hub.
	if evs, _ := f.store.Read(context.Background(), "demo", "orders", 0, 100); len(evs) != 2 {
		t.Fatalf("orders holds %d events, want the 2 published", len(evs))
	}
	if _, ok := f.gate.cfg.Hub.Cursor("demo", "../evil/stream"); ok {
		t.Fatal("the hub holds a stream named by a refused sub")
	}
}

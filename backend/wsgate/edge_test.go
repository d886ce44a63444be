package wsgate

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
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
	if got := f.reg.Lookup("telltale_ws_bad_origin_total").Load(); got != 1 {
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
	bystander := subscribed(t, f.url, "orders")

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
}

// slowHistory counts history reads in flight; each takes a while.
type slowHistory struct {
	History
	mu             sync.Mutex
	inFlight, peak int
	reads          int
}

func (h *slowHistory) Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error) {
	h.mu.Lock()
	h.inFlight++
	h.reads++
	h.peak = max(h.peak, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	select {
	case <-time.After(20 * time.Millisecond): // a slow store
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.History.Read(ctx, tenant, stream, after, limit)
}

// TestStaleCursorsCannotFloodTheStore: a hello with more cursors than
// MaxSubs is refused, and a client repeating a stale cursor replaces its
// fetch instead of piling them up; the gateway never reads more than
// maxFetches gaps at once.
func TestStaleCursorsCannotFloodTheStore(t *testing.T) {
	reg := metrics.New()
	h := hub.New(hub.Config{Metrics: reg, Ring: 4})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	for range 50 {
		if err := st.Append(context.Background(), "demo", "orders", []wire.Event{{Values: map[string]float64{"x": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := h.Cursor("demo", "orders")
	stale := wire.Cursor{Stream: "orders", Epoch: cur.Epoch, Seq: 1} // older than the ring of 4
	hist := &slowHistory{History: st}
	g := New(Config{Hub: h, Metrics: reg, History: hist, MaxSubs: 8})
	srv := httptest.NewServer(g)
	t.Cleanup(func() { // after the clients' own cleanups have closed them
		_ = g.Shutdown(context.Background())
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// Too many cursors: an error frame, then close 4011, and no reads.
	r := dial(t, url)
	cursors := make([]wire.Cursor, 500)
	for i := range cursors {
		cursors[i] = stale
	}
	r.send(wire.Hello{Cursors: cursors})
	var err error
	sawError := false
	for err == nil {
		var f wire.Frame
		if f, err = r.read(); err == nil {
			if e, ok := f.(wire.Error); ok && e.Code == wire.CodeTooManySubs {
				sawError = true
			}
		}
	}
	if websocket.CloseStatus(err) != wire.CloseProtocol || !sawError {
		t.Fatalf("500 cursors: error frame %v, then %v; want too_many_subs then close 4011", sawError, err)
	}
	if hist.reads != 0 {
		t.Fatalf("a refused hello caused %d history reads", hist.reads)
	}

	// The same stale cursor 200 times from several connections.
	for range 5 {
		c := dial(t, url)
		c.send(wire.Hello{})
		c.expect(wire.TypeWelcome)
		for range 200 {
			c.send(wire.Sub{Stream: "orders", From: &stale})
		}
	}
	// Until every fetch has run or been cancelled.
	poll.Until(t, 10*time.Second, func() error {
		hist.mu.Lock()
		defer hist.mu.Unlock()
		if hist.inFlight > 0 || hist.reads == 0 {
			return fmt.Errorf("%d reads in flight, %d so far", hist.inFlight, hist.reads)
		}
		return nil
	})
	hist.mu.Lock()
	defer hist.mu.Unlock()
	if hist.peak > maxFetches {
		t.Fatalf("%d history reads in flight at once, want at most %d", hist.peak, maxFetches)
	}
	t.Logf("1000 stale subs caused %d reads, at most %d at once", hist.reads, hist.peak)
}

// TestHelloSentWithTheUpgradeIsRead: a client that writes its hello right
// behind the upgrade request, before the 101, has it read: the bytes
// net/http read ahead are kept in front of the connection's own small read
// buffer, whatever their size.
func TestHelloSentWithTheUpgradeIsRead(t *testing.T) {
	f := start(t, Config{})
	hello, err := wire.Encode(wire.Hello{Token: strings.Repeat("x", 600)}) // past the 512-byte read buffer
	if err != nil {
		t.Fatal(err)
	}
	short, err := wire.Encode(wire.Hello{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		hello []byte
	}{{"short hello", short}, {"hello longer than the read buffer", hello}} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", strings.TrimPrefix(f.url, "ws://"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
			req := "GET / HTTP/1.1\r\nHost: " + strings.TrimPrefix(f.url, "ws://") + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
			if _, err := nc.Write(append([]byte(req), maskedFrame(tc.hello)...)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(nc)
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", res, err)
			}
			payload, err := readServerFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			fr, err := wire.Decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			if fr.FrameType() != wire.TypeWelcome {
				t.Fatalf("got %T %+v, want a welcome for the hello sent with the upgrade", fr, fr)
			}
		})
	}
}

// maskedFrame is a final binary client frame (masked, as clients must).
func maskedFrame(p []byte) []byte {
	key := [4]byte{0x1f, 0x2e, 0x3d, 0x4c}
	b := []byte{0x82}
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i%4])
	}
	return b
}

// readServerFrame reads one unmasked, unfragmented frame's payload.
func readServerFrame(br *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint64(ext[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return p, err
}

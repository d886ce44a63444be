package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// serving serves cfg (defaults filled in as newServer does) on a free
// loopback port until the test ends, and returns its address.
func serving(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.WebDir, cfg.Version, cfg.Store = webDir(t), "v1", "memory"
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Gateway == nil {
		cfg.Gateway = wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{}), Metrics: cfg.Metrics})
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// rawConn dials addr; the test fails rather than waits past bound.
func rawConn(t *testing.T, addr string, bound time.Duration) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// request sends one keep-alive GET on nc and reads its answer in full.
func request(t *testing.T, nc net.Conn, br *bufio.Reader, path string) {
	t.Helper()
	if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: telltale\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("GET %s: %s, close %v; want 200 on a kept-alive connection", path, res.Status, res.Close)
	}
}

// closedBy waits for the server to close nc (a read that ends otherwise
// than by nc's own deadline) and says after how long.
func closedBy(t *testing.T, nc net.Conn, br io.Reader, since time.Time, what string) time.Duration {
	t.Helper()
	_, err := io.Copy(io.Discard, br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after %v", what, time.Since(since))
	}
	return time.Since(since)
}

// TestIdleKeepAliveConnectionIsClosed: a connection that made one request
// and went quiet is closed after IdleTimeout.
func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	addr := serving(t, Config{IdleTimeout: idle})
	nc := rawConn(t, addr, 5*time.Second)
	br := bufio.NewReader(nc)
	request(t, nc, br, "/healthz")
	quiet := time.Now()
	if d := closedBy(t, nc, br, quiet, "idle keep-alive connection"); d < idle/2 {
		t.Fatalf("closed %v after its request, before the idle timeout of %v", d, idle)
	}
}

// TestSlowHeadersAreCut: a client that keeps sending header lines, slowly,
// never finishing (slowloris), is cut at HeaderTimeout however busy it
// looks.
func TestSlowHeadersAreCut(t *testing.T) {
	t.Parallel()
	const header = 300 * time.Millisecond
	addr := serving(t, Config{HeaderTimeout: header})
	nc := rawConn(t, addr, 5*time.Second)
	began := time.Now()
	if _, err := io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: telltale\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() { // a header line every 20 ms, until the server hangs up
		defer close(trickled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(nc, "X-Slow-%d: 1\r\n", i); err != nil {
				return
			}
		}
	}()
	d := closedBy(t, nc, nc, began, "slow-header connection")
	close(stop)
	<-trickled
	if d < header/2 {
		t.Fatalf("cut after %v, before the header timeout of %v", d, header)
	}
}

// TestHeldRequestsAndWebSocketsOutliveTheTimeouts: read and write timeouts
// far shorter than a long-poll neither cut a held stream API request (its
// context stays alive and its answer arrives) nor a WebSocket, which keeps
// exchanging frames past both.
func TestHeldRequestsAndWebSocketsOutliveTheTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	held := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a long-poll with nothing new
		case <-time.After(6 * timeout):
			fmt.Fprint(w, "held")
		case <-r.Context().Done():
			// The answer is lost anyway; the test sees no "held".
		}
	})
	reg := metrics.New()
	gate := wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{}), Metrics: reg, PingInterval: 2 * timeout})
	addr := serving(t, Config{ReadTimeout: timeout, WriteTimeout: timeout, Streams: held, Gateway: gate, Metrics: reg})

	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	res, err := c.Get("http://" + addr + "/api/v1/streams/orders/events?wait=25s")
	if err != nil {
		t.Fatalf("held request cut: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != "held" {
		t.Fatalf("held request: %q, %v; want its answer", body, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	opened := time.Now()
	send := func(f wire.Frame) {
		b, err := wire.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
			t.Fatalf("websocket write after %v: %v", time.Since(opened), err)
		}
	}
	send(wire.Hello{})
	for pings := 0; pings < 4; { // 4 ping intervals: 8x the timeouts
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("websocket cut after %v: %v", time.Since(opened), err)
		}
		if f, err := wire.Decode(b); err == nil && f.FrameType() == wire.TypePing {
			pings++
			send(wire.Pong{})
		}
	}
	if d := time.Since(opened); d < 4*timeout {
		t.Fatalf("4 pings in %v: the test did not outlast the timeouts", d)
	}
}

// TestOpenHTTPConnectionsInMetrics: /metrics counts open HTTP connections by
// state.
func TestOpenHTTPConnectionsInMetrics(t *testing.T) {
	t.Parallel()
	addr := serving(t, Config{MetricsToken: "scrape-token"})
	kept := rawConn(t, addr, 10*time.Second) // one request, then idle
	request(t, kept, bufio.NewReader(kept), "/healthz")
	silent := rawConn(t, addr, 10*time.Second) // no request yet

	scrape := func() map[string]int {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer scrape-token")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got := map[string]int{}
		for _, m := range regexp.MustCompile(`(?m)^telltale_http_connections\{state="(\w+)"\} (\d+)$`).FindAllStringSubmatch(string(b), -1) {
			got[m[1]], _ = strconv.Atoi(m[2])
		}
		if !strings.Contains(string(b), "# TYPE telltale_http_connections gauge\n") {
			got["untyped"] = 1
		}
		return got
	}
	poll.Until(t, 5*time.Second, func() error {
		// The scrape's own connection is the active one.
		if got := scrape(); got["idle"] != 1 || got["new"] != 1 || got["active"] != 1 || got["untyped"] != 0 {
			return fmt.Errorf("connections by state %v, want idle 1, new 1, active 1", got)
		}
		return nil
	})
	kept.Close()
	silent.Close()
	poll.Until(t, 5*time.Second, func() error {
		if got := scrape(); got["idle"] != 0 || got["new"] != 0 || got["active"] != 1 {
			return fmt.Errorf("after closing: connections by state %v, want only the scrape's", got)
		}
		return nil
	})
}

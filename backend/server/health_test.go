package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/wsgate"
)

// TestHealthWarming: while the store still warms streams /healthz answers
// 503 "warming" with the count, so a load balancer sends the node no new
// clients; then 200 without it.
func TestHealthWarming(t *testing.T) {
	t.Parallel()
	var left atomic.Int64
	left.Store(2)
	s, err := New(Config{
		WebDir:  webDir(t),
		Version: "v1",
		Store:   "postgres",
		Warming: func() (int, int) { return int(left.Load()), 5 },
		Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, s.Handler(), "/healthz")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"warming"`) ||
		!strings.Contains(body, `"warming":2`) || !strings.Contains(body, "warming: 2 of 5 streams") {
		t.Fatalf("got %d %s, want 503 warming with 2 of 5 streams", res.StatusCode, body)
	}
	left.Store(0)
	res, body = get(t, s.Handler(), "/healthz")
	if res.StatusCode != http.StatusOK || strings.Contains(body, "warming") {
		t.Fatalf("got %d %s, want 200 and no warming once every stream is warm", res.StatusCode, body)
	}
}

// TestHealthDraining: once Drain is called /healthz answers 503 "draining"
// (over warming and degraded: the node is leaving either way) while the
// server still serves, and its HTTP answers end keep-alive, so that a load
// balancer's pooled connections move to the other nodes.
func TestHealthDraining(t *testing.T) {
	t.Parallel()
	s, err := New(Config{
		WebDir:  webDir(t),
		Version: "v1",
		Store:   "postgres",
		Health:  func() (bool, string) { return false, "listen: connection refused" },
		Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
	})
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
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + ln.Addr().String()
	healthz := func() (*http.Response, string) {
		t.Helper()
		res, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := healthz()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"degraded"`) || res.Close {
		t.Fatalf("before Drain: got %d %s (close %v), want 503 degraded on a kept-alive connection", res.StatusCode, body, res.Close)
	}
	s.Drain()
	res, body = healthz()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"draining"`) {
		t.Fatalf("draining: got %d %s, want 503 draining", res.StatusCode, body)
	}
	if !res.Close {
		t.Fatal("draining: the answer keeps the connection alive; want Connection: close")
	}
	res, err = http.Get(base + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if body = string(b); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no such API endpoint") {
		t.Fatalf("draining: got %d %s from the API, want it still served", res.StatusCode, body)
	}
}

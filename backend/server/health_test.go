package server

import (
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

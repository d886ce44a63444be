package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
)

// webDir makes a web folder with distinguishable wasm variants.
func webDir(t *testing.T, variants ...string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app.wasm", "RAW-WASM-BYTES")
	write("telltale.css", "body{}")
	// Compressed copies must not be older than app.wasm.
	later := time.Now().Add(time.Second)
	for _, v := range variants {
		write("app.wasm."+v, "COMPRESSED-"+v)
		if err := os.Chtimes(filepath.Join(dir, "app.wasm."+v), later, later); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newServer(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := New(Config{
		WebDir:     dir,
		Version:    "v1",
		Store:      "memory",
		Gateway:    wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
		Dashboards: []dashboard.Dashboard{demo.Dashboard()},
		Operator:   anyOperator,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// anyOperator lets every request through: tokens_test.go tests the door.
func anyOperator(http.ResponseWriter, *http.Request) (*auth.Principal, bool) {
	return &auth.Principal{}, true
}

func get(t *testing.T, h http.Handler, path string, header ...string) (*http.Response, string) {
	t.Helper()
	return do(t, h, http.MethodGet, path, nil, header...)
}

func do(t *testing.T, h http.Handler, method, path string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestWasmNegotiation(t *testing.T) {
	t.Parallel()
	s := newServer(t, webDir(t, "br", "gz"))
	tests := []struct {
		name, accept, wantEncoding, wantBody string
	}{
		{"brotli preferred", "gzip, deflate, br", "br", "COMPRESSED-br"},
		{"gzip only", "gzip", "gzip", "COMPRESSED-gz"},
		{"brotli refused by q=0", "br;q=0, gzip", "gzip", "COMPRESSED-gz"},
		{"identity", "", "", "RAW-WASM-BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, s.Handler(), "/web/app.wasm", "Accept-Encoding", tt.accept)
			if res.StatusCode != http.StatusOK || body != tt.wantBody {
				t.Fatalf("got %d %q, want 200 %q", res.StatusCode, body, tt.wantBody)
			}
			h := res.Header
			if got := h.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("got Content-Encoding %q, want %q", got, tt.wantEncoding)
			}
			if h.Get("Content-Type") != "application/wasm" || !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("got Content-Type %q Vary %q, want application/wasm and Accept-Encoding", h.Get("Content-Type"), h.Get("Vary"))
			}
			if got := h.Get(wasmLengthHeader); got != "14" {
				t.Fatalf("got %s %q, want the raw size 14", wasmLengthHeader, got)
			}
			if etag := h.Get("ETag"); !strings.Contains(etag, "v1") || (tt.wantEncoding != "" && !strings.Contains(etag, tt.wantEncoding)) {
				t.Fatalf("got ETag %q, want the version and the encoding in it", etag)
			}
		})
	}
}

func TestStaleCompressedCopyIsRefused(t *testing.T) {
	t.Parallel()
	dir := webDir(t)
	br := filepath.Join(dir, "app.wasm.br")
	if err := os.WriteFile(br, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(br, old, old); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{WebDir: dir, Version: "v", Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})})})
	if err == nil || !strings.Contains(err.Error(), "older than app.wasm") {
		t.Fatalf("got %v, want a refusal of a stale app.wasm.br", err)
	}
}

func TestMissingWasmIsAClearError(t *testing.T) {
	t.Parallel()
	_, err := New(Config{WebDir: t.TempDir(), Version: "v", Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})})})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("got %v, want an error that says to run make build", err)
	}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	s := newServer(t, webDir(t))
	res, body := get(t, s.Handler(), "/healthz")
	var health map[string]any
	if err := json.Unmarshal([]byte(body), &health); err != nil || res.StatusCode != 200 || health["status"] != "ok" || health["version"] != "v1" {
		t.Fatalf("healthz: got %d %s", res.StatusCode, body)
	}
	res, body = get(t, s.Handler(), "/api/v1/dashboards/default")
	var d dashboard.Dashboard
	if err := json.Unmarshal([]byte(body), &d); err != nil || res.StatusCode != 200 || d.ID != "warehouse" || len(d.Panels) == 0 {
		t.Fatalf("default dashboard: got %d %s", res.StatusCode, body)
	}
	res, body = get(t, s.Handler(), "/api/v1/dashboards/nope")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "no dashboard") {
		t.Fatalf("unknown dashboard: got %d %s, want 404 with a message", res.StatusCode, body)
	}
	res, _ = get(t, s.Handler(), "/api/v1/nothing")
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("unknown API path: got %d %s, want a JSON 404", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, body = get(t, s.Handler(), "/web/telltale.css")
	if res.StatusCode != 200 || body != "body{}" {
		t.Fatalf("static file: got %d %q", res.StatusCode, body)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("missing X-Content-Type-Options: nosniff")
	}
}

func TestHealthDegraded(t *testing.T) {
	t.Parallel()
	s, err := New(Config{
		WebDir:  webDir(t),
		Version: "v1",
		Store:   "postgres",
		Health:  func() (bool, string) { return false, "LISTEN connection lost" },
		Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, s.Handler(), "/healthz")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, "LISTEN connection lost") {
		t.Fatalf("got %d %s, want 503 degraded with the reason", res.StatusCode, body)
	}
}

// TestNoWebSocketRefusesUpgrades: the test mode answers an upgrade with 503
// and a reason, as a proxy that blocks WebSockets would refuse it.
func TestNoWebSocketRefusesUpgrades(t *testing.T) {
	t.Parallel()
	s, err := New(Config{
		WebDir:      webDir(t),
		Version:     "v1",
		Gateway:     wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
		NoWebSocket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, s.Handler(), "/api/v1/ws", "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "turned off") {
		t.Fatalf("got %d %q, want 503 saying WebSockets are off", res.StatusCode, body)
	}
}

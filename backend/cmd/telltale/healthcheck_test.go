package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthcheckCommand: telltale healthcheck exits 0 on a 200 from
// /healthz and 1 on a 503 or no answer, asking this node's own port (from
// TELLTALE_ADDR) unless given -url; a TELLTALE_ADDR without a port to ask
// is a clear error.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(http.StatusOK)
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := func(addr string) func(string) string {
		return func(k string) string { return map[string]string{"TELLTALE_ADDR": addr}[k] }
	}
	check := func(getenv func(string) string, args ...string) (int, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"healthcheck"}, args...), getenv, &out, &out)
		return exitCode(err), err
	}
	if code, err := check(env(":" + port)); code != 0 {
		t.Fatalf("200 on the own port: exit %d (%v), want 0", code, err)
	}
	if got := path.Load(); got != "/healthz" {
		t.Fatalf("asked %v, want /healthz", got)
	}
	status.Store(http.StatusServiceUnavailable)
	if code, err := check(env("0.0.0.0:" + port)); code != 1 || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503: exit %d (%v), want 1 naming the 503", code, err)
	}
	status.Store(http.StatusOK)
	if code, err := check(env(":1"), "-url", srv.URL+"/healthz"); code != 0 {
		t.Fatalf("-url: exit %d (%v), want 0", code, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closed, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	if code, err := check(env("127.0.0.1:" + closed)); code != 1 {
		t.Fatalf("nothing listening: exit %d (%v), want 1", code, err)
	}
	if code, err := check(env("127.0.0.1:0")); code != 1 || !strings.Contains(err.Error(), "TELLTALE_ADDR") {
		t.Fatalf("port 0: exit %d (%v), want 1 naming TELLTALE_ADDR", code, err)
	}
}

package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuthRoutes: /auth/ is the sign-in handler's when there is one, and
// a JSON 404 otherwise (the page reads it as "no sign-in to offer"), never
// the app's page.
func TestAuthRoutes(t *testing.T) {
	s := newServer(t, webDir(t))
	res, body := do(t, s.Handler(), http.MethodPost, "/auth/renew", nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.Header.Get("Content-Type"), "json") || !strings.Contains(body, "-oidc-issuer") {
		t.Fatalf("without sign-in: got %d %s %q, want a JSON 404", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	s.cfg.Auth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	with, err := New(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := do(t, with.Handler(), http.MethodPost, "/auth/renew", nil); res.StatusCode != http.StatusTeapot {
		t.Fatalf("with sign-in: got %d, want the handler's answer", res.StatusCode)
	}
}

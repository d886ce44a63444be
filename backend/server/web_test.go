package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestPageStartsTheWasmEarly: the page's head preloads app.wasm, and app.js
// hands app.wasm's response straight to the streaming compiler instead of
// through go-app's counting stream, whose call it must find to replace
// (bench/results/2026-12-06-coldvisit.md).
func TestPageStartsTheWasmEarly(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	res, page := get(t, f.srv.Handler(), "/")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, wasmPreload) {
		t.Fatalf("got %d, want the page with %s in its head:\n%s", res.StatusCode, wasmPreload, page)
	}
	if head, _, _ := strings.Cut(page, "</head>"); !strings.Contains(head, wasmPreload) {
		t.Fatalf("the preload is outside the page's head:\n%s", page)
	}
	res, js := get(t, f.srv.Handler(), "/app.js")
	if res.StatusCode != http.StatusOK || strings.Contains(js, wasmFetchCall) || !strings.Contains(js, `instantiateStreaming(
      fetch("/web/app.wasm"),`) {
		t.Fatalf("got %d, want go-app's app.js with app.wasm fetched straight into instantiateStreaming:\n%s", res.StatusCode, js)
	}
	if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("app.js served as %q, want JavaScript", ct)
	}
	if _, err := streamingAppJS(http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), wasmFetchCall) {
		t.Fatalf("without go-app's call to replace: got %v, want an error naming it", err)
	}
}

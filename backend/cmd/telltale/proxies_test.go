package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestTrustedProxiesGiveClientsTheirOwnBudget: with -trusted-proxies, two
// clients behind one proxy (the same TCP peer, each named by the proxy's
// X-Forwarded-For) each get the per-address WebSocket budget, and a peer
// that is not a trusted proxy cannot get a fresh budget by naming a new
// address in its own X-Forwarded-For.
func TestTrustedProxiesGiveClientsTheirOwnBudget(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	// A burst of 2 and a rate that refills nothing within the test.
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error",
		"-conn-burst", "2", "-conn-rate", "0.001", "-trusted-proxies", "127.0.0.1"}, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startServer(t, cfg, getenv)
	// from dials the server from source address src: 127.0.0.1 is the
	// trusted proxy, 127.0.0.2 a peer that is not (Linux routes all of
	// 127.0.0.0/8 to the loopback device).
	from := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	// upgrade asks for /api/v1/ws without the upgrade's headers: a request
	// within the budget gets 426 (no upgrade), one past it 429.
	upgrade := func(c *http.Client, xff string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), "GET", base+"api/v1/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", xff)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode
	}
	proxy := from("127.0.0.1")
	var got []int
	for _, client := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2", "198.51.100.9, 203.0.113.1"} {
		got = append(got, upgrade(proxy, client))
	}
	// The last one is client 203.0.113.1 again, with an address it wrote
	// itself on the left.
	if want := []int{426, 426, 429, 426, 426, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("through the trusted proxy: got %v, want %v (two budgets of 2)", got, want)
	}
	stranger := from("127.0.0.2")
	got = got[:0]
	for i := range 3 {
		got = append(got, upgrade(stranger, fmt.Sprintf("192.0.2.%d", i+1)))
	}
	if want := []int{426, 426, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("an untrusted peer naming new addresses: got %v, want %v (one budget of 2, its own)", got, want)
	}
}

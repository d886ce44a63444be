package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestServerComputesDerivedStreams: the binary's wiring, on the embedded
// store. Ingested points reach the engine through the hub's tap; a page
// asking for an m4 stream over HTTP starts it and gets the buckets; a token
// not allowed the source is refused; producers cannot write derived
// streams. Its one node leads (/healthz).
func TestServerComputesDerivedStreams(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": secret}
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error",
		"-ingest-keys", "acme:ingest-key-0123456789", "-max-aggregates", "1"},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxAggs != 1 {
		t.Fatalf("got -max-aggregates %d, want 1", cfg.maxAggs)
	}
	base := serveUntilDone(t, cfg, func(k string) string { return env[k] }, "not serving yet")
	// The embedded store's one node always leads: it computes.
	if code, body := apiCall(t, base, http.MethodGet, "healthz", "", ""); code != 200 || !strings.Contains(body, `"leader":true`) {
		t.Fatalf("/healthz: got %d %s, want 200 with leader true", code, body)
	}
	ingest := func(body string) (int, string) {
		return apiCall(t, base, http.MethodPost, "api/v1/ingest", "ingest-key-0123456789", body)
	}
	if code, body := ingest(`{"events":[{"stream":"cpu","points":{"ts":[1000,1100,1200],"cols":[{"name":"a","vals":[1,5,2]}]}}]}`); code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	if code, body := ingest(`{"events":[{"stream":"m4.1000.cpu","points":{"ts":[1000],"cols":[{"name":"a","vals":[99]}]}}]}`); code != 400 || !strings.Contains(body, "derived") {
		t.Fatalf("ingest into a derived stream: got %d %s, want 400 saying why", code, body)
	}
	keys, _ := auth.HS256([]byte(secret))
	mint := func(streams ...string) string {
		tok, err := keys.Mint("acme", "alice", time.Hour, streams, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	get := func(stream, tok string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, base+"api/v1/streams/"+stream+"/snapshot", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, body := get("m4.1000.cpu", mint("fleet.*")); code != 403 {
		t.Fatalf("a token without the source: got %d %s, want 403", code, body)
	}
	cpuOnly := mint("cpu")
	poll.Until(t, 10*time.Second, func() error {
		code, body := get("m4.1000.cpu", cpuOnly)
		if code != 200 {
			return fmt.Errorf("got %d %s", code, body)
		}
		f, err := wire.Decode(body)
		if err != nil {
			return err
		}
		s := f.(wire.Snapshot)
		a := s.State.Points.Col("a")
		if len(a) != 4 || a[1] != 1 || a[2] != 5 {
			return fmt.Errorf("got ts %v a %v, want one bucket's first, min, max, last (1 1 5 2)", s.State.Points.TS, a)
		}
		return nil
	})
	if code, body := get("m4.2000.cpu", cpuOnly); code != 403 || !strings.Contains(string(body), "most aggregates") {
		t.Fatalf("over -max-aggregates: got %d %s, want 403 naming the cap", code, body)
	}
}

package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
)

// TestMetricsListener: with -metrics-addr, /metrics is served on that
// listener (the demo feed's events in the stage histograms under tenant
// demo, and the Go runtime and process metrics), and not on the main port.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_METRICS_ADDR": "127.0.0.1:0"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-log-level", "error"}, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, out := serveWithOutput(t, cfg, getenv, "not serving yet")
	m := regexp.MustCompile(`metrics at (http://\S+/metrics)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the server did not print its metrics address: %s", out.String())
	}
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(base + "metrics"); code != http.StatusNotFound {
		t.Fatalf("main port /metrics: got %d, want 404", code)
	}
	count := regexp.MustCompile(`(?m)^telltale_stage_seconds_count\{stage="commit_hub",tenant="demo"\} (\d+)$`)
	poll.Until(t, 10*time.Second, func() error {
		code, body := get(m[1])
		if code != http.StatusOK {
			return fmt.Errorf("metrics listener: got %d", code)
		}
		for _, want := range []string{"# TYPE telltale_stage_seconds histogram", "\ngo_goroutines ", "\nprocess_resident_memory_bytes ", "\ntelltale_ws_connections "} {
			if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(body) {
				return fmt.Errorf("no %q in /metrics", want)
			}
		}
		c := count.FindStringSubmatch(body)
		if c == nil {
			return errors.New("no commit_hub histogram for tenant demo yet")
		}
		if n, _ := strconv.Atoi(c[1]); n == 0 {
			return errors.New("the demo's events are not counted in commit_hub yet")
		}
		return nil
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/child"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/sla"
)

// TestSLAReportsSurviveARestart: the binary's wiring, on PostgreSQL. A
// page's report posted to one server (its minute still open) is in the
// answer of the next server on the same database: the first saved its open
// minutes at shutdown. Without a token, both endpoints answer 401.
func TestSLAReportsSurviveARestart(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	db := pgtest.New(t)
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": secret, "DATABASE_URL": db.DSN, "TELLTALE_SLA_KEEP": "48h"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error"}, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.slaKeep != 48*time.Hour {
		t.Fatalf("TELLTALE_SLA_KEEP: got %v, want 48h", cfg.slaKeep)
	}
	keys, _ := auth.HS256([]byte(secret))
	tok, err := keys.Mint("acme", "alice", time.Hour, nil, "viewer")
	if err != nil {
		t.Fatal(err)
	}

	base, stop := startServer(t, cfg, getenv)
	now := time.Now()
	report := fmt.Sprintf(`{"screen": "s1", "dashboard": "ops", "from": %d, "to": %d, "clock_err": 1000000, "transport": "socket",
		"panels": [{"panel": "p", "painted": 3, "fresh_ms": 10000, "stale_ms": 0,
			"stages": [{"stage": "total", "index": [%d, %d], "counts": [2, 1]}]}]}`,
		now.Add(-10*time.Second).UnixNano(), now.UnixNano(), sla.Bin(100), sla.Bin(900))
	for _, path := range []string{"api/v1/sla?dashboard=ops", "api/v1/sla/report"} {
		method := map[bool]string{true: "POST", false: "GET"}[strings.HasSuffix(path, "report")]
		if code, body := apiCall(t, base, method, path, "", report); code != http.StatusUnauthorized {
			t.Fatalf("%s %s without a token: got %d %s, want 401", method, path, code, body)
		}
	}
	if code, body := apiCall(t, base, "POST", "api/v1/sla/report", tok, report); code != http.StatusNoContent {
		t.Fatalf("POST report: got %d %s, want 204", code, body)
	}
	stop()

	base, _ = startServer(t, cfg, getenv)
	code, body := apiCall(t, base, "GET", "api/v1/sla?dashboard=ops&from=-1h", tok, "")
	var a sla.Answer
	if err := json.Unmarshal([]byte(body), &a); code != http.StatusOK || err != nil {
		t.Fatalf("GET after the restart: got %d %s", code, body)
	}
	if len(a.Panels) != 1 || a.Panels[0].Painted != 3 || a.Screens != 1 || len(a.Panels[0].Stages) != 1 ||
		a.Panels[0].P50Ms < 99 || a.Panels[0].P50Ms > 101 || a.Panels[0].Stages[0].MeanMs < 363 || a.Panels[0].Stages[0].MeanMs > 371 {
		t.Fatalf("after the restart: got %s, want the report's 3 events of one screen (100, 100, 900 ms)", body)
	}
}

// startServer runs the server of cfg until stop (or the test's end) and
// returns the URL it serves on.
func startServer(t *testing.T, cfg config, getenv func(string) string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &child.Buffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, getenv, out, io.Discard) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	serving := regexp.MustCompile(`serving (http://\S+/)`)
	poll.Until(t, 10*time.Second, func() error {
		m := serving.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("not serving yet")
		}
		base = m[1]
		return nil
	})
	return base, stop
}

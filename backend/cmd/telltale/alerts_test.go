package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// TestParseAlertFlags: the webhook needs an http(s) URL and a secret of 16
// characters or more, read from TELLTALE_ALERT_WEBHOOK_SECRET unless the
// flag gives one; the evaluation period defaults to 15 s.
func TestParseAlertFlags(t *testing.T) {
	t.Parallel()
	parseWith := func(args []string, env map[string]string) (config, error) {
		return parse(args, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}
	c, err := parseWith(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.alerts != (alertFlags{every: 15 * time.Second}) {
		t.Fatalf("defaults %+v, want no webhook and 15 s", c.alerts)
	}
	const secret = "0123456789abcdef"
	c, err = parseWith([]string{"-alert-webhook", "https://hooks.example.com/t"}, map[string]string{"TELLTALE_ALERT_WEBHOOK_SECRET": secret, "TELLTALE_ALERT_EVERY": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.alerts != (alertFlags{webhook: "https://hooks.example.com/t", secret: secret, every: time.Second}) {
		t.Fatalf("got %+v", c.alerts)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-alert-webhook", "https://hooks.example.com/t"}, nil, "needs a secret"},
		{[]string{"-alert-webhook", "https://hooks.example.com/t", "-alert-webhook-secret", "short"}, nil, "needs a secret"},
		{[]string{"-alert-webhook", "hooks.example.com/t"}, map[string]string{"TELLTALE_ALERT_WEBHOOK_SECRET": secret}, "want an http or https URL"},
		{[]string{"-alert-every", "0s"}, nil, "-alert-every"},
	} {
		if _, err := parseWith(bad.args, bad.env); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: got %v, want an error saying %q", bad.args, bad.env, err, bad.want)
		}
	}
	// The secret never shows in the usage, whatever the environment holds.
	var usage strings.Builder
	_, _ = parse([]string{"-h"}, func(k string) string {
		return map[string]string{"TELLTALE_ALERT_WEBHOOK_SECRET": "do-not-print-me-0123"}[k]
	}, &usage, io.Discard)
	if strings.Contains(usage.String(), "do-not-print-me") {
		t.Fatal("the usage prints the webhook secret")
	}
}

// TestServerAlertsOnASilentStream: the binary's wiring, on the embedded
// store. A panel whose stream must speak within 1 s and does not fires an
// alert: a signed webhook message, and a firing row on the tenant's
// alerts stream (which another tenant does not see and producers cannot
// write); when the stream speaks again, one resolve follows.
func TestServerAlertsOnASilentStream(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef0123456789abcdef"
	const hookSecret = "hook-secret-0123456789"
	var mu sync.Mutex
	var got []alert.Message
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get(alert.SignatureHeader) != alert.Sign([]byte(hookSecret), b) {
			t.Errorf("webhook signature %q does not match its body", r.Header.Get(alert.SignatureHeader))
		}
		var m alert.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	messages := func() []alert.Message {
		mu.Lock()
		defer mu.Unlock()
		return append([]alert.Message(nil), got...)
	}

	dir := t.TempDir()
	web := filepath.Join(dir, "web")
	spec := filepath.Join(dir, "d.json")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(`{"id":"desk","title":"Desk","panels":[{"id":"quiet","kind":"kpi","title":"Quiet one","stream":"quiet","field":"x","sla":{"fresh_within":"1s"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": secret, "TELLTALE_ALERT_WEBHOOK_SECRET": hookSecret}
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error", "-dashboards", spec,
		"-ingest-keys", "acme:ingest-key-0123456789,globex:ingest-key-9876543210", "-alert-every", "200ms", "-alert-webhook", hook.URL},
		func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base := serveUntilDone(t, cfg, func(k string) string { return env[k] }, "not serving yet")
	speak := func() {
		t.Helper()
		if code, body := apiCall(t, base, "POST", "api/v1/ingest", "ingest-key-0123456789", `{"events":[{"stream":"quiet","values":{"x":1}}]}`); code != 200 {
			t.Fatalf("ingest: %d %s", code, body)
		}
	}
	// Both tenants have the dashboard (a built-in); globex's stream speaks
	// all along (and acme's once it has gone silent): it gets no alert.
	ctx, stop := context.WithCancel(context.Background())
	var speakers sync.WaitGroup
	acmeSpeaks := make(chan struct{})
	for _, key := range []string{"ingest-key-9876543210", "ingest-key-0123456789"} {
		speakers.Add(1)
		go func() {
			defer speakers.Done()
			if key == "ingest-key-0123456789" {
				select {
				case <-acmeSpeaks:
				case <-ctx.Done():
				}
			}
			for ctx.Err() == nil {
				apiCall(t, base, "POST", "api/v1/ingest", key, `{"events":[{"stream":"quiet","values":{"x":2}}]}`)
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	defer func() { stop(); speakers.Wait() }()
	speak()
	if code, body := apiCall(t, base, "POST", "api/v1/ingest", "ingest-key-0123456789", `{"events":[{"stream":"telltale.alerts","row":{"key":"x","fields":{"state":"firing"}}}]}`); code != 400 {
		t.Fatalf("a producer writing the alerts stream: got %d %s, want 400", code, body)
	}
	poll.Until(t, 20*time.Second, func() error {
		if m := messages(); len(m) == 0 {
			return fmt.Errorf("no webhook message yet")
		}
		return nil
	})
	m := messages()[0]
	if m.Tenant != "acme" || m.ID != "desk/quiet/silent" || m.State != "firing" || !strings.HasPrefix(m.Message, "desk · Quiet one: stream quiet silent for ") {
		t.Fatalf("first message %+v, want acme's desk/quiet/silent firing", m)
	}

	keys, _ := auth.HS256([]byte(secret))
	snapshot := func(tenant string, streams ...string) []dashboard.Alert {
		t.Helper()
		tok, err := keys.Mint(tenant, "alice", time.Hour, streams, "")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, base+"api/v1/streams/"+dashboard.AlertsStream+"/snapshot", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s's alerts: %d %s", tenant, res.StatusCode, b)
		}
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		var out []dashboard.Alert
		for _, r := range f.(wire.Snapshot).State.Rows {
			if a, ok := dashboard.ParseAlert(&r); ok {
				out = append(out, a)
			}
		}
		return out
	}
	// A token limited to other streams still follows its tenant's alerts.
	if rows := snapshot("acme", "quiet"); len(rows) != 1 || rows[0].State != dashboard.AlertFiring || rows[0].Message != m.Message {
		t.Fatalf("acme's alerts stream holds %+v, want the firing alert", rows)
	}
	if rows := snapshot("globex"); len(rows) != 0 {
		t.Fatalf("globex's alerts stream holds %+v, want nothing", rows)
	}

	// The stream speaks again, and keeps speaking: one resolve.
	close(acmeSpeaks)
	poll.Until(t, 20*time.Second, func() error {
		if m := messages(); len(m) < 2 {
			return fmt.Errorf("%d webhook messages, waiting for the resolve", len(m))
		}
		return nil
	})
	ms := messages()
	if len(ms) != 2 || ms[1].State != "resolved" || ms[1].ID != m.ID || !ms[1].Since.Equal(m.Since) {
		t.Fatalf("messages %+v, want the firing and one resolve of the same episode", ms)
	}
	if rows := snapshot("acme"); len(rows) != 1 || rows[0].State != dashboard.AlertResolved {
		t.Fatalf("acme's alerts stream holds %+v after the resolve, want it resolved", rows)
	}
}

//go:build e2e

package e2e

import (
	"context"
	"crypto/hmac"
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

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
)

// webhookServer is an alert webhook receiver that checks every body's
// signature against secret and keeps the messages.
type webhookServer struct {
	mu   sync.Mutex
	msgs []alert.Message
}

func startWebhookServer(t *testing.T, secret string) (*webhookServer, string) {
	t.Helper()
	w := &webhookServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if sig := r.Header.Get(alert.SignatureHeader); !hmac.Equal([]byte(sig), []byte(alert.Sign([]byte(secret), b))) {
			t.Errorf("webhook signature %q does not match the body %s", sig, b)
		}
		var m alert.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return w, srv.URL
}

func (w *webhookServer) received() []alert.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]alert.Message(nil), w.msgs...)
}

// alertBanner is the text of a page's alert banner, "" without one.
func alertBanner(t *testing.T, p *rod.Page) string {
	t.Helper()
	return eval(t, p, `() => { const e = document.getElementById("tt-alert"); return e ? e.textContent : "" }`).Str()
}

// TestAlertOnASilentStream: a dashboard whose panel declares sla
// {fresh_within: 2s} on a stream that goes silent fires an alert: the
// webhook (a test HTTP server) receives one signed firing message and the
// tenant's page shows the banner naming the panel, while the other
// tenant's page of the same dashboard, whose stream speaks, shows none;
// when the stream speaks again one resolve arrives and the banner clears.
//
// TestAlertOnAMissedP95 drives the p95 target from the pages' reports.
func TestAlertOnASilentStream(t *testing.T) {
	t.Parallel()
	const hookSecret = "e2e-webhook-secret-0123456789"
	hook, hookURL := startWebhookServer(t, hookSecret)
	received := hook.received
	spec := filepath.Join(t.TempDir(), "alerts.json")
	if err := os.WriteFile(spec, []byte(`{"id":"desk","title":"Desk","panels":[{"id":"quiet","kind":"kpi","title":"Quiet one","stream":"quiet","field":"x","width":3,"sla":{"fresh_within":"2s"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"demo": "demo-ingest-key-alerts", "demo2": "demo2-ingest-key-alerts"}
	srv := startServerEnv(t, []string{"DATABASE_URL=", "TELLTALE_ALERT_WEBHOOK_SECRET=" + hookSecret},
		"-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+keys["demo"]+",demo2:"+keys["demo2"],
		"-alert-every", "500ms", "-alert-webhook", hookURL)

	// post publishes x on tenant's quiet stream; it reports, as it may run
	// off the test's goroutine.
	post := func(tenant string, x int) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/ingest", strings.NewReader(fmt.Sprintf(`{"events":[{"stream":"quiet","values":{"x":%d}}]}`, x)))
		req.Header.Set("Authorization", "Bearer "+keys[tenant])
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest: %s", res.Status)
		}
		return nil
	}
	// speak has tenant's stream speak every 300 ms from when start closes
	// until the test ends.
	ctx, stop := context.WithCancel(context.Background())
	var speakers sync.WaitGroup
	defer func() { stop(); speakers.Wait() }()
	speak := func(tenant string, start <-chan struct{}) {
		speakers.Add(1)
		go func() {
			defer speakers.Done()
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			for i := 0; ctx.Err() == nil; i++ {
				if err := post(tenant, i); err != nil && ctx.Err() == nil {
					t.Errorf("%s speaks: %v", tenant, err)
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
	}
	now := make(chan struct{})
	close(now)
	speak("demo2", now) // demo2's stream never goes silent
	if err := post("demo", 1); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	pages := map[string]*rod.Page{}
	for _, tenant := range []string{"demo", "demo2"} {
		p := b.MustIncognito().MustPage("") // separate storage: separate tokens
		if err := p.Navigate(strings.TrimSuffix(srv.URL, "/") + "/d/desk#token=" + token(t, tenant)); err != nil {
			t.Fatal(err)
		}
		pages[tenant] = p
	}
	for _, p := range pages {
		waitLive(t, p)
	}
	banner := func(p *rod.Page) string { return alertBanner(t, p) }

	// demo's stream is silent: one signed firing message, and the banner.
	poll.Until(t, 30*time.Second, func() error {
		if len(received()) == 0 {
			return fmt.Errorf("no webhook message yet")
		}
		if text := banner(pages["demo"]); !strings.Contains(text, "Quiet one: stream quiet silent for") {
			return fmt.Errorf("demo's banner %q, want the silent alert", text)
		}
		return nil
	})
	m := received()[0]
	if m.Tenant != "demo" || m.ID != "desk/quiet/silent" || m.State != "firing" || m.Dashboard != "desk" || m.Panel != "quiet" ||
		!strings.HasPrefix(m.Message, "desk · Quiet one: stream quiet silent for ") || !strings.HasSuffix(m.Message, "(it should speak within 2 s)") {
		t.Fatalf("webhook message %+v, want demo's desk/quiet/silent firing", m)
	}
	if text := banner(pages["demo2"]); text != "" {
		t.Fatalf("demo2's page shows %q: another tenant's alert", text)
	}

	// The cause goes: demo's stream speaks again. One resolve, the banner
	// clears.
	started := make(chan struct{})
	speak("demo", started)
	close(started)
	poll.Until(t, 30*time.Second, func() error {
		if n := len(received()); n < 2 {
			return fmt.Errorf("%d webhook messages, waiting for the resolve", n)
		}
		if text := banner(pages["demo"]); text != "" {
			return fmt.Errorf("demo's banner still shows %q", text)
		}
		return nil
	})
	got := received()
	if len(got) != 2 || got[1].State != "resolved" || got[1].ID != m.ID || !got[1].Since.Equal(m.Since) {
		t.Fatalf("webhook messages %+v, want one firing and one resolve of the same episode", got)
	}
	if text := banner(pages["demo2"]); text != "" {
		t.Fatalf("demo2's page shows %q", text)
	}
}

// TestAlertOnAMissedP95: a page behind a link that adds 400 ms each way
// reports what it paints; its dashboard declares sla {p95_ms: 250, for:
// 30s}, which that link misses. The webhook receives one signed firing
// message naming the p95 and where the time went (the network), and the
// banner shows; once the delay is gone (the link cut and reopened without
// it) and the period holds no delayed paint, one resolve arrives and the
// banner clears.
func TestAlertOnAMissedP95(t *testing.T) {
	t.Parallel()
	const hookSecret = "e2e-webhook-secret-0123456789"
	hook, hookURL := startWebhookServer(t, hookSecret)
	spec := filepath.Join(t.TempDir(), "p95.json")
	if err := os.WriteFile(spec, []byte(`{"id":"desk","title":"Desk","sla":{"p95_ms":250,"for":"30s"},"panels":[{"id":"queue-now","kind":"kpi","title":"Queue depth","stream":"metrics","field":"queue_depth","width":3}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServerEnv(t, []string{"DATABASE_URL=", "TELLTALE_ALERT_WEBHOOK_SECRET=" + hookSecret},
		"-dashboards", spec, "-alert-every", "1s", "-alert-webhook", hookURL)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	proxy.SetDelay(400 * time.Millisecond)
	p := newBrowser(t).MustPage("")
	if err := p.Navigate("http://" + proxy.Addr() + "/d/desk#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)

	poll.Until(t, 90*time.Second, func() error {
		if len(hook.received()) == 0 {
			var seen []string
			for _, pa := range slaAnswer(t, srv.URL, "desk").Panels {
				seen = append(seen, fmt.Sprintf("%s/%s: %d painted, p95 %.0f ms", pa.Dashboard, pa.Panel, pa.Painted, pa.P95Ms))
			}
			return fmt.Errorf("no webhook message yet; the pages reported %v", seen)
		}
		if text := alertBanner(t, p); !strings.Contains(text, "p95 event→paint") {
			return fmt.Errorf("banner %q, want the p95 alert", text)
		}
		return nil
	})
	m := hook.received()[0]
	t.Logf("fired: %s", m.Message)
	if m.Tenant != "demo" || m.ID != "desk/queue-now/p95" || m.State != "firing" ||
		!strings.HasPrefix(m.Message, "desk · Queue depth: p95 event→paint ") || !strings.Contains(m.Message, "over the last 30 s (target 250 ms); ") ||
		!strings.HasSuffix(m.Message, "of the time spent in the network") {
		t.Fatalf("webhook message %+v, want demo's desk/queue-now/p95 firing, the time in the network", m)
	}

	// The cause goes: new connections are not delayed, and the page's
	// reconnects at once.
	proxy.SetDelay(0)
	proxy.Block()
	proxy.Unblock()
	poll.Until(t, 5*time.Minute, func() error {
		if n := len(hook.received()); n < 2 {
			return fmt.Errorf("%d webhook messages, waiting for the resolve", n)
		}
		if text := alertBanner(t, p); text != "" {
			return fmt.Errorf("banner still shows %q", text)
		}
		return nil
	})
	got := hook.received()
	t.Logf("resolved: %s", got[1].Message)
	if len(got) != 2 || got[1].State != "resolved" || got[1].ID != m.ID || !got[1].Since.Equal(m.Since) {
		t.Fatalf("webhook messages %+v, want one firing and one resolve of the same episode", got)
	}
}

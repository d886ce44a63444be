package alert

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
)

// receiver is a webhook endpoint that answers each call with the next of
// its statuses (the last one from then on) and keeps what it was sent.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	calls    int
	bodies   [][]byte
	sigs     []string
	delivery []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	status := rc.statuses[min(rc.calls, len(rc.statuses)-1)]
	rc.calls++
	if status == http.StatusOK {
		rc.bodies = append(rc.bodies, b)
		rc.sigs = append(rc.sigs, r.Header.Get(SignatureHeader))
		rc.delivery = append(rc.delivery, r.Header.Get(DeliveryHeader))
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() (calls, delivered int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, len(rc.bodies)
}

// startWebhook runs a Webhook to rc until the test ends.
func startWebhook(t *testing.T, rc *receiver, cfg WebhookConfig) (*Webhook, *metrics.Registry) {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	reg := metrics.New()
	cfg.URL, cfg.Metrics = srv.URL, reg
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	w := NewWebhook(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, reg
}

var firing = dashboard.Alert{ID: "orders-desk/latest/p95", State: dashboard.AlertFiring, Dashboard: "orders-desk", Panel: "latest",
	Message: "orders-desk · Latest orders: p95 event→paint 3.1 s", Since: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}

// The body is the alert as JSON, signed with the secret: the receiver's
// HMAC of the raw body matches the header, and a wrong secret does not.
func TestWebhookSignsTheBody(t *testing.T) {
	rc := &receiver{statuses: []int{200}}
	secret := []byte("s3cret")
	w, _ := startWebhook(t, rc, WebhookConfig{Secret: secret})
	at := firing.Since.Add(time.Second)
	w.Send("acme", firing, at)
	poll.Until(t, 10*time.Second, func() error {
		if _, n := rc.count(); n != 1 {
			return fmt.Errorf("%d delivered, want 1", n)
		}
		return nil
	})
	body, sig := rc.bodies[0], rc.sigs[0]
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, body))) {
		t.Fatalf("signature %q does not match the body's %q", sig, Sign(secret, body))
	}
	if Sign([]byte("other"), body) == sig {
		t.Fatal("another secret signs the same")
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	want := Message{Tenant: "acme", ID: firing.ID, State: "firing", Dashboard: "orders-desk", Panel: "latest", Message: firing.Message, Since: firing.Since, At: at}
	if m != want {
		t.Fatalf("body %+v, want %+v", m, want)
	}
	if rc.delivery[0] != "acme/orders-desk/latest/p95/firing/"+fmt.Sprint(firing.Since.UnixMilli()) {
		t.Fatalf("delivery id %q", rc.delivery[0])
	}
}

// A failing receiver is tried again with backoff until it takes the
// message; it gets it once.
func TestWebhookRetries(t *testing.T) {
	rc := &receiver{statuses: []int{500, 503, 429, 200}}
	w, reg := startWebhook(t, rc, WebhookConfig{})
	w.Send("acme", firing, firing.Since)
	poll.Until(t, 10*time.Second, func() error {
		if calls, n := rc.count(); n != 1 || calls != 4 {
			return fmt.Errorf("%d calls, %d delivered; want 4 calls, 1 delivered", calls, n)
		}
		return nil
	})
	if got := reg.Lookup("telltale_alert_webhook_retries_total").Load(); got != 3 {
		t.Fatalf("%d retries counted, want 3", got)
	}
}

// Retries are bounded; a refusal (4xx) is not retried; the next message
// is delivered after either.
func TestWebhookGivesUp(t *testing.T) {
	rc := &receiver{statuses: []int{503}}
	w, reg := startWebhook(t, rc, WebhookConfig{Attempts: 3})
	w.Send("acme", firing, firing.Since)
	failed := reg.Lookup("telltale_alert_webhooks_failed_total")
	poll.Until(t, 10*time.Second, func() error {
		if failed.Load() != 1 {
			return fmt.Errorf("%d failed", failed.Load())
		}
		return nil
	})
	if calls, _ := rc.count(); calls != 3 {
		t.Fatalf("%d calls, want the 3 attempts", calls)
	}
	rc.mu.Lock()
	rc.statuses, rc.calls = []int{400, 200}, 0
	rc.mu.Unlock()
	resolved := firing
	resolved.State = dashboard.AlertResolved
	w.Send("acme", resolved, firing.Since)
	poll.Until(t, 10*time.Second, func() error {
		if failed.Load() != 2 {
			return fmt.Errorf("%d failed, want 2", failed.Load())
		}
		return nil
	})
	if calls, _ := rc.count(); calls != 1 {
		t.Fatalf("a 400 was tried %d times, want once", calls)
	}
}

// One firing message per episode and one resolve: the same alert, state
// and episode sent again is dropped; a new episode is sent.
func TestWebhookDeduplicates(t *testing.T) {
	rc := &receiver{statuses: []int{200}}
	w, reg := startWebhook(t, rc, WebhookConfig{})
	resolved := firing
	resolved.State = dashboard.AlertResolved
	again := firing
	again.Since = firing.Since.Add(time.Hour)
	for _, a := range []dashboard.Alert{firing, firing, resolved, resolved, firing, again} {
		w.Send("acme", a, a.Since)
	}
	w.Send("globex", firing, firing.Since) // another tenant's alert of the same id
	poll.Until(t, 10*time.Second, func() error {
		if _, n := rc.count(); n != 4 {
			return fmt.Errorf("%d delivered, want 4", n)
		}
		return nil
	})
	if got := reg.Lookup("telltale_alert_webhook_duplicates_total").Load(); got != 3 {
		t.Fatalf("%d duplicates counted, want 3", got)
	}
}

// Send never blocks: with nobody delivering and the queue full, messages
// are dropped and counted.
func TestWebhookSendNeverBlocks(t *testing.T) {
	reg := metrics.New()
	w := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:0/", Queue: 2, Metrics: reg})
	for i := range 5 {
		a := firing
		a.ID = fmt.Sprintf("d/p%d/p95", i)
		w.Send("acme", a, a.Since) // no Run: nothing takes them
	}
	if got := reg.Lookup("telltale_alert_webhooks_dropped_total").Load(); got != 3 {
		t.Fatalf("%d dropped, want 3", got)
	}
}

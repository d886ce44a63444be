package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/dashboard"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body,
// keyed with the webhook's secret: a receiver recomputes it over the raw
// body and compares in constant time (Sign).
const SignatureHeader = "X-Telltale-Signature"

// DeliveryHeader names one message, the same on every retry of it and
// whichever node sends it ("tenant/id/state/since-ms", all from the alert's
// row), so that a receiver can drop a repeat of a message it took: delivery
// is at least once (Outbox).
const DeliveryHeader = "X-Telltale-Delivery"

// Message is the JSON body of a webhook call.
type Message struct {
	Tenant    string    `json:"tenant"`
	ID        string    `json:"id"`
	State     string    `json:"state"` // firing or resolved
	Dashboard string    `json:"dashboard"`
	Panel     string    `json:"panel"`
	Message   string    `json:"message"`
	Since     time.Time `json:"since"` // when the episode fired
	At        time.Time `json:"at"`    // when this state was decided
}

// Sign is the value of SignatureHeader for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// WebhookConfig configures a Webhook. Zero values are the documented
// defaults.
type WebhookConfig struct {
	URL    string
	Secret []byte // signs every body; empty sends no signature
	// Client makes the calls; nil means one with a 10 s timeout.
	Client *http.Client
	// Queue is how many messages wait at most; past it the newest is
	// dropped and counted. Zero means 1000.
	Queue int
	// Attempts is how many times one message is tried; zero means 8.
	Attempts int
	// Backoff is the wait before the first retry, doubled before each next
	// one up to MaxBackoff; zero means 1 s and 1 min.
	Backoff, MaxBackoff time.Duration
	Logger              *slog.Logger // nil means discard
	Metrics             *metrics.Registry
}

// Webhook delivers alerts to one URL: Send queues (never blocks), Run
// delivers in order, retrying with exponential backoff, a bounded number of
// times. Send drops a message it was given already (the same alert, state
// and episode), so each episode is one firing and one resolve message.
type Webhook struct {
	cfg   WebhookConfig
	log   *slog.Logger
	queue chan Message

	mu   sync.Mutex
	last map[string]string // tenant/id → state/since of the newest message taken

	sent, retried, dropped, failed, dupes *metrics.Value
}

// maxDedupe bounds Webhook.last: past it, the resolved entries go (a
// resolve sent twice is the least harm).
const maxDedupe = 100_000

// NewWebhook returns a Webhook; Run delivers what Send queues.
func NewWebhook(cfg WebhookConfig) *Webhook {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	m := cfg.Metrics
	return &Webhook{cfg: cfg, log: cfg.Logger, queue: make(chan Message, cfg.Queue), last: map[string]string{},
		sent:    m.Counter("telltale_alert_webhooks_sent_total", "alert webhook messages delivered (2xx)"),
		retried: m.Counter("telltale_alert_webhook_retries_total", "alert webhook calls tried again"),
		dropped: m.Counter("telltale_alert_webhooks_dropped_total", "alert webhook messages dropped: the queue was full"),
		failed:  m.Counter("telltale_alert_webhooks_failed_total", "alert webhook messages given up on after every attempt, or refused (4xx)"),
		dupes:   m.Counter("telltale_alert_webhook_duplicates_total", "alert webhook messages not sent again: the same alert, state and episode"),
	}
}

// Send queues a's message; it never blocks. It is Evaluator's Notify for a
// Webhook fed from memory; the server feeds it from the alerts stream
// instead (Outbox), which a new leader reads.
func (w *Webhook) Send(tenant string, a dashboard.Alert, at time.Time) {
	if !w.take(tenant, a) {
		return
	}
	m := message(tenant, a, at)
	select {
	case w.queue <- m:
	default:
		w.dropped.Inc()
		w.log.Warn("alert webhook: queue full, message dropped", "tenant", tenant, "id", a.ID, "state", a.State)
	}
}

// take reports whether a's message is one to send: false (counted) for the
// same message again, or the firing of an episode already resolved.
func (w *Webhook) take(tenant string, a dashboard.Alert) bool {
	since := strconv.FormatInt(a.Since.UnixMilli(), 10)
	k, v := tenant+"/"+a.ID, a.State+"/"+since
	w.mu.Lock()
	defer w.mu.Unlock()
	if last := w.last[k]; last == v || last == dashboard.AlertResolved+"/"+since {
		w.dupes.Inc()
		return false
	}
	if len(w.last) >= maxDedupe {
		for key, s := range w.last {
			if strings.HasPrefix(s, dashboard.AlertResolved+"/") {
				delete(w.last, key)
			}
		}
	}
	w.last[k] = v
	return true
}

func message(tenant string, a dashboard.Alert, at time.Time) Message {
	return Message{Tenant: tenant, ID: a.ID, State: a.State, Dashboard: a.Dashboard, Panel: a.Panel, Message: a.Message, Since: a.Since.UTC(), At: at.UTC()}
}

// Run delivers queued messages until ctx ends.
func (w *Webhook) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-w.queue:
			_ = w.deliver(ctx, m)
		}
	}
}

// errPermanent: the receiver refused the message; trying again will not help.
var errPermanent = errors.New("refused")

// deliver posts m until the receiver takes it, refuses it or every
// attempt failed (true), or ctx ends first (false: not settled).
func (w *Webhook) deliver(ctx context.Context, m Message) bool {
	body, err := json.Marshal(m)
	if err != nil { // a Message always marshals
		w.failed.Inc()
		return true
	}
	delivery := m.Tenant + "/" + m.ID + "/" + m.State + "/" + strconv.FormatInt(m.Since.UnixMilli(), 10)
	wait := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := w.post(ctx, body, delivery)
		if err == nil {
			w.sent.Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, errPermanent) || attempt >= w.cfg.Attempts {
			w.failed.Inc()
			w.log.Warn("alert webhook: message not delivered", "tenant", m.Tenant, "id", m.ID, "state", m.State, "attempts", attempt, "err", err)
			return true
		}
		w.retried.Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, w.cfg.MaxBackoff)
	}
}

func (w *Webhook) post(ctx context.Context, body []byte, delivery string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "telltale-alerts")
	req.Header.Set(DeliveryHeader, delivery)
	if len(w.cfg.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, body))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return fmt.Errorf("%w: status %d", errPermanent, resp.StatusCode)
}

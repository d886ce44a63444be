// Package hooktest is an alert webhook receiver for tests, as
// docs/DASHBOARDS.md asks receivers to be: it checks each call's signature
// and takes each X-Telltale-Delivery id once, answering 2xx to a repeat.
// It can be told to fail every call (503) or to hang it until the sender
// gives up.
package hooktest

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/internal/poll"
)

// Mode is how the receiver answers.
type Mode int

const (
	Take Mode = iota // take each delivery id once
	Fail             // answer 503
	Hang             // hold the call until the sender gives up
)

// Receiver is the webhook's endpoint.
type Receiver struct {
	t       testing.TB
	secret  string
	mu      sync.Mutex
	mode    Mode
	calls   int
	ids     map[string]bool
	taken   []alert.Message
	repeats int
}

// Start serves a receiver checking signatures made with secret, answering
// as mode says, until the test ends; it returns the receiver and its URL.
func Start(t testing.TB, secret string, mode Mode) (*Receiver, string) {
	t.Helper()
	h := &Receiver{t: t, secret: secret, mode: mode, ids: map[string]bool{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

// SetMode changes how the receiver answers from the next call on.
func (h *Receiver) SetMode(m Mode) {
	h.mu.Lock()
	h.mode = m
	h.mu.Unlock()
}

func (h *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if sig := r.Header.Get(alert.SignatureHeader); !hmac.Equal([]byte(sig), []byte(alert.Sign([]byte(h.secret), b))) {
		h.t.Errorf("webhook signature %q does not match the body %s", sig, b)
	}
	h.mu.Lock()
	h.calls++
	mode := h.mode
	h.mu.Unlock()
	switch mode {
	case Fail:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case Hang:
		<-r.Context().Done() // the sender gives up (its term ended)
		return
	}
	id := r.Header.Get(alert.DeliveryHeader)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids[id] {
		h.repeats++
		return
	}
	var m alert.Message
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Errorf("webhook body %s: %v", b, err)
	}
	h.ids[id] = true
	h.taken = append(h.taken, m)
}

// State is the calls made, the messages taken (in order) and the repeats
// dropped so far.
func (h *Receiver) State() (calls int, taken []alert.Message, repeats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]alert.Message(nil), h.taken...), h.repeats
}

// FiringThenResolve waits for the firing of alert id, then calls speak
// every 100 ms (the silent stream speaks again) until the receiver has
// taken the resolve, and fails t unless it took exactly that firing and
// its resolve, once each.
func (h *Receiver) FiringThenResolve(t testing.TB, id string, speak func() error) {
	t.Helper()
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := h.State(); len(taken) == 0 {
			return errors.New("the firing has not been delivered")
		}
		return nil
	})
	stop := make(chan struct{})
	spoke := make(chan struct{})
	go func() {
		defer close(spoke)
		for {
			if err := speak(); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-spoke }()
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := h.State(); len(taken) < 2 {
			return errors.New("no resolve yet")
		}
		return nil
	})
	calls, taken, repeats := h.State()
	t.Logf("%d webhook calls, %d repeats dropped by the receiver", calls, repeats)
	if len(taken) != 2 || taken[0].State != "firing" || taken[1].State != "resolved" || taken[0].ID != id ||
		taken[1].ID != taken[0].ID || !taken[1].Since.Equal(taken[0].Since) {
		t.Fatalf("receiver took %+v, want the firing of %s and its resolve", taken, id)
	}
}

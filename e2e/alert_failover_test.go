//go:build e2e

package e2e

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

const failoverHookSecret = "e2e-failover-secret-0123456789"

// dedupingHook is an alert webhook receiver as docs/DASHBOARDS.md asks for:
// it checks the signature and takes each X-Telltale-Delivery id once,
// answering 2xx to a repeat. While failing it answers 503.
type dedupingHook struct {
	t       *testing.T
	mu      sync.Mutex
	failing bool
	calls   int
	ids     map[string]bool
	taken   []alert.Message
	repeats int
}

func startDedupingHook(t *testing.T, failing bool) (*dedupingHook, string) {
	t.Helper()
	h := &dedupingHook{t: t, failing: failing, ids: map[string]bool{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *dedupingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if sig := r.Header.Get(alert.SignatureHeader); !hmac.Equal([]byte(sig), []byte(alert.Sign([]byte(failoverHookSecret), b))) {
		h.t.Errorf("webhook signature %q does not match the body %s", sig, b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get(alert.DeliveryHeader)
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

func (h *dedupingHook) state() (calls int, taken []alert.Message, repeats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]alert.Message(nil), h.taken...), h.repeats
}

// alertNodes starts two nodes of the binary on db with spec as their
// dashboard and the webhook at hookURL, and returns them with the index of
// the one that leads.
func alertNodes(t *testing.T, db *pgtest.DB, spec, hookURL string) ([]*server, int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "alerts.json")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"DATABASE_URL=" + db.DSN, "TELLTALE_ALERT_WEBHOOK_SECRET=" + failoverHookSecret}
	var nodes []*server
	for range 2 { // one after the other: the first migrates the database
		nodes = append(nodes, startServerEnv(t, env, "-demo=false", "-dashboards", file, "-leader-retry", "200ms",
			"-alert-every", "200ms", "-alert-webhook", hookURL))
	}
	return nodes, leaderOf(t, nodes, -1)
}

// leaderOf waits until exactly one node but skip says it leads.
func leaderOf(t *testing.T, nodes []*server, skip int) int {
	t.Helper()
	who := -1
	poll.Until(t, 15*time.Second, func() error {
		var leaders []int
		for i, s := range nodes {
			if i == skip {
				continue
			}
			res, err := http.Get(s.URL + "/healthz")
			if err != nil {
				return err
			}
			var h struct {
				Leader bool `json:"leader"`
			}
			err = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			if err != nil {
				return err
			}
			if h.Leader {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("nodes leading: %v, want one", leaders)
		}
		who = leaders[0]
		return nil
	})
	return who
}

// TestAlertWebhookAfterLeaderKilled: two nodes on one PostgreSQL; a
// panel's stream goes silent past its sla while the webhook's receiver
// fails. The leader writes the firing row and retries its call; it is
// killed (-9) before the receiver takes it. The next leader delivers the
// firing from the alerts stream (before the outbox it was lost with the
// dead leader's memory, and the next leader, adopting the firing row, never
// sent it), once to a receiver that drops repeats by delivery id, and then
// the resolve when the stream speaks again.
func TestAlertWebhookAfterLeaderKilled(t *testing.T) {
	t.Parallel()
	hook, hookURL := startDedupingHook(t, true)
	db := pgtest.New(t)
	nodes, first := alertNodes(t, db, `{"id":"desk","title":"Desk","panels":[{"id":"quiet","kind":"kpi","title":"Quiet one","stream":"quiet","field":"x","sla":{"fresh_within":"1s"}}]}`, hookURL)
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	speak := func() error {
		return pub.Append(context.Background(), "acme", "quiet", []wire.Event{{Values: map[string]float64{"x": 1}}})
	}
	if err := speak(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		if calls, _, _ := hook.state(); calls < 2 {
			return fmt.Errorf("%d webhook calls, want the firing tried twice", calls)
		}
		return nil
	})
	nodes[first].kill(t)
	killed := time.Now()
	hook.mu.Lock()
	hook.failing = false
	hook.mu.Unlock()
	next := leaderOf(t, nodes, first)
	t.Logf("node %d leads %v after node %d was killed", next, time.Since(killed).Round(time.Millisecond), first)
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := hook.state(); len(taken) == 0 {
			return errors.New("the next leader has not delivered the firing")
		}
		return nil
	})
	t.Logf("the firing was delivered %v after the kill", time.Since(killed).Round(time.Millisecond))

	ctx, stop := context.WithCancel(context.Background())
	spoke := make(chan struct{})
	go func() {
		defer close(spoke)
		for ctx.Err() == nil {
			if err := speak(); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); <-spoke }()
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := hook.state(); len(taken) < 2 {
			return errors.New("no resolve yet")
		}
		return nil
	})
	calls, taken, repeats := hook.state()
	t.Logf("%d webhook calls, %d repeats dropped by the receiver", calls, repeats)
	if len(taken) != 2 || taken[0].State != "firing" || taken[1].State != "resolved" || taken[0].ID != "desk/quiet/silent" ||
		taken[1].ID != taken[0].ID || !taken[1].Since.Equal(taken[0].Since) {
		t.Fatalf("receiver took %+v, want the firing of desk/quiet/silent and its resolve", taken)
	}
}

// TestAlertSilenceAcrossLeaderKill: a panel's stream has never spoken; its
// silence counts from the leader's first look. The leader is killed (-9) 2 s
// into the 5 s fresh_within: the next leader fires when the 5 s are up, as
// the first would have, not 5 s after its own start (before, its clock
// started again, postponing the alert past the kill + 5 s).
func TestAlertSilenceAcrossLeaderKill(t *testing.T) {
	t.Parallel()
	const within = 5 * time.Second
	hook, hookURL := startDedupingHook(t, false)
	db := pgtest.New(t)
	nodes, first := alertNodes(t, db, `{"id":"desk","title":"Desk","panels":[{"id":"never","kind":"kpi","title":"Never speaks","stream":"never","field":"x","sla":{"fresh_within":"5s"}}]}`, hookURL)
	// The tenant's first event (another stream): the leader judges its
	// dashboards from the next evaluation on.
	before := time.Now()
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	if err := pub.Append(context.Background(), "acme", "noise", []wire.Event{{Values: map[string]float64{"x": 1}}}); err != nil {
		t.Fatal(err)
	}
	// The scenario's time, not a wait for a condition: the leader dies 2 s
	// into the stream's silence.
	<-time.After(2 * time.Second)
	nodes[first].kill(t)
	killed := time.Now()
	leaderOf(t, nodes, first)
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := hook.state(); len(taken) == 0 {
			return errors.New("no firing yet")
		}
		return nil
	})
	_, taken, _ := hook.state()
	m := taken[0]
	if m.State != "firing" || m.ID != "desk/never/silent" {
		t.Fatalf("took %+v, want the firing of desk/never/silent", m)
	}
	t.Logf("fired %v after the tenant's first event (fresh_within %v), %v after the leader was killed",
		m.Since.Sub(before).Round(time.Millisecond), within, m.Since.Sub(killed).Round(time.Millisecond))
	if m.Since.Before(before.Add(within)) {
		t.Fatalf("fired at %v, before the stream was silent for %v", m.Since, within)
	}
	if !m.Since.Before(killed.Add(within)) {
		t.Fatalf("fired %v after the kill: the next leader counted the silence from its own start, not from the first leader's look", m.Since.Sub(killed))
	}
}

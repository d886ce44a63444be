//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/hooktest"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

const failoverHookSecret = "e2e-failover-secret-0123456789"

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
	hook, hookURL := hooktest.Start(t, failoverHookSecret, hooktest.Fail)
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
		if calls, _, _ := hook.State(); calls < 2 {
			return fmt.Errorf("%d webhook calls, want the firing tried twice", calls)
		}
		return nil
	})
	nodes[first].kill(t)
	killed := time.Now()
	hook.SetMode(hooktest.Take)
	next := leaderOf(t, nodes, first)
	t.Logf("node %d leads %v after node %d was killed", next, time.Since(killed).Round(time.Millisecond), first)
	poll.Until(t, 20*time.Second, func() error {
		if _, taken, _ := hook.State(); len(taken) == 0 {
			return errors.New("the next leader has not delivered the firing")
		}
		return nil
	})
	t.Logf("the firing was delivered %v after the kill", time.Since(killed).Round(time.Millisecond))

	hook.FiringThenResolve(t, "desk/quiet/silent", speak)
}

// TestAlertSilenceAcrossLeaderKill: a panel's stream has never spoken; its
// silence counts from the leader's first look. The leader is killed (-9) 2 s
// into the 5 s fresh_within: the next leader fires when the 5 s are up, as
// the first would have, not 5 s after its own start (before, its clock
// started again, postponing the alert past the kill + 5 s).
func TestAlertSilenceAcrossLeaderKill(t *testing.T) {
	t.Parallel()
	const within = 5 * time.Second
	hook, hookURL := hooktest.Start(t, failoverHookSecret, hooktest.Take)
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
		if _, taken, _ := hook.State(); len(taken) == 0 {
			return errors.New("no firing yet")
		}
		return nil
	})
	_, taken, _ := hook.State()
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

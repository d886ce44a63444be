package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/hooktest"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// TestClusterAlertWebhookSurvivesADrainedLeader: two servers on one
// database; a panel's stream goes silent past its sla while the webhook's
// receiver hangs. The leader writes the firing row, its call hangs, and it
// is drained (a rolling restart). The next leader delivers the firing from
// the alerts stream (before the outbox, it was lost with the old leader's
// queue, and the new leader, adopting the firing row, never sent it), once
// to a receiver that drops repeats by delivery id; the resolve follows.
func TestClusterAlertWebhookSurvivesADrainedLeader(t *testing.T) {
	t.Parallel()
	const hookSecret = "hook-secret-0123456789"
	rc, hookURL := hooktest.Start(t, hookSecret, hooktest.Hang)
	db := pgtest.New(t)
	nodes := startNodes(t, db, 2, `{"id":"desk","title":"Desk","panels":[{"id":"quiet","kind":"kpi","title":"Quiet one","stream":"quiet","field":"x","sla":{"fresh_within":"1s"}}]}`,
		"-alert-every", "200ms", "-alert-webhook", hookURL, "-alert-webhook-secret", hookSecret, "-drain-delay", "100ms")
	first := theLeader(t, nodes)
	other := nodes[0]
	if other == first {
		other = nodes[1]
	}
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	speak := func() error {
		return pub.Append(context.Background(), "acme", "quiet", []wire.Event{{Values: map[string]float64{"x": 1}}})
	}
	if err := speak(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		if calls, _, _ := rc.State(); calls == 0 {
			return errors.New("the leader has not called the webhook yet")
		}
		return nil
	})
	var rows, cursor int64
	if err := db.Pool.QueryRow(context.Background(), `SELECT last_seq, coalesce((SELECT seq FROM telltale.alert_deliveries WHERE tenant = 'acme'), 0)
		FROM telltale.streams WHERE tenant = 'acme' AND stream = $1`, dashboard.AlertsStream).Scan(&rows, &cursor); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || cursor != 0 {
		t.Fatalf("alerts stream at seq %d, delivery cursor at %d; want the firing row written and not delivered", rows, cursor)
	}

	first.stop() // drained while its call hangs
	rc.SetMode(hooktest.Take)
	poll.Until(t, 10*time.Second, func() error {
		if !other.leads(t) {
			return errors.New("the other node does not lead yet")
		}
		return nil
	})
	rc.FiringThenResolve(t, "desk/quiet/silent", speak)
	var cur int64
	poll.Until(t, 10*time.Second, func() error {
		if err := db.Pool.QueryRow(context.Background(), `SELECT seq FROM telltale.alert_deliveries WHERE tenant = 'acme'`).Scan(&cur); err != nil {
			return err
		}
		if cur != 2 {
			return fmt.Errorf("delivery cursor at %d, want 2 (both rows taken)", cur)
		}
		return nil
	})
}

// A new leader adopts the firing alerts of the tenant's stream only once
// its hub has read the stream as far as PostgreSQL holds it: adopting too
// few (a row the last leader wrote just before it died, not yet read by
// this node's follower) would fire those alerts again as new episodes, and
// the outbox would deliver both.
func TestAlertsCurrentWaitsForTheStore(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	pg := pgstore.New(pgstore.Config{Pool: db.Pool})
	a := dashboard.Alert{ID: "desk/quiet/silent", State: dashboard.AlertFiring, Dashboard: "desk", Panel: "quiet", Message: "silent", Since: time.UnixMilli(1_700_000_000_000)}
	evs := []wire.Event{dashboard.AlertEvent(a)}
	if err := pg.Append(ctx, "acme", dashboard.AlertsStream, evs); err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{})
	current := currentAlerts(h, pg.Head)
	if got, err := current("acme"); err == nil {
		t.Fatalf("the hub has not read the row the store holds: got %+v and no error, want an error (judge again later)", got)
	}
	h.Publish("acme", evs) // the follower reads it
	got, err := current("acme")
	if err != nil || len(got) != 1 || got[0].ID != a.ID || got[0].State != dashboard.AlertFiring {
		t.Fatalf("got %+v (err %v), want the firing alert", got, err)
	}
	if got, err := current("globex"); err != nil || len(got) != 0 {
		t.Fatalf("a tenant without alerts: got %+v (err %v), want none", got, err)
	}
}

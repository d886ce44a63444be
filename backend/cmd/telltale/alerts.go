package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// alertFlags are the alerts' flags (docs/DASHBOARDS.md, "Targets and
// alerts"): where the webhook goes, its secret, and how often targets are
// judged.
type alertFlags struct {
	webhook string
	secret  string
	every   time.Duration
}

func (a *alertFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.webhook, "alert-webhook", "", "`URL` that every alert (a panel missing its sla) and its resolve are POSTed to as signed JSON; empty: alerts show only on the tenant's pages")
	fs.StringVar(&a.secret, "alert-webhook-secret", "", "the `secret` webhook bodies are signed with (HMAC-SHA256, header X-Telltale-Signature); prefer the environment variable: a command line shows in the process list")
	fs.DurationVar(&a.every, "alert-every", 15*time.Second, "time between two evaluations of the dashboards' sla targets")
}

// check refuses nonsense; name says where a flag's value came from
// (envFlags.name).
func (a *alertFlags) check(name func(flag string) string) error {
	if a.every <= 0 {
		return fmt.Errorf("%s: want a positive duration like 15s", name("alert-every"))
	}
	if a.webhook == "" {
		return nil
	}
	u, err := url.Parse(a.webhook)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %.100q: want an http or https URL", name("alert-webhook"), a.webhook)
	}
	if len(a.secret) < 16 {
		return errors.New("-alert-webhook needs a secret of 16 characters or more in TELLTALE_ALERT_WEBHOOK_SECRET (or -alert-webhook-secret): receivers check the signature with it")
	}
	return nil
}

// alerts builds the sla evaluator over the hub and the store, and the
// webhook's outbox; run runs them both. querier
// answers the pages' reports (nil: only silent streams are judged). The
// webhook delivers the rows of the tenants' alerts streams from cursors
// kept by the cluster (cluster.go), so a new leader delivers what the last
// one wrote and did not deliver; silence that the hub cannot date counts
// from a time the cluster keeps.
func alerts(cfg alertFlags, h *hub.Hub, b *boards, store interface {
	Append(ctx context.Context, tenant, stream string, evs []wire.Event) error
	Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error)
}, cl *cluster, querier sla.Querier, log *slog.Logger, reg *metrics.Registry) (run func(ctx context.Context, goRun func(string, func(context.Context) error))) {
	acfg := alert.Config{
		Querier: querier,
		Every:   cfg.every,
		Logger:  log,
		Metrics: reg,
		// The tenants the hub holds (the built-in dashboards are every
		// tenant's) and those with stored dashboards.
		Tenants: func(context.Context) ([]string, error) {
			ts := h.Tenants()
			for _, t := range b.Stored() {
				if !slices.Contains(ts, t) {
					ts = append(ts, t)
				}
			}
			return ts, nil
		},
		Dashboards: func(_ context.Context, tenant string) ([]dashboard.Dashboard, error) {
			return b.Dashboards(tenant), nil
		},
		Newest:  h.Newest,
		Current: currentAlerts(h, cl.storeHead()),
		Publish: func(ctx context.Context, tenant string, evs []wire.Event) error {
			return store.Append(ctx, tenant, dashboard.AlertsStream, evs)
		},
		Silence: cl.silence(),
	}
	// Without a webhook the outbox only moves the cursors along, so that
	// configuring one later does not send every alert since.
	var wh *alert.Webhook
	if cfg.webhook != "" {
		wh = alert.NewWebhook(alert.WebhookConfig{URL: cfg.webhook, Secret: []byte(cfg.secret), Logger: log, Metrics: reg})
	}
	out := alert.NewOutbox(alert.OutboxConfig{Webhook: wh, Cursors: cl.alertCursors(), Logger: log, Metrics: reg,
		Read: func(ctx context.Context, tenant string, after uint64, limit int) ([]wire.Event, error) {
			return store.Read(ctx, tenant, dashboard.AlertsStream, after, limit)
		},
		Head:    func(tenant string) (wire.Cursor, bool) { return h.Cursor(tenant, dashboard.AlertsStream) },
		Tenants: h.Tenants,
	})
	acfg.Notify = out.Notify
	ev := alert.New(acfg)
	return func(ctx context.Context, goRun func(string, func(context.Context) error)) {
		goRun("alert webhook", out.Run)
		goRun("alerts", ev.Run)
	}
}

// alertStore writes alert rows as the leader and reads them back from the
// store.
type alertStore struct {
	appendFunc
	store.History
}

// currentAlerts is the evaluator's Config.Current: the alerts the tenant's
// stream holds in the hub, once the hub has read it as far as the store
// holds it (head; nil with the embedded store, whose hub is the store). A
// new leader whose follower has not yet read the rows the last one wrote
// just before it died would otherwise adopt too few firing alerts and fire
// those again, as new episodes.
func currentAlerts(h *hub.Hub, head func(ctx context.Context, tenant, stream string) (wire.Cursor, bool, error)) func(tenant string) ([]dashboard.Alert, error) {
	return func(tenant string) ([]dashboard.Alert, error) {
		if head != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			want, ok, err := head(ctx, tenant, dashboard.AlertsStream)
			cancel()
			if err != nil {
				return nil, err
			}
			if got, _ := h.Cursor(tenant, dashboard.AlertsStream); ok && (got.Epoch != want.Epoch || got.Seq < want.Seq) {
				return nil, fmt.Errorf("this node has read %s up to seq %d, the store holds %d: judged again at the next evaluation", dashboard.AlertsStream, got.Seq, want.Seq)
			}
		}
		st, err := hubState(h, tenant, dashboard.AlertsStream)
		if err != nil {
			return nil, err
		}
		var out []dashboard.Alert
		for i := range st.Rows {
			if a, ok := dashboard.ParseAlert(&st.Rows[i]); ok {
				out = append(out, a)
			}
		}
		return out, nil
	}
}

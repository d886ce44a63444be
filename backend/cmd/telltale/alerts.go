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

func (a *alertFlags) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.StringVar(&a.webhook, "alert-webhook", env("TELLTALE_ALERT_WEBHOOK", ""), "`URL` that every alert (a panel missing its sla) and its resolve are POSTed to as signed JSON (env TELLTALE_ALERT_WEBHOOK); empty: alerts show only on the tenant's pages")
	// No environment default here: -h prints defaults, and this one is a secret.
	fs.StringVar(&a.secret, "alert-webhook-secret", "", "the `secret` webhook bodies are signed with (HMAC-SHA256, header X-Telltale-Signature); prefer env TELLTALE_ALERT_WEBHOOK_SECRET, which this flag overrides")
	fs.DurationVar(&a.every, "alert-every", envDuration(env("TELLTALE_ALERT_EVERY", "15s")), "time between two evaluations of the dashboards' sla targets (env TELLTALE_ALERT_EVERY)")
}

func (a *alertFlags) check(getenv func(string) string) error {
	if a.every <= 0 {
		return errors.New("-alert-every: want a positive duration like 15s")
	}
	if a.secret == "" {
		a.secret = getenv("TELLTALE_ALERT_WEBHOOK_SECRET")
	}
	if a.webhook == "" {
		return nil
	}
	u, err := url.Parse(a.webhook)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-alert-webhook %.100q: want an http or https URL", a.webhook)
	}
	if len(a.secret) < 16 {
		return errors.New("-alert-webhook needs a secret of 16 characters or more in TELLTALE_ALERT_WEBHOOK_SECRET (or -alert-webhook-secret): receivers check the signature with it")
	}
	return nil
}

// alerts builds the sla evaluator over the hub and the store, and the
// webhook when one is configured; run runs them both. querier answers the
// pages' reports (nil: only silent streams are judged).
func alerts(cfg alertFlags, h *hub.Hub, b *boards, store interface {
	Append(ctx context.Context, tenant, stream string, evs []wire.Event) error
}, querier sla.Querier, log *slog.Logger, reg *metrics.Registry) (run func(ctx context.Context, goRun func(string, func(context.Context) error))) {
	var wh *alert.Webhook
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
		Newest: h.Newest,
		Current: func(tenant string) ([]dashboard.Alert, error) {
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
		},
		Publish: func(ctx context.Context, tenant string, evs []wire.Event) error {
			return store.Append(ctx, tenant, dashboard.AlertsStream, evs)
		},
	}
	if cfg.webhook != "" {
		wh = alert.NewWebhook(alert.WebhookConfig{URL: cfg.webhook, Secret: []byte(cfg.secret), Logger: log, Metrics: reg})
		acfg.Notify = wh.Send
	}
	ev := alert.New(acfg)
	return func(ctx context.Context, goRun func(string, func(context.Context) error)) {
		if wh != nil {
			goRun("alert webhook", wh.Run)
		}
		goRun("alerts", ev.Run)
	}
}

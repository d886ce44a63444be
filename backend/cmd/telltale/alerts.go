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

// Package alert holds dashboards to their freshness targets (the sla of a
// dashboard or panel, docs/DASHBOARDS.md "Targets and alerts"): every 15 s
// an Evaluator reads, per tenant with targets, the pages' reports over each
// target's period (backend/sla's Querier) and the hub's newest event time of
// each panel's stream, fires an alert when a panel misses its target and
// resolves it once it has been clear for a whole evaluation. Alerts are rows
// of the tenant's dashboard.AlertsStream (pages show a banner) and signed
// HTTP messages: an Outbox delivers those rows through a Webhook from a
// cursor kept in the store, so that the next leader delivers what the last
// one wrote and could not.
//
// It must never take a tenant from anything but its own list (each tenant's
// alerts are written to that tenant's stream only), and never block on the
// webhook: delivery is read, retried and deduplicated apart.
package alert

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/shared/dashboard"
	shared "github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// What an alert is about: the last part of its id (dashboard/panel/what).
const (
	WhatP95    = "p95"    // event → paint over the period past p95_ms
	WhatFresh  = "fresh"  // fresh less of the time than fresh_pct
	WhatSilent = "silent" // the stream silent for longer than fresh_within
)

// Config configures an Evaluator. Zero values are the documented defaults.
type Config struct {
	// Querier answers the pages' reports; nil judges only silence.
	Querier sla.Querier
	// Tenants lists the tenants to evaluate (those whose dashboards may
	// declare targets).
	Tenants func(ctx context.Context) ([]string, error)
	// Dashboards lists a tenant's dashboards, resolved and valid.
	Dashboards func(ctx context.Context, tenant string) ([]dashboard.Dashboard, error)
	// Newest is the hub's newest event time of a tenant's stream; false
	// when it holds none.
	Newest func(tenant, stream string) (time.Time, bool)
	// Current is what the tenant's alerts stream holds now: read once per
	// tenant, so that an alert firing before a restart goes on (and is
	// resolved) rather than firing twice. Nil: nothing.
	Current func(tenant string) ([]dashboard.Alert, error)
	// Publish appends events to the tenant's dashboard.AlertsStream (the
	// store's Append, which the hub then serves).
	Publish func(ctx context.Context, tenant string, evs []wire.Event) error
	// Notify is told every firing and resolve once its row is written (the
	// Outbox's, which then delivers the row; or the Webhook's Send); it must
	// not block. Nil: none.
	Notify func(tenant string, a dashboard.Alert, at time.Time)
	// Silence keeps when the silence of a stream the hub holds no event of
	// counts from, where the next leader reads it; nil: this Evaluator's
	// memory (its silence clock starts again with it).
	Silence SilenceClock
	// Every is the time between evaluations; zero means 15 s.
	Every time.Duration
	// MinPainted is how many painted events a panel's period needs before
	// its p95 is judged; zero means 20.
	MinPainted uint64
	Now        func() time.Time // nil means time.Now
	Logger     *slog.Logger     // nil means discard
	Metrics    *metrics.Registry
}

// SilenceClock keeps when the evaluator began to count a stream's silence
// (pgstore's, in PostgreSQL: SilentSince, ForgetSilence).
type SilenceClock interface {
	// SilentSince is when the stream's silence counts from: its newest
	// stored event's time, else the time kept for it, else now (kept).
	SilentSince(ctx context.Context, tenant, stream string, now time.Time) (time.Time, error)
	// ForgetSilence drops the time kept for the stream: no target judges
	// it any more.
	ForgetSilence(ctx context.Context, tenant, stream string) error
}

// Evaluator fires and resolves alerts. Evaluate and Run are not to be
// called at once.
type Evaluator struct {
	cfg     Config
	log     *slog.Logger
	tenants map[string]*tenantState

	fired, resolved, failed *metrics.Value
}

type tenantState struct {
	alerts map[string]*track // by alert id: the firing ones
	// seen is when the silence of a stream the hub held no event of counts
	// from: when the evaluator first looked for it, or what
	// Config.Silence keeps.
	seen map[string]time.Time
}

type track struct {
	alert dashboard.Alert
	clear int // consecutive evaluations that found it clear
}

// New returns an Evaluator.
func New(cfg Config) *Evaluator {
	if cfg.Every <= 0 {
		cfg.Every = 15 * time.Second
	}
	if cfg.MinPainted == 0 {
		cfg.MinPainted = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Evaluator{cfg: cfg, log: cfg.Logger, tenants: map[string]*tenantState{},
		fired:    cfg.Metrics.Counter("telltale_alerts_fired_total", "alerts that fired (a panel missed its sla)"),
		resolved: cfg.Metrics.Counter("telltale_alerts_resolved_total", "alerts that resolved"),
		failed:   cfg.Metrics.Counter("telltale_alert_evaluation_errors_total", "tenant evaluations that failed (tried again at the next)"),
	}
}

// Run evaluates at once and then every Every until ctx ends.
func (e *Evaluator) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Every)
	defer t.Stop()
	for {
		e.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Evaluate judges every tenant's targets once; a tenant whose evaluation
// fails is logged and judged again at the next.
func (e *Evaluator) Evaluate(ctx context.Context) {
	tenants, err := e.cfg.Tenants(ctx)
	if err != nil {
		e.failed.Inc()
		e.log.Warn("alerts: listing tenants failed", "err", err)
		return
	}
	listed := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		listed[t] = true
		if err := e.tenant(ctx, t); err != nil && ctx.Err() == nil {
			e.failed.Inc()
			e.log.Warn("alerts: evaluation failed", "tenant", t, "err", err)
		}
	}
	for t, st := range e.tenants {
		if !listed[t] && len(st.alerts) == 0 {
			delete(e.tenants, t)
		}
	}
}

// verdict is one target's state at one evaluation.
type verdict struct {
	alert  dashboard.Alert // ID, Dashboard, Panel, Message
	firing bool
}

func (e *Evaluator) tenant(ctx context.Context, tenant string) error {
	ds, err := e.cfg.Dashboards(ctx, tenant)
	if err != nil {
		return fmt.Errorf("dashboards: %w", err)
	}
	st := e.tenants[tenant]
	if st == nil {
		st = &tenantState{alerts: map[string]*track{}, seen: map[string]time.Time{}}
		if e.cfg.Current != nil {
			rows, err := e.cfg.Current(tenant)
			if err != nil {
				return fmt.Errorf("read %s: %w", dashboard.AlertsStream, err)
			}
			for _, a := range rows {
				if a.State == dashboard.AlertFiring {
					st.alerts[a.ID] = &track{alert: a}
				}
			}
		}
		e.tenants[tenant] = st
	}
	if len(st.alerts) == 0 && !anyTarget(ds) {
		return nil // nothing to judge, nothing firing
	}
	now := e.cfg.Now()
	verdicts, err := e.judge(ctx, tenant, st, ds, now)
	if err != nil {
		return err
	}
	judged := make(map[string]bool, len(verdicts))
	var evs []wire.Event
	var notes []dashboard.Alert
	var apply []func()
	for _, v := range verdicts {
		judged[v.alert.ID] = true
		tr := st.alerts[v.alert.ID]
		switch {
		case v.firing && tr == nil:
			if len(st.alerts) >= dashboard.MaxAlerts {
				continue // bounded: the tenant's stream keeps no more
			}
			a := v.alert
			a.State, a.Since = dashboard.AlertFiring, now
			evs, notes = append(evs, alertEvent(a, now)), append(notes, a)
			apply = append(apply, func() { st.alerts[a.ID] = &track{alert: a}; e.fired.Inc() })
		case v.firing:
			tr.clear = 0
		case tr != nil:
			// Hysteresis: resolved once clear at two evaluations in a
			// row, so clear for a whole evaluation period.
			if tr.clear++; tr.clear >= 2 {
				evs, notes, apply = e.resolve(tr, now, "", evs, notes, apply, st)
			}
		}
	}
	for id, tr := range st.alerts {
		if !judged[id] { // its target, panel or dashboard is gone
			evs, notes, apply = e.resolve(tr, now, "; its target was removed", evs, notes, apply, st)
		}
	}
	if len(evs) == 0 {
		return nil
	}
	if err := e.cfg.Publish(ctx, tenant, evs); err != nil {
		return fmt.Errorf("write %s: %w", dashboard.AlertsStream, err)
	}
	for _, f := range apply {
		f()
	}
	if e.cfg.Notify != nil {
		for _, a := range notes {
			e.cfg.Notify(tenant, a, now)
		}
	}
	for _, a := range notes {
		e.log.Info("alert "+a.State, "tenant", tenant, "id", a.ID, "message", a.Message)
	}
	return nil
}

func (e *Evaluator) resolve(tr *track, now time.Time, why string, evs []wire.Event, notes []dashboard.Alert, apply []func(), st *tenantState) ([]wire.Event, []dashboard.Alert, []func()) {
	a := tr.alert
	a.State = dashboard.AlertResolved
	a.Message = "resolved after " + duration(now.Sub(a.Since)) + why + ": " + a.Message
	return append(evs, alertEvent(a, now)), append(notes, a), append(apply, func() { delete(st.alerts, a.ID); e.resolved.Inc() })
}

// alertEvent is a's row, its event time the evaluation's: the webhook's
// "at", read back from the stream (Outbox).
func alertEvent(a dashboard.Alert, now time.Time) wire.Event {
	ev := dashboard.AlertEvent(a)
	ev.Time = now.UnixMilli()
	return ev
}

// judge is every target's verdict for the tenant's dashboards now.
func (e *Evaluator) judge(ctx context.Context, tenant string, st *tenantState, ds []dashboard.Dashboard, now time.Time) ([]verdict, error) {
	type query struct {
		dashboard string
		window    time.Duration
	}
	answers := map[query]*shared.Answer{}
	var out []verdict
	streams := map[string]bool{}
	for di := range ds {
		d := &ds[di]
		for pi := range d.Panels {
			p := &d.Panels[pi]
			target, ok := d.PanelSLA(p)
			if !ok {
				continue
			}
			where := d.ID + " · " + panelName(p)
			id := d.ID + "/" + p.ID + "/"
			window := target.Window()
			if (target.P95Ms > 0 || target.FreshPct > 0) && e.cfg.Querier != nil {
				q := query{d.ID, window}
				ans, ok := answers[q]
				if !ok {
					var err error
					if ans, err = e.cfg.Querier.Query(ctx, tenant, d.ID, now.Add(-window), now); err != nil {
						return nil, fmt.Errorf("sla of %s: %w", d.ID, err)
					}
					answers[q] = ans
				}
				pa := panelOf(ans, d.ID, p.ID)
				if target.P95Ms > 0 {
					v := verdict{alert: dashboard.Alert{ID: id + WhatP95, Dashboard: d.ID, Panel: p.ID}}
					if pa != nil && pa.Painted >= e.cfg.MinPainted && pa.P95Ms > float64(target.P95Ms) {
						v.firing = true
						v.alert.Message = fmt.Sprintf("%s: p95 event→paint %s over the last %s (target %s)%s",
							where, ms(pa.P95Ms), duration(window), ms(float64(target.P95Ms)), stageShare(pa))
					}
					out = append(out, v)
				}
				if target.FreshPct > 0 {
					v := verdict{alert: dashboard.Alert{ID: id + WhatFresh, Dashboard: d.ID, Panel: p.ID}}
					if pa != nil && pa.FreshPct < target.FreshPct && reported(pa) {
						v.firing = true
						v.alert.Message = fmt.Sprintf("%s: fresh %s of the time over the last %s (target %s)%s",
							where, pct(pa.FreshPct), duration(window), pct(target.FreshPct), staleCause(pa))
					}
					out = append(out, v)
				}
			}
			if within := target.Within(); within > 0 {
				stream := p.Stream
				if p.Agg != nil {
					// A derived stream speaks when its aggregate changes
					// (or is watched); the source is what should speak.
					stream = p.Agg.Source
				}
				streams[stream] = true
				newest, ok := e.cfg.Newest(tenant, stream)
				if !ok {
					if newest, ok = st.seen[stream]; !ok {
						newest = now
						if e.cfg.Silence != nil {
							var err error
							if newest, err = e.cfg.Silence.SilentSince(ctx, tenant, stream, now); err != nil {
								return nil, err
							}
						}
						st.seen[stream] = newest
					}
				}
				v := verdict{alert: dashboard.Alert{ID: id + WhatSilent, Dashboard: d.ID, Panel: p.ID}}
				if silent := now.Sub(newest); silent > within {
					v.firing = true
					v.alert.Message = fmt.Sprintf("%s: stream %s silent for %s (it should speak within %s)", where, stream, span(silent), span(within))
				}
				out = append(out, v)
			}
		}
	}
	for s := range st.seen {
		if !streams[s] {
			delete(st.seen, s)
			if e.cfg.Silence != nil {
				if err := e.cfg.Silence.ForgetSilence(ctx, tenant, s); err != nil {
					e.log.Warn("alerts: forgetting a silence failed", "tenant", tenant, "stream", s, "err", err)
				}
			}
		}
	}
	return out, nil
}

// anyTarget reports whether a panel of ds has a target.
func anyTarget(ds []dashboard.Dashboard) bool {
	for i := range ds {
		for j := range ds[i].Panels {
			if _, ok := ds[i].PanelSLA(&ds[i].Panels[j]); ok {
				return true
			}
		}
	}
	return false
}

// reported reports whether screens reported time for the panel at all.
func reported(pa *shared.PanelSLA) bool {
	return pa.Painted > 0 || pa.FreshPct > 0 || len(pa.Stale) > 0 || len(pa.Minutes) > 0
}

func panelOf(ans *shared.Answer, d, p string) *shared.PanelSLA {
	if ans == nil {
		return nil
	}
	for i := range ans.Panels {
		if ans.Panels[i].Panel == p && (ans.Panels[i].Dashboard == d || ans.Panels[i].Dashboard == "") {
			return &ans.Panels[i]
		}
	}
	return nil
}

func panelName(p *dashboard.Panel) string {
	if p.Title != "" {
		return p.Title
	}
	return p.ID
}

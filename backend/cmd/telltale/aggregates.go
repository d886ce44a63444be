package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// aggregates is what the dashboards ask the server to compute, one spec per
// derived stream: identical definitions on several panels or dashboards
// share one computation.
func aggregates(ds []dashboard.Dashboard) []*agg.Spec {
	var out []*agg.Spec
	seen := map[string]bool{}
	for _, d := range ds {
		for _, s := range d.Aggregates() {
			if !seen[s.Stream()] {
				seen[s.Stream()] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// boards knows, per tenant, what the aggregate engine computes: the
// aggregates of the built-in dashboards and of the tenant's stored ones (a
// stored one shadows the built-in of its id). Specs answers from memory, as
// the engine asks under its lock; Refresh reads a tenant's dashboards from
// the store and then has the engine reload. A change is noticed however it
// was made (the API, provisioning, another server on the same database):
// the hub's tap hands every batch of a tenant's dashboard.ChangesStream to
// Notify, and Run refreshes that tenant.
type boards struct {
	store   dashstore.Store
	builtin []dashboard.Dashboard
	base    []*agg.Spec // the built-ins' aggregates
	reload  func()      // the engine's Reload
	log     *slog.Logger

	refreshMu sync.Mutex // one Refresh at a time, so the newest read wins

	mu    sync.Mutex
	specs map[string][]*agg.Spec           // tenants with stored dashboards
	dash  map[string][]dashboard.Dashboard // the same tenants' dashboards, built-ins not shadowed included
	dirty map[string]bool                  // tenants Run is to refresh
	wake  chan struct{}
}

func newBoards(store dashstore.Store, builtin []dashboard.Dashboard, reload func(), log *slog.Logger) *boards {
	return &boards{store: store, builtin: builtin, base: aggregates(builtin), reload: reload, log: log,
		specs: map[string][]*agg.Spec{}, dash: map[string][]dashboard.Dashboard{}, dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Specs is the engine's EngineConfig.Specs: no I/O.
func (b *boards) Specs(tenant string) []*agg.Spec {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.specs[tenant]; ok {
		return s
	}
	return b.base
}

// Dashboards are tenant's dashboards: its stored ones and the built-ins they
// do not shadow. No I/O; the alert evaluator reads them.
func (b *boards) Dashboards(tenant string) []dashboard.Dashboard {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.dash[tenant]; ok {
		return d
	}
	return b.builtin
}

// Stored lists the tenants with stored dashboards.
func (b *boards) Stored() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.dash))
	for t := range b.dash {
		out = append(out, t)
	}
	return out
}

// Load refreshes every tenant that has stored dashboards: at start, before
// anything is served.
func (b *boards) Load(ctx context.Context) error {
	tenants, err := b.store.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("load stored dashboards: %w", err)
	}
	for _, t := range tenants {
		if err := b.Refresh(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// Refresh reads tenant's stored dashboards and, once its aggregates are
// known, has the engine reload.
func (b *boards) Refresh(ctx context.Context, tenant string) error {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	list, err := b.store.List(ctx, tenant)
	if err != nil {
		return fmt.Errorf("dashboards of %s: %w", tenant, err)
	}
	var ds []dashboard.Dashboard
	shadowed := map[string]bool{}
	for _, m := range list {
		st, err := b.store.Get(ctx, tenant, m.ID)
		if err != nil {
			return fmt.Errorf("dashboards of %s: %w", tenant, err)
		}
		shadowed[m.ID] = true
		ds = append(ds, st.Spec)
	}
	for _, d := range b.builtin {
		if !shadowed[d.ID] {
			ds = append(ds, d)
		}
	}
	b.mu.Lock()
	if len(list) == 0 {
		delete(b.specs, tenant)
		delete(b.dash, tenant)
	} else {
		b.specs[tenant] = aggregates(ds)
		b.dash[tenant] = ds
	}
	b.mu.Unlock()
	// Outside b.mu: Reload takes the engine's lock, under which it asks
	// Specs.
	b.reload()
	return nil
}

// Notify has Run refresh tenant; it never blocks (the hub's tap calls it).
func (b *boards) Notify(tenant string) {
	b.mu.Lock()
	b.dirty[tenant] = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Tap is the hub's tap's part for boards: a batch of a tenant's changes
// stream means its dashboards changed.
func (b *boards) Tap(tenant string, evs []wire.Event) {
	if len(evs) > 0 && evs[0].Stream == dashboard.ChangesStream {
		b.Notify(tenant)
	}
}

// Run refreshes the tenants Notify names until ctx ends; a failed refresh
// is logged and tried again a second later.
func (b *boards) Run(ctx context.Context) error {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-retry.C:
		}
		b.mu.Lock()
		tenants := b.dirty
		b.dirty = map[string]bool{}
		b.mu.Unlock()
		for t := range tenants {
			if err := b.Refresh(ctx, t); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				b.log.Warn("dashboards changed: re-reading them failed; trying again", "tenant", t, "err", err)
				b.mu.Lock()
				b.dirty[t] = true
				b.mu.Unlock()
				retry.Reset(time.Second)
			}
		}
	}
}

// hubState is what a derived stream holds now in the hub (a stream still
// warming after a restart is waited for), for a rebuilt aggregate to write
// only what differs from it.
func hubState(h *hub.Hub, tenant, stream string) (*wire.State, error) {
	b, err := h.Snapshot(tenant, stream)
	if err != nil {
		return nil, err
	}
	f, err := wire.Decode(b)
	if err != nil {
		return nil, err
	}
	snap, ok := f.(wire.Snapshot)
	if !ok {
		return nil, fmt.Errorf("snapshot of %s: got %T", stream, f)
	}
	return &snap.State, nil
}

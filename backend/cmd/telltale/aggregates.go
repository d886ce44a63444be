package main

import (
	"fmt"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// aggregates is what the dashboards ask the server to compute, one spec per
// derived stream: identical definitions on several panels or dashboards
// share one computation. Today one spec file serves every tenant, so every
// tenant has these (issue 17 gives tenants their own, through the engine's
// Specs and Reload).
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

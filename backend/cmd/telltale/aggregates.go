package main

import (
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
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

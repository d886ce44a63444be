//go:build js

package dashboard

import (
	"testing"

	"github.com/telltale/telltale/shared/agg"
)

// TestValidateTakesTheServersAggregates: the browser validates a spec it
// kept (last known good) without compiling its aggregates again.
func TestValidateTakesTheServersAggregates(t *testing.T) {
	t.Parallel()
	d := Dashboard{ID: "x", Panels: []Panel{{ID: "k", Kind: KindKPI, Stream: "agg.76b8977f68f544ee", Field: agg.Value,
		Agg: &agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1m"}}}}
	if err := d.Validate(); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	d.Panels[0].Agg = nil
	if err := d.Validate(); err == nil {
		t.Fatal("a derived stream without its agg: got nil, want an error")
	}
}

package dashboard

import (
	"fmt"

	"github.com/telltale/telltale/shared/agg"
)

// aggColumn is where Validate's errors about a panel's agg point: the agg
// object, as a column index no column has.
const aggColumn = -2

// Resolve points every panel with an aggregate at its derived stream
// (agg.Spec.Stream) and fills in what the aggregate implies: a kpi's, stat's,
// status's and bar's Field is "value", and so is the one series of a time series without group_by.
// Parse calls it; a server that builds dashboards in Go calls it before
// Validate. It refuses an aggregate that does not compile, and a panel that
// names a stream of its own besides its aggregate. Resolving twice changes
// nothing.
func (d *Dashboard) Resolve() error {
	for i := range d.Panels {
		p := &d.Panels[i]
		if p.Agg == nil {
			continue
		}
		s, err := agg.Compile(*p.Agg)
		if err != nil {
			return at(i, aggColumn, fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err))
		}
		if p.Stream != "" && p.Stream != s.Stream() {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s names stream %q and an aggregate: a panel with agg shows the aggregate's own stream, so name %q as agg's source and drop stream", d.ID, p.ID, p.Stream, p.Stream))
		}
		p.Stream = s.Stream()
		switch {
		case (p.Kind == KindKPI || p.Kind == KindStat || p.Kind == KindStatus || p.Kind == KindBar) && p.Field == "":
			p.Field = agg.Value
		case p.Kind == KindTimeSeries && len(p.Series) == 0 && !s.Grouped():
			if s.Fn != "m4" {
				p.Series = []string{agg.Value}
			} else if s.Field != "" {
				p.Series = []string{s.Field}
			}
		}
	}
	return nil
}

// Aggregates returns the compiled aggregates of d's panels, one per derived
// stream, in panel order. d must be valid (Resolve, then Validate); a panel
// whose aggregate does not compile is left out.
func (d *Dashboard) Aggregates() []*agg.Spec {
	var out []*agg.Spec
	seen := make(map[string]bool)
	for _, p := range d.Panels {
		if p.Agg == nil {
			continue
		}
		s, err := agg.Compile(*p.Agg)
		if err != nil || seen[s.Stream()] {
			continue
		}
		seen[s.Stream()] = true
		out = append(out, s)
	}
	return out
}

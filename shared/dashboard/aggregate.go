package dashboard

import (
	"fmt"
	"slices"

	"github.com/telltale/telltale/shared/agg"
)

// aggColumn is where Validate's errors about a panel's agg point: the agg
// object, as a column index no column has.
const aggColumn = -2

// Resolve points every panel with an aggregate at its derived stream
// (agg.Spec.Stream) and fills in what the aggregate implies: a kpi's Field
// is "value", and so is the one series of a time series without group_by.
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
		case p.Kind == KindKPI && p.Field == "":
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

// validAgg checks that a panel's aggregate compiles, that the panel was
// resolved to its stream, and that the panel can draw what it yields.
func validAgg(p *Panel) error {
	s, err := agg.Compile(*p.Agg)
	if err != nil {
		return err
	}
	if p.Stream != s.Stream() {
		return fmt.Errorf("its stream is %q, not its aggregate's %q (Resolve sets it)", p.Stream, s.Stream())
	}
	switch p.Kind {
	case KindKPI: // with group_by, the page lists the groups ranked
		if s.Kind == agg.Tumbling {
			return fmt.Errorf("window %q: a kpi shows one value: want a gauge window (\"last 5m\", \"today\", \"this hour\", \"current\"); a timeseries draws buckets", p.Agg.Window)
		}
		if p.Field != agg.Value {
			return fmt.Errorf("field %q: a kpi of an aggregate shows its %q (leave field out)", p.Field, agg.Value)
		}
	case KindTimeSeries:
		if s.Kind != agg.Tumbling {
			return fmt.Errorf("window %q: a timeseries draws buckets: want a bucket such as \"1m\"; a gauge window is for a kpi or a table", p.Agg.Window)
		}
		if !s.Grouped() && s.Fn != "m4" && !slices.Equal(p.Series, []string{agg.Value}) {
			return fmt.Errorf("series %q: an aggregate without group_by is one series, %q (leave series out)", p.Series, agg.Value)
		}
	case KindTable:
		if s.Kind == agg.Tumbling || !s.Grouped() {
			return fmt.Errorf("a table of an aggregate lists its groups: want group_by and a gauge window (\"last 5m\", \"today\", \"this hour\", \"current\")")
		}
		for _, c := range p.Columns {
			if c.Field != "key" && c.Field != agg.Value {
				return fmt.Errorf("column %s: an aggregate's rows have the fields key (the group) and %s", c.Field, agg.Value)
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

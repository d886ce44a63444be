//go:build !js

package dashboard

import (
	"fmt"
	"slices"

	"github.com/telltale/telltale/shared/agg"
)

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
	case KindStat: // a gauge, or a bucket: its last bucket is the value, its buckets the sparkline
		if s.Grouped() {
			return fmt.Errorf("group_by %q: a stat shows one value: leave group_by out (a bar or status panel shows groups)", p.Agg.GroupBy)
		}
		if p.Field != agg.Value {
			return fmt.Errorf("field %q: a stat of an aggregate shows its %q (leave field out)", p.Field, agg.Value)
		}
	case KindStatus, KindBar:
		if s.Kind == agg.Tumbling || !s.Grouped() {
			return fmt.Errorf("a %s panel of an aggregate shows its groups: want group_by and a gauge window (\"last 5m\", \"today\", \"this hour\", \"current\")", p.Kind)
		}
		if p.Field != agg.Value {
			return fmt.Errorf("field %q: a %s panel of an aggregate shows its %q (leave field out)", p.Field, p.Kind, agg.Value)
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

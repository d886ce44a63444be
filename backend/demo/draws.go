package demo

import (
	"fmt"
	"math"
	"time"

	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Draws reports whether every panel of d has something to draw from the
// events of its streams (stream → its events, oldest first, each with its
// Time set): a panel over an aggregate is computed here from its source as
// the server computes it, so a feed that misses a filter's values, a field
// or a group shows up as the panel it leaves empty. It is what the demo's
// and the examples' tests hold their feeds to.
func Draws(d dashboard.Dashboard, streams map[string][]wire.Event, now time.Time) error {
	for _, p := range d.Panels {
		if err := draws(p, streams, now); err != nil {
			return fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err)
		}
	}
	return nil
}

func fold(evs []wire.Event) *wire.State {
	st := &wire.State{}
	for i := range evs {
		livestate.Fold(st, &evs[i], livestate.Limits{})
	}
	return st
}

func draws(p dashboard.Panel, streams map[string][]wire.Event, now time.Time) error {
	if p.Agg != nil {
		spec, err := agg.Compile(*p.Agg)
		if err != nil {
			return err
		}
		src := streams[spec.Source]
		if len(src) == 0 {
			return fmt.Errorf("its source %s has no events", spec.Source)
		}
		s := aggregate.NewState(spec)
		for i := range src {
			s.Add(&src[i])
		}
		st := fold(s.Full(now))
		switch {
		case spec.Kind == agg.Tumbling:
			for _, c := range st.Points.Cols {
				for _, v := range c.Vals {
					if !math.IsNaN(v) {
						return nil
					}
				}
			}
			return fmt.Errorf("%s of %s has no bucket with a value", spec.Fn, spec.Source)
		case spec.Grouped():
			if len(st.Rows) == 0 {
				return fmt.Errorf("%s of %s by %s has no group", spec.Fn, spec.Source, spec.GroupBy)
			}
		default:
			if _, ok := st.Values[agg.Value]; !ok {
				return fmt.Errorf("%s of %s has no value", spec.Fn, spec.Source)
			}
		}
		return nil
	}
	evs := streams[p.Stream]
	if len(evs) == 0 {
		return fmt.Errorf("stream %s has no events", p.Stream)
	}
	st := fold(evs)
	switch p.Kind {
	case dashboard.KindKPI, dashboard.KindStat:
		if name, ok := cutRow(p.Field); ok {
			if len(st.Rows) == 0 || st.Rows[0].Fields[name] == nil {
				return fmt.Errorf("the newest row of %s has no %s", p.Stream, name)
			}
		} else if _, ok := st.Values[p.Field]; !ok {
			return fmt.Errorf("stream %s has no value %s", p.Stream, p.Field)
		}
	case dashboard.KindTimeSeries:
		for _, name := range p.Series {
			if len(st.Points.Col(name)) < 2 {
				return fmt.Errorf("series %s of %s has %d points, want 2 or more", name, p.Stream, len(st.Points.Col(name)))
			}
		}
	case dashboard.KindTable, dashboard.KindStatus:
		if len(st.Rows) < 3 {
			return fmt.Errorf("stream %s has %d rows, want 3 or more", p.Stream, len(st.Rows))
		}
		// Every column shows something for every row: a field the row
		// carries, or "key", the row's key.
		for _, c := range p.Columns {
			for _, r := range st.Rows {
				if _, ok := r.Fields[c.Field]; !ok && c.Field != "key" {
					return fmt.Errorf("column %s is empty for row %s (fields %v)", c.Field, r.Key, r.Fields)
				}
			}
		}
		if p.Kind == dashboard.KindStatus {
			rules := p.Rules()
			for _, r := range st.Rows {
				v := r.Fields[p.Field]
				var lvl dashboard.Level
				if x, ok := v.(float64); ok {
					lvl = rules.Number(x)
				} else {
					lvl = rules.Text(fmt.Sprint(v))
				}
				if lvl == "" {
					return fmt.Errorf("row %s's %s %v has no level", r.Key, p.Field, v)
				}
			}
		}
	default:
		return fmt.Errorf("Draws does not know kind %s", p.Kind)
	}
	return nil
}

func cutRow(field string) (string, bool) {
	if len(field) > 4 && field[:4] == "row." {
		return field[4:], true
	}
	return "", false
}

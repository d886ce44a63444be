package aggregate

import (
	"math"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// Restore tells a state rebuilt from the source log what its derived
// stream already holds (the stream's folded state, from the store or the
// hub), so that the next Emit sends only what differs: the buckets whose
// values changed while no one computed them, the gauges that moved, and a
// delete for each group the stream shows that is gone. Without it a
// rebuilt state's first Emit is its Full picture, and a group that vanished
// during the restart would stay on every table.
func (s *State) Restore(st *wire.State) {
	if st == nil {
		return
	}
	clear(s.emitted)
	s.emittedDefined = false
	if s.spec.Kind == agg.Tumbling {
		s.restoreBuckets(&st.Points)
		return
	}
	if s.spec.GroupBy == "" {
		if v, ok := st.Values[agg.Value]; ok {
			s.emitted[agg.Value], s.emittedDefined = v, true
		}
	} else {
		for _, r := range st.Rows {
			if r.Op == wire.RowDelete {
				continue
			}
			// NaN never equals what Emit computes: the group is sent again.
			v, ok := number(r.Fields[agg.Value])
			if !ok {
				v = nan()
			}
			s.emitted[r.Key] = v
		}
	}
	s.gaugeChanged = true
	if s.cur != nil {
		s.cur.changed = true
	}
}

// restoreBuckets marks clean the buckets the stream holds as they are now,
// with the columns it holds them with, and dirty the others.
func (s *State) restoreBuckets(p *wire.Points) {
	have := make(map[int64]map[string]float64, len(p.TS))
	for i, ts := range p.TS {
		cols := make(map[string]float64, len(p.Cols))
		for _, c := range p.Cols {
			if i < len(c.Vals) && !math.IsNaN(c.Vals[i]) { // NaN: no sample there
				cols[c.Name] = c.Vals[i]
			}
		}
		have[ts] = cols
	}
	if !s.started {
		return
	}
	secs := s.spec.Width.Seconds()
	n := int64(len(s.ring))
	s.scanAll = true // the buckets are dirtied here, not through place
	for i := s.head - n + 1; i <= s.head; i++ {
		b := s.slot(i)
		if !b.used || b.idx != i {
			continue
		}
		held, ok := have[i*s.widthMs]
		b.dirty = true
		if !ok {
			continue
		}
		if s.spec.GroupBy == "" {
			v, ok := b.all.value(s, secs)
			b.dirty = !ok || held[agg.Value] != v
			continue
		}
		// The columns the stream holds at this bucket stay its columns.
		if b.shown == nil {
			b.shown = make(map[string]struct{}, len(held))
		}
		for name := range held {
			b.shown[name] = struct{}{}
		}
		ranked := s.rank(b.groups, &b.other, b.shown, secs)
		same := len(ranked) == len(held)
		for _, r := range ranked {
			if v, ok := held[r.name]; !ok || v != r.v {
				same = false
			}
		}
		b.dirty = !same
	}
}

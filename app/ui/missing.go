package ui

import (
	"strings"
	"sync"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// What a panel names that its stream does not have. A chart naming a series
// the stream lacks draws the others and a gap, a KPI shows "—", a table an
// empty column: each true, but silent, so a misspelt name or a producer that
// does not send a field looks like a quiet stream. So every panel says which
// of its names found nothing ("no data for “amount” in stream “orders”"),
// under its title, and the page counts them (telltaleStats' missing). What a
// panel names is judged against its stream's state only once the stream's
// snapshot has arrived (before, nothing is known), and again whenever the
// stream moves, so a series that starts later clears its note.

// missing holds, per panel, the names its stream lacks.
type missing struct {
	mu      sync.Mutex           // telltaleStats reads it from a browser callback
	byPanel map[string][]string  // panel id → names, in the panel's order
	at      map[string]streamAt  // panel id → where its stream stood when judged
	spec    *dashboard.Dashboard // the spec judged: a new one starts over
}

type streamAt struct{ epoch, seq uint64 }

// update judges the panels of d whose stream moved since they were last
// judged. It runs on the UI goroutine, under the client's read lock.
func (m *missing) update(d *dashboard.Dashboard, streams map[string]*livestate.Stream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byPanel == nil || m.spec != d {
		m.byPanel, m.at, m.spec = map[string][]string{}, map[string]streamAt{}, d
	}
	for _, p := range d.Panels {
		st := streams[p.Stream]
		if st == nil {
			continue
		}
		at := streamAt{st.Epoch, st.Seq}
		if prev, ok := m.at[p.ID]; ok && prev == at {
			continue
		}
		m.at[p.ID] = at
		if names := lacks(p, st); len(names) > 0 {
			m.byPanel[p.ID] = names
		} else {
			delete(m.byPanel, p.ID)
		}
	}
}

// lacks returns what panel p names that stream st does not have: a series
// not in its points table, a KPI's gauge not among its values (or, for
// "row.NAME", a field its newest row lacks), a table column no row has. It
// returns nil while st has no snapshot.
func lacks(p dashboard.Panel, st *livestate.Stream) []string {
	if st.Epoch == 0 || waitingAgg(p, st.Seq) {
		return nil // nothing known yet, or an aggregate yet to emit (freshness says so)
	}
	var out []string
	switch p.Kind {
	case dashboard.KindTimeSeries:
		for _, name := range p.Series {
			if !hasSeries(&st.State.Points, name) {
				out = append(out, name)
			}
		}
	case dashboard.KindStatus:
		if p.Agg != nil {
			break // a grouped aggregate's rows all have their value
		}
		has := false
		for _, r := range st.State.Rows {
			if has = hasKey(r.Fields, p.Field); has {
				break
			}
		}
		if !has {
			out = append(out, p.Field)
		}
	case dashboard.KindKPI, dashboard.KindStat:
		if p.Field == "" || grouped(p) {
			break // a grouped aggregate's groups are rows: whichever there are
		}
		if bucketed(p) {
			if !hasSeries(&st.State.Points, p.Field) {
				out = append(out, p.Field)
			}
			break
		}
		if name, ok := strings.CutPrefix(p.Field, "row."); ok {
			if rows := st.State.Rows; len(rows) == 0 || !hasKey(rows[0].Fields, name) {
				out = append(out, p.Field)
			}
		} else if _, has := st.State.Values[p.Field]; !has {
			out = append(out, p.Field)
		}
	case dashboard.KindTable:
		// One pass over the rows for every column: a column present is
		// usually found in the first row, so only a missing one costs a
		// walk of the rows kept (the stream's position must move for it).
		found := make([]bool, len(p.Columns))
		left := len(p.Columns)
		for _, r := range st.State.Rows {
			for i, c := range p.Columns {
				if !found[i] {
					// A "key" column shows the row's key when the row
					// has no field of that name (rowView.field).
					if c.Field == "key" || hasKey(r.Fields, c.Field) {
						found[i] = true
						left--
					}
				}
			}
			if left == 0 {
				break
			}
		}
		for i, c := range p.Columns {
			if !found[i] {
				out = append(out, c.Field)
			}
		}
	}
	return out
}

// hasSeries reports whether the points table has a column called name
// (wire.Points.Col cannot tell an empty column from none).
func hasSeries(p *wire.Points, name string) bool {
	for i := range p.Cols {
		if p.Cols[i].Name == name {
			return true
		}
	}
	return false
}

func hasKey(fields map[string]any, name string) bool {
	_, ok := fields[name]
	return ok
}

// of is what panel id names that its stream lacks.
func (m *missing) of(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byPanel[id]
}

// counts is how many names are missing in all, and by panel (a copy).
func (m *missing) counts() (int, map[string][]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, by := 0, make(map[string][]string, len(m.byPanel))
	for id, names := range m.byPanel {
		n += len(names)
		by[id] = names
	}
	return n, by
}

// missingNote is a panel's "no data for" note, or nil.
func (s *Shell) missingNote(p dashboard.Panel) app.UI {
	names := s.missing.of(p.ID)
	if len(names) == 0 {
		return nil
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "“" + n + "”"
	}
	return app.Div().Class("tt-missing").
		Title("This panel names " + strings.Join(quoted, ", ") + " but stream “" + p.Stream + "” has no data under that name: check the dashboard's spelling, or whether the producer sends it.").
		Text("no data for " + strings.Join(quoted, ", ") + " in stream “" + p.Stream + "”")
}

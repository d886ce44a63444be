package livestate

import (
	"fmt"
	"math"
	"slices"

	"github.com/telltale/telltale/shared/wire"
)

// Caps on what one stream's state may grow to, and on one row. Ingest checks
// them before anything is stored (Check); the fold enforces them again
// (Trim), because events also arrive by paths ingest does not see
// (PostgreSQL's telltale.publish(), watched tables) and because two batches
// checked at once can together pass a cap.
const (
	DefaultSeries    = 1000     // distinct series (point columns) per stream
	DefaultKeys      = 10000    // distinct gauge names (values keys) per stream
	DefaultRowFields = 256      // top-level fields of one row
	DefaultRowBytes  = 64 << 10 // a row's size as RowSize counts it
)

// Cap names, as errors, logs and the -tenant-limits flag spell them.
const (
	CapSeries    = "series"
	CapKeys      = "keys"
	CapRowFields = "row_fields"
	CapRowBytes  = "row_bytes"
)

func (l Limits) series() int    { return orDefault(l.Series, DefaultSeries) }
func (l Limits) keys() int      { return orDefault(l.Keys, DefaultKeys) }
func (l Limits) rowFields() int { return orDefault(l.RowFields, DefaultRowFields) }
func (l Limits) rowBytes() int  { return orDefault(l.RowBytes, DefaultRowBytes) }

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Over returns base with every non-zero field of l in its place: a
// tenant's overrides over the server's limits.
func (l Limits) Over(base Limits) Limits {
	for _, f := range []struct {
		dst *int
		v   int
	}{
		{&base.Rows, l.Rows}, {&base.Points, l.Points}, {&base.Series, l.Series},
		{&base.Keys, l.Keys}, {&base.RowFields, l.RowFields}, {&base.RowBytes, l.RowBytes},
	} {
		if f.v > 0 {
			*f.dst = f.v
		}
	}
	return base
}

// folding is l as Trim applies it: a zero cap is no cap. A client folds
// what its server sent, already cut to the tenant's caps, which it does not
// know: capping again at the defaults would make it differ from the
// server's snapshot. The hub folds with Effective limits.
func (l Limits) folding() Limits {
	for _, f := range []*int{&l.Series, &l.Keys, &l.RowFields, &l.RowBytes} {
		if *f <= 0 {
			*f = math.MaxInt
		}
	}
	return l
}

// Effective returns l with every zero replaced by its default.
func (l Limits) Effective() Limits {
	return Limits{Rows: l.rows(), Points: l.points(), Series: l.series(), Keys: l.keys(),
		RowFields: l.rowFields(), RowBytes: l.rowBytes(), Ragged: l.Ragged}
}

// LimitError says which cap an event passes: Cap is one of the Cap names,
// Limit its value and Got what the stream (or the row) would reach.
type LimitError struct {
	Stream string
	Cap    string
	Limit  int
	Got    int
}

func (e *LimitError) Error() string {
	switch e.Cap {
	case CapRowFields:
		return fmt.Sprintf("stream %s: a row has %d fields, over the %s cap of %d", e.Stream, e.Got, e.Cap, e.Limit)
	case CapRowBytes:
		return fmt.Sprintf("stream %s: a row is %d bytes, over the %s cap of %d", e.Stream, e.Got, e.Cap, e.Limit)
	}
	return fmt.Sprintf("stream %s: would hold %d %s, over the %s cap of %d per stream", e.Stream, e.Got, e.Cap, e.Cap, e.Limit)
}

// Check reports the first cap that folding evs into st would pass, or nil.
// It changes nothing. Rows are checked one by one; series and gauge names
// count across all of evs, so a batch cannot pass a cap in small steps.
func Check(st *wire.State, name string, evs []wire.Event, lim Limits) *LimitError {
	var newSeries, newKeys map[string]struct{}
	var held map[string]struct{}
	for i := range evs {
		ev := &evs[i]
		if r := ev.Row; r != nil {
			if err := checkRow(name, r, lim); err != nil {
				return err
			}
		}
		for k := range ev.Values {
			if _, ok := st.Values[k]; ok {
				continue
			}
			if newKeys == nil {
				newKeys = make(map[string]struct{})
			}
			newKeys[k] = struct{}{}
		}
		if n := len(st.Values) + len(newKeys); n > lim.keys() {
			return &LimitError{Stream: name, Cap: CapKeys, Limit: lim.keys(), Got: n}
		}
		if ev.Points == nil {
			continue
		}
		if held == nil {
			held = columnSet(&st.Points)
		}
		for _, c := range ev.Points.Cols {
			if _, ok := held[c.Name]; ok {
				continue
			}
			if newSeries == nil {
				newSeries = make(map[string]struct{})
			}
			newSeries[c.Name] = struct{}{}
		}
		if n := len(st.Points.Cols) + len(newSeries); n > lim.series() {
			return &LimitError{Stream: name, Cap: CapSeries, Limit: lim.series(), Got: n}
		}
	}
	return nil
}

func checkRow(name string, r *wire.Row, lim Limits) *LimitError {
	if n := len(r.Fields); n > lim.rowFields() {
		return &LimitError{Stream: name, Cap: CapRowFields, Limit: lim.rowFields(), Got: n}
	}
	if lim.rowBytes() == math.MaxInt {
		return nil
	}
	if n := RowSize(r); n > lim.rowBytes() {
		return &LimitError{Stream: name, Cap: CapRowBytes, Limit: lim.rowBytes(), Got: n}
	}
	return nil
}

func columnSet(p *wire.Points) map[string]struct{} {
	m := make(map[string]struct{}, len(p.Cols))
	for i := range p.Cols {
		m[p.Cols[i].Name] = struct{}{}
	}
	return m
}

// RowSize is a row's size as the row_bytes cap counts it: the bytes of its
// key, field names and strings, 8 per number and 1 per boolean or null, 2 per
// map or list, recursively. It is close to the row's msgpack size and a
// little under its JSON size, and it is the same on every path, so ingest and
// the fold agree.
func RowSize(r *wire.Row) int {
	return len(r.Key) + len(r.Op) + valueSize(r.Fields)
}

func valueSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case map[string]any:
		n := 2
		for k, e := range x {
			n += len(k) + valueSize(e)
		}
		return n
	case []any:
		n := 2
		for _, e := range x {
			n += valueSize(e)
		}
		return n
	case bool, nil:
		return 1
	default:
		return 8
	}
}

// Trim returns ev cut to what the caps let st take (a zero cap is none
// here: see folding), and which cap cut it
// ("" when ev fits whole, in which case the returned event is *ev). New
// gauge names and new series past their caps are left out, in the event's
// order for series and in byte order for gauge names; a row past the field or
// byte cap is left out whole. The event ev points to is not changed: maps
// and points are copied when cut.
func Trim(st *wire.State, name string, ev *wire.Event, lim Limits) (wire.Event, *LimitError) {
	lim = lim.folding()
	out := *ev
	var cut *LimitError
	if r := ev.Row; r != nil {
		if err := checkRow(name, r, lim); err != nil {
			out.Row, cut = nil, err
		}
	}
	if room := lim.keys() - len(st.Values); len(ev.Values) > 0 && len(ev.Values) > room {
		// Cheap test first: only an event with more names than room can pass.
		fresh := 0
		for k := range ev.Values {
			if _, ok := st.Values[k]; !ok {
				fresh++
			}
		}
		if fresh > room {
			// The first names in byte order are kept, not the first in
			// map order: a client folding the same event from history
			// must keep the same ones.
			names := make([]string, 0, fresh)
			kept := make(map[string]float64, len(ev.Values)-fresh+max(room, 0))
			for k, v := range ev.Values {
				if _, ok := st.Values[k]; ok {
					kept[k] = v
				} else {
					names = append(names, k)
				}
			}
			slices.Sort(names)
			for _, k := range names[:max(room, 0)] {
				kept[k] = ev.Values[k]
			}
			out.Values = kept
			if cut == nil {
				cut = &LimitError{Stream: name, Cap: CapKeys, Limit: lim.keys(), Got: len(st.Values) + fresh}
			}
		}
	}
	if p := ev.Points; p != nil && len(st.Points.Cols)+len(p.Cols) > lim.series() {
		held := columnSet(&st.Points)
		room := lim.series() - len(st.Points.Cols)
		fresh := 0
		for _, c := range p.Cols {
			if _, ok := held[c.Name]; !ok {
				fresh++
			}
		}
		if fresh > room {
			kept := &wire.Points{TS: p.TS, Upsert: p.Upsert, Cols: make([]wire.Column, 0, len(p.Cols)-fresh+max(room, 0))}
			for _, c := range p.Cols {
				if _, ok := held[c.Name]; ok || room > 0 {
					if !ok {
						room--
					}
					kept.Cols = append(kept.Cols, c)
				}
			}
			out.Points = kept
			if len(kept.Cols) == 0 {
				out.Points = nil // timestamps with nothing kept would only grow the table
			}
			if cut == nil {
				cut = &LimitError{Stream: name, Cap: CapSeries, Limit: lim.series(), Got: len(st.Points.Cols) + fresh}
			}
		}
	}
	return out, cut
}

// Aligned returns p with every column as long as p.TS: a ragged column (see
// Limits.Ragged) is copied with NaN in front, a full one is shared. It is p's
// own slices when nothing is ragged. For encoding a ragged state: what
// travels is always aligned.
func Aligned(p *wire.Points) wire.Points {
	out := *p
	copied := false
	for i := range p.Cols {
		c := &p.Cols[i]
		pad := len(p.TS) - len(c.Vals)
		if pad <= 0 {
			continue
		}
		if !copied {
			out.Cols = slices.Clone(p.Cols)
			copied = true
		}
		vals := make([]float64, len(p.TS))
		for j := range pad {
			vals[j] = math.NaN()
		}
		copy(vals[pad:], c.Vals)
		out.Cols[i].Vals = vals
	}
	return out
}

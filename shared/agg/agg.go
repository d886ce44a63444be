// Package agg is the definition of an aggregate a dashboard panel asks for:
// a source stream of the tenant, a function, an optional filter and group-by,
// and a window. The server computes each distinct definition once per tenant
// (package backend/aggregate) into a derived stream named from the
// definition (Spec.Stream), which pages subscribe to like any other stream.
//
// It holds no computation: the browser build links it (to name the derived
// stream of a panel) and must stay small. It never loads time zone data in
// the browser (see loadLocation).
package agg

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// Def is an aggregate as a dashboard spec writes it.
type Def struct {
	// Source is the stream of the panel's tenant the aggregate reads: rows
	// (watched tables, ingest rows), gauges (values) or points.
	Source string `json:"source"`
	// Fn is one of Fns.
	Fn string `json:"fn"`
	// Field is the numeric field Fn reads: a row field, a gauge name or a
	// series name. count may leave it empty (it counts rows, gauge updates
	// or samples); distinct counts distinct values of any field.
	Field string `json:"field,omitempty"`
	// Filter keeps the rows it matches: conditions joined by "and", each
	// FIELD = V, FIELD != V, FIELD in (V, ...), FIELD > N, >=, <, <=
	// ("status in (paid, shipped) and total > 100"). Rows only.
	Filter string `json:"filter,omitempty"`
	// GroupBy is a row field: one value or one series per distinct value.
	GroupBy string `json:"group_by,omitempty"`
	// Top is how many groups are kept, the largest by value; the rest are
	// one group, "other". Zero means DefaultTop; at most MaxTop.
	Top int `json:"top,omitempty"`
	// Window is one of:
	//   "1m" (any duration 1s–1h): tumbling buckets, a time series of one
	//     point per bucket, the newest bucket updating live;
	//   "last 5m" (1s–24h): a sliding window, a gauge;
	//   "today", "this hour": a calendar window in TZ, reset at the boundary;
	//   "current": rows as they are now, by key (watched tables): an UPDATE
	//     moves a row between groups, a DELETE removes it.
	Window string `json:"window"`
	// TZ is the IANA time zone of a calendar window ("Europe/Paris"); "" is UTC.
	TZ string `json:"tz,omitempty"`
	// EmitMs is the least time between two updates of the derived stream;
	// zero means DefaultEmitMs.
	EmitMs int `json:"emit_ms,omitempty"`
}

// Functions.
var Fns = []string{"count", "sum", "avg", "min", "max", "last", "rate", "distinct", "p50", "p90", "p95", "p99", "m4"}

// Window kinds.
type WindowKind int

const (
	Tumbling WindowKind = iota + 1
	Sliding
	Calendar
	Current
)

// Defaults and bounds.
const (
	DefaultTop    = 10
	MaxTop        = 50
	DefaultEmitMs = 250
	MinEmitMs     = 50
	MaxEmitMs     = 60_000
	// Bounds of a tumbling window's bucket and a sliding window's width.
	MinWidth        = time.Second
	MaxTumbling     = time.Hour
	MaxSliding      = 24 * time.Hour
	MaxFieldName    = 64 // bytes of Field and GroupBy
	MaxFilter       = 1024
	MaxFilterValues = 64 // values of one "in (...)"
	// Prefix starts every derived stream's name; ingest refuses it.
	Prefix = "agg."
	// Other is the group the groups past Top are folded into.
	Other = "other"
	// Value is the gauge or series name of an aggregate without GroupBy.
	Value = "value"
)

// Spec is a compiled Def. Its Def is normalised: Top and EmitMs are filled
// in, so that two ways of writing one aggregate are one Spec.Stream.
type Spec struct {
	Def
	Kind   WindowKind
	Width  time.Duration // Tumbling: the bucket; Sliding: the window
	Unit   string        // Calendar: "day" or "hour"
	Loc    *time.Location
	Filter []Cond
	name   string
}

// Cond is one condition of a filter.
type Cond struct {
	Field string
	Op    string   // "=", "!=", "in", ">", ">=", "<", "<="
	Vals  []string // = != in: the values as written
	Num   float64  // > >= < <=
}

// Derived reports whether stream is the name of a derived stream (an
// aggregate's or a downsampled series'): never a source, never ingested.
func Derived(stream string) bool {
	return strings.HasPrefix(stream, Prefix) || strings.HasPrefix(stream, M4Prefix)
}

// Percentile returns the quantile (0.5 for p50) of a percentile function,
// and false for any other.
func Percentile(fn string) (float64, bool) {
	switch fn {
	case "p50":
		return 0.50, true
	case "p90":
		return 0.90, true
	case "p95":
		return 0.95, true
	case "p99":
		return 0.99, true
	}
	return 0, false
}

// Compile checks d and returns its compiled form. Errors name the field of
// d they are about ("window \"5x\" is not a duration"); the dashboard adds
// which dashboard and panel.
func Compile(d Def) (*Spec, error) {
	s := &Spec{Def: d, Loc: time.UTC}
	if d.Source == "" {
		return nil, errors.New("aggregate has no source stream")
	}
	if err := wire.ValidStream(d.Source); err != nil {
		return nil, fmt.Errorf("source %.70q: %w", d.Source, err)
	}
	if Derived(d.Source) {
		return nil, fmt.Errorf("source %q is a derived stream (%s…, %s…): an aggregate reads a source stream", d.Source, Prefix, M4Prefix)
	}
	if err := compileWindow(s); err != nil {
		return nil, err
	}
	if err := compileFn(s); err != nil {
		return nil, err
	}
	if d.Field != "" {
		if err := validField(d.Field); err != nil {
			return nil, fmt.Errorf("field %.70q %w", d.Field, err)
		}
	}
	if d.GroupBy != "" {
		if err := validField(d.GroupBy); err != nil {
			return nil, fmt.Errorf("group_by %.70q %w", d.GroupBy, err)
		}
		if d.Fn == "m4" {
			return nil, errors.New("group_by: fn m4 downsamples a points stream's series and has no groups")
		}
	}
	switch {
	case d.Top < 0 || d.Top > MaxTop:
		return nil, fmt.Errorf("top %d is outside 1–%d (0 or absent means %d)", d.Top, MaxTop, DefaultTop)
	case d.Top != 0 && d.GroupBy == "":
		return nil, fmt.Errorf("top %d needs a group_by: it is how many groups are kept", d.Top)
	case d.GroupBy != "" && d.Top == 0:
		s.Top = DefaultTop
	}
	switch {
	case d.EmitMs == 0:
		s.EmitMs = DefaultEmitMs
	case d.EmitMs < MinEmitMs || d.EmitMs > MaxEmitMs:
		return nil, fmt.Errorf("emit_ms %d is outside %d–%d (0 or absent means %d)", d.EmitMs, MinEmitMs, MaxEmitMs, DefaultEmitMs)
	}
	if d.Filter != "" {
		if d.Fn == "m4" {
			return nil, errors.New("filter: fn m4 downsamples a points stream, whose samples have no fields to filter on")
		}
		conds, err := ParseFilter(d.Filter)
		if err != nil {
			return nil, fmt.Errorf("filter %.70q: %w", d.Filter, err)
		}
		s.Filter = conds
	}
	sum := sha256.Sum256(s.canonical())
	s.name = Prefix + hex.EncodeToString(sum[:8])
	return s, nil
}

// Stream is the name of the derived stream: Prefix and a hash of the
// definition, so identical definitions on several dashboards share one.
func (s *Spec) Stream() string { return s.name }

// Grouped reports whether the aggregate has one value or series per group.
func (s *Spec) Grouped() bool { return s.GroupBy != "" }

// Gauge reports whether the aggregate is one value now (sliding, calendar
// and current windows) rather than a time series (tumbling).
func (s *Spec) Gauge() bool { return s.Kind != Tumbling }

func compileWindow(s *Spec) error {
	w := s.Window
	switch {
	case w == "":
		return errors.New(`aggregate has no window: want a bucket ("1m"), "last 5m", "today", "this hour" or "current"`)
	case w == "current":
		s.Kind = Current
	case w == "today" || w == "this hour":
		s.Kind, s.Unit = Calendar, "day"
		if w == "this hour" {
			s.Unit = "hour"
		}
	case strings.HasPrefix(w, "last "):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(w, "last ")))
		if err != nil {
			return fmt.Errorf("window %.70q is not \"last\" and a duration (\"last 5m\")", w)
		}
		if d < MinWidth || d > MaxSliding || d%time.Second != 0 {
			return fmt.Errorf("window %q is outside last 1s–last 24h in whole seconds", w)
		}
		s.Kind, s.Width = Sliding, d
	default:
		d, err := time.ParseDuration(w)
		if err != nil {
			return fmt.Errorf("window %.70q is not a duration (\"1m\"), \"last 5m\", \"today\", \"this hour\" or \"current\"", w)
		}
		if d < MinWidth || d > MaxTumbling || d%time.Second != 0 {
			return fmt.Errorf("window %q is outside 1s–1h in whole seconds (a sliding window is \"last %s\")", w, w)
		}
		s.Kind, s.Width = Tumbling, d
	}
	if s.TZ != "" && s.Kind != Calendar {
		return fmt.Errorf("tz %q is only for a calendar window (today, this hour), not %q", s.TZ, w)
	}
	if s.Kind == Calendar && s.TZ != "" {
		loc, err := loadLocation(s.TZ)
		if err != nil {
			return fmt.Errorf("tz %.70q is not an IANA time zone (Europe/Paris, America/New_York, UTC)", s.TZ)
		}
		s.Loc = loc
	}
	return nil
}

func compileFn(s *Spec) error {
	fn := s.Fn
	if fn == "" {
		return fmt.Errorf("aggregate has no fn: want one of %s", strings.Join(Fns, ", "))
	}
	if !slices.Contains(Fns, fn) {
		return fmt.Errorf("fn %.70q is not one of %s", fn, strings.Join(Fns, ", "))
	}
	if s.Field == "" && fn != "count" && fn != "rate" && fn != "m4" {
		return fmt.Errorf("fn %s needs a field: the row field, gauge or series it reads", fn)
	}
	switch {
	case fn == "m4" && s.Kind != Tumbling:
		return fmt.Errorf("fn m4 needs a tumbling window (a bucket such as \"1s\"), not %q", s.Window)
	case s.Kind == Current && (fn == "rate" || fn == "last"):
		return fmt.Errorf("fn %s has no meaning over rows as they are now (window \"current\"): want count, sum, avg, min, max, distinct or a percentile", fn)
	}
	return nil
}

// validField checks a field or group_by name; the error completes "field X".
func validField(f string) error {
	if len(f) > MaxFieldName {
		return fmt.Errorf("is longer than %d bytes", MaxFieldName)
	}
	if strings.HasPrefix(f, "row.") {
		return fmt.Errorf("is not a field: name the row's field itself (%q)", strings.TrimPrefix(f, "row."))
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return errors.New("is not a field: want letters, digits and _ (and . or - after the first)")
		}
	}
	return nil
}

// canonical is the normalised definition the stream name is hashed from:
// defaults filled, the window and filter in one spelling, what the kind
// does not read left out.
func (s *Spec) canonical() []byte {
	c := struct {
		V       int    `json:"v"`
		Source  string `json:"source"`
		Fn      string `json:"fn"`
		Field   string `json:"field"`
		Filter  string `json:"filter"`
		GroupBy string `json:"group_by"`
		Top     int    `json:"top"`
		Window  string `json:"window"`
		TZ      string `json:"tz"`
		EmitMs  int    `json:"emit_ms"`
	}{V: 1, Source: s.Source, Fn: s.Fn, Field: s.Field, Filter: FilterString(s.Filter), GroupBy: s.GroupBy, Top: s.Top, EmitMs: s.EmitMs}
	switch s.Kind {
	case Tumbling:
		c.Window = strconv.FormatInt(s.Width.Milliseconds(), 10) + "ms"
	case Sliding:
		c.Window = "last " + strconv.FormatInt(s.Width.Milliseconds(), 10) + "ms"
	case Calendar:
		c.Window = s.Unit
		c.TZ = s.TZ
		if c.TZ == "" {
			c.TZ = "UTC"
		}
	case Current:
		c.Window = "current"
	}
	b, _ := json.Marshal(c)
	return b
}

// Package agg is the definition of an aggregate a dashboard panel asks for:
// a source stream of the tenant, a function, an optional filter and group-by,
// and a window. The server computes each distinct definition once per tenant
// (package backend/aggregate) into a derived stream named from the
// definition (Spec.Stream), which pages subscribe to like any other stream.
//
// It holds no computation: the browser build links it (to name the derived
// stream of a panel) and must stay small.
package agg

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
	// Prefix starts every derived stream's name; ingest refuses it.
	Prefix = "agg."
	// Other is the group the groups past Top are folded into.
	Other = "other"
	// Value is the gauge or series name of an aggregate without GroupBy.
	Value = "value"
)

// Spec is a compiled Def.
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

// Compile checks d and returns its compiled form. Errors name the field of
// d they are about ("window \"5x\" is not a duration"); the dashboard adds
// which dashboard and panel.
func Compile(d Def) (*Spec, error) {
	s := &Spec{Def: d, Loc: time.UTC}
	if d.Source == "" {
		return nil, errors.New("aggregate has no source stream")
	}
	// TODO(issue 16): every function, window, filter and bound.
	w, err := time.ParseDuration(d.Window)
	if err != nil {
		return nil, fmt.Errorf("window %q is not a duration", d.Window)
	}
	s.Kind, s.Width = Tumbling, w
	if s.Top == 0 {
		s.Top = DefaultTop
	}
	if s.EmitMs == 0 {
		s.EmitMs = DefaultEmitMs
	}
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	s.name = Prefix + hex.EncodeToString(sum[:8])
	return s, nil
}

// Stream is the name of the derived stream: Prefix and a hash of the
// definition, so identical definitions on several dashboards share one.
func (s *Spec) Stream() string { return s.name }

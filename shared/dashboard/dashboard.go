// Package dashboard holds the dashboard spec: which panels to draw, bound to
// which streams and fields. Dashboards are data: the backend serves a spec and
// the client draws whatever spec it receives.
//
// It must never refer to a particular dashboard or stream: specs live with
// whoever serves them (the demo feed carries the first one).
package dashboard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// Kind is what a panel draws.
type Kind string

// Panel kinds.
const (
	KindKPI        Kind = "kpi"        // one gauge of Stream: Field
	KindTimeSeries Kind = "timeseries" // Series of Stream's points table
	KindTable      Kind = "table"      // Stream's recent rows, Columns of them
	KindStat       Kind = "stat"       // a kpi's value, big, over a sparkline of its recent history
	KindStatus     Kind = "status"     // a grid of tiles, one per row key (or group), coloured by Rules
	KindBar        Kind = "bar"        // a grouped aggregate's groups as bars, largest first
)

// Kinds lists every kind a panel may have.
var Kinds = []Kind{KindKPI, KindTimeSeries, KindTable, KindStat, KindStatus, KindBar}

// Dashboard is one screen of panels.
type Dashboard struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
	// SLA is the target every panel is held to unless it declares its own
	// (sla.go); nil: none.
	SLA *SLA `json:"sla,omitempty"`
}

// Panel is one tile of a dashboard.
type Panel struct {
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Title  string `json:"title"`
	Stream string `json:"stream"`
	// Agg, when set, is what the panel shows instead of a raw stream: an
	// aggregate the server computes into a derived stream. Such a panel
	// names no Stream in its file; Resolve sets Stream to the derived
	// stream's name (agg.Spec.Stream), so everything that reads a panel's
	// stream reads the derived one.
	Agg *agg.Def `json:"agg,omitempty"`
	// Field of a kpi or stat: a gauge of the stream's values, or "row.NAME"
	// for field NAME of the stream's newest row (a watched table's latest
	// order total). Of a status panel: the row field its tiles are
	// coloured by (its Rules), each tile being one row of the stream.
	Field string `json:"field,omitempty"`
	// LabelField of a status panel is the row field a tile is labelled
	// with; "" labels it with the row's key.
	LabelField string `json:"label_field,omitempty"`
	// Thresholds colour a kpi's, stat's, status tile's or bar's value by
	// its level: ascending values, each level applying from its value on
	// in Direction ("" or "above": high is bad; "below": low is bad).
	Thresholds []Threshold `json:"thresholds,omitempty"`
	Direction  string      `json:"direction,omitempty"`
	// ValueMap colours a status tile whose field is a string by that
	// string ("delayed": critical).
	ValueMap map[string]Level `json:"value_map,omitempty"`
	// CompareSeconds of a kpi or stat shows the value's change against
	// the value that many seconds before, from what the page has seen
	// ("▲ 12% vs 1 h ago"); a stat over a bucketed aggregate compares its
	// last bucket with the one before and needs none. Zero shows no change.
	CompareSeconds int      `json:"compare_seconds,omitempty"`
	Series         []string `json:"series,omitempty"` // timeseries: columns to plot
	// Columns of a table panel, in order.
	Columns []Column `json:"columns,omitempty"`
	// Rows is how many of the stream's latest rows a table panel keeps and
	// lets the operator scroll through; zero means DefaultRows, at most
	// MaxRows. Only the rows in view are drawn, so a long table costs what a
	// short one does on screen; the browser keeps, per stream, the largest
	// Rows of the dashboard's tables.
	Rows int `json:"rows,omitempty"`
	// Unit is shown after a KPI's value and on a chart's value axis and
	// legend ("/min", "ms", "km/h"); a money KPI shows its Currency instead.
	Unit string `json:"unit,omitempty"`
	// Format of a KPI's value: one of the Format constants; "" is FormatNumber.
	Format string `json:"format,omitempty"`
	// Currency is the ISO 4217 code ("EUR", "USD") a money value is shown in.
	Currency string `json:"currency,omitempty"`
	// Decimals is how many digits follow the decimal point in a KPI's value
	// and on a chart's axis and legend; absent means automatic (whole numbers
	// stay whole, 2 for money, up to 2 significant decimals otherwise).
	Decimals *int `json:"decimals,omitempty"`
	// Labels are display names of a time series' Series, by series name; a
	// series without one is shown by its name.
	Labels map[string]string `json:"labels,omitempty"`
	// Width in grid columns of a 12-column desktop grid; zero means 12. On a
	// phone every panel is full width.
	Width int `json:"width,omitempty"`
	// WindowSeconds is how much history a time series shows; zero means 60.
	WindowSeconds int `json:"window_seconds,omitempty"`
	// ExpectedCadenceMs is how often the stream should speak; zero means the
	// client learns it from the stream's history (its snapshot's point and
	// row times, then every event it applies), and a stream with too little
	// history to learn from is stale after 60 s of silence.
	ExpectedCadenceMs int `json:"expected_cadence_ms,omitempty"`
	// SLA is the panel's freshness target, its fields over its
	// dashboard's (sla.go); nil: the dashboard's.
	SLA *SLA `json:"sla,omitempty"`
}

// Bounds of Panel.Rows.
const (
	DefaultRows = 200
	MaxRows     = 10_000
)

// KeepRows is how many rows a table panel keeps: Rows, or DefaultRows when
// Rows is zero.
func (p Panel) KeepRows() int {
	if p.Rows == 0 {
		return DefaultRows
	}
	return p.Rows
}

// Column is one column of a table panel.
type Column struct {
	Field    string `json:"field"`
	Title    string `json:"title"`
	Format   string `json:"format,omitempty"`   // one of the Format constants; "" is FormatNumber for numbers, text otherwise
	Currency string `json:"currency,omitempty"` // ISO 4217 code of a money column
	Decimals *int   `json:"decimals,omitempty"` // digits after the decimal point; absent means automatic
	// Priority says which columns a narrow screen keeps: when a table is
	// narrower than its columns, the column with the largest Priority is
	// hidden first; zero counts as larger than any number, and among equals
	// the rightmost goes first. The first column is never hidden.
	Priority int `json:"priority,omitempty"`
	// Thresholds, Direction and ValueMap colour a cell by its value's
	// level, as a panel's do (Rules).
	Thresholds []Threshold      `json:"thresholds,omitempty"`
	Direction  string           `json:"direction,omitempty"`
	ValueMap   map[string]Level `json:"value_map,omitempty"`
}

// Formats of a KPI's value or a table column.
const (
	FormatNumber   = "number"   // locale-grouped number, Decimals or automatic
	FormatInt      = "int"      // rounded to a whole number
	FormatMoney    = "money"    // Currency's symbol and 2 decimals unless Decimals says otherwise
	FormatPercent  = "percent"  // a ratio: 0.25 is 25 %
	FormatTime     = "time"     // Unix ms, or an RFC 3339 string, as the operator's local time of day (with the date when it is not today)
	FormatDateTime = "datetime" // the same, always with the date
	FormatText     = "text"     // as it is
	FormatRelative = "relative" // a time as above, said as how long ago it is ("5 min ago", "in 2 min")
	FormatDuration = "duration" // milliseconds as a duration ("2m 05s", "1h 03m", "850 ms")
)

// Formats lists every format a spec may name, "" (the default) first.
var Formats = []string{"", FormatNumber, FormatInt, FormatMoney, FormatPercent, FormatTime, FormatDateTime, FormatText, FormatRelative, FormatDuration}

// MaxCompareSeconds bounds Panel.CompareSeconds: a day.
const MaxCompareSeconds = 86_400

// MaxDecimals bounds Decimals.
const MaxDecimals = 10

// Streams lists the distinct streams the dashboard reads, in panel order: a
// panel with an aggregate reads its derived stream once resolved.
func (d *Dashboard) Streams() []string {
	var out []string
	seen := make(map[string]bool)
	for _, p := range d.Panels {
		if !seen[p.Stream] {
			seen[p.Stream] = true
			out = append(out, p.Stream)
		}
	}
	return out
}

// Validate reports the first thing that would stop a client drawing d.
func (d *Dashboard) Validate() error {
	if d.ID == "" {
		return errors.New("dashboard has no id")
	}
	// The id is the page's path, /d/{id}: the stream-name rule keeps it one
	// path segment that needs no escaping.
	if wire.ValidStream(d.ID) != nil {
		return fmt.Errorf("dashboard id %.70q: want 1–%d characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit (it is the page's address, /d/{id})", d.ID, wire.MaxStreamName)
	}
	if len(d.Panels) == 0 {
		return fmt.Errorf("dashboard %s has no panels", d.ID)
	}
	if d.SLA != nil {
		if err := validSLA(d.SLA); err != nil {
			return fmt.Errorf("dashboard %s: %w", d.ID, err)
		}
	}
	targets := d.SLA != nil && d.SLA.HasTarget()
	ids := make(map[string]bool)
	for i, p := range d.Panels {
		if p.ID == "" || ids[p.ID] {
			return at(i, -1, fmt.Errorf("dashboard %s: panel #%d has a missing or repeated id %q", d.ID, i+1, p.ID))
		}
		ids[p.ID] = true
		if err := wire.ValidStream(p.Stream); err != nil && p.Agg == nil {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err))
		}
		if p.Agg == nil && agg.Derived(p.Stream) {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s: stream %q is a derived stream: declare the aggregate in agg instead", d.ID, p.ID, p.Stream))
		}
		if p.Agg != nil && slices.Contains(Kinds, p.Kind) {
			if err := validAgg(&p); err != nil {
				return at(i, aggColumn, fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err))
			}
		}
		switch p.Kind {
		case KindKPI:
			if p.Field == "" {
				return at(i, -1, fmt.Errorf("dashboard %s: kpi panel %s has no field", d.ID, p.ID))
			}
		case KindTimeSeries:
			// A grouped aggregate's chart may leave series out: the page
			// plots every group it gets (app/ui/aggregate.go).
			if len(p.Series) == 0 && p.Agg == nil {
				return at(i, -1, fmt.Errorf("dashboard %s: timeseries panel %s has no series", d.ID, p.ID))
			}
		case KindTable:
			if len(p.Columns) == 0 {
				return at(i, -1, fmt.Errorf("dashboard %s: table panel %s has no columns", d.ID, p.ID))
			}
		case KindStat:
			if p.Field == "" {
				return at(i, -1, fmt.Errorf("dashboard %s: stat panel %s has no field", d.ID, p.ID))
			}
		case KindStatus:
			if p.Field == "" {
				return at(i, -1, fmt.Errorf("dashboard %s: status panel %s has no field: name the row field its tiles are coloured by", d.ID, p.ID))
			}
			if p.Rules().Empty() {
				return at(i, -1, fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, errNoRules))
			}
		case KindBar:
			if p.Agg == nil {
				return at(i, -1, fmt.Errorf("dashboard %s: bar panel %s has no agg: a bar panel draws the groups of an aggregate with group_by", d.ID, p.ID))
			}
		default:
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s has unknown kind %q, want one of %s", d.ID, p.ID, p.Kind, kindList()))
		}
		if err := validPanelRules(p); err != nil {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err))
		}
		if p.Rows < 0 || p.Rows > MaxRows {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s keeps %d rows, want 1–%d (0 means %d)", d.ID, p.ID, p.Rows, MaxRows, DefaultRows))
		}
		if p.Width < 0 || p.Width > 12 {
			return at(i, -1, fmt.Errorf("dashboard %s: panel %s width %d is outside 0–12", d.ID, p.ID, p.Width))
		}
		where := fmt.Sprintf("dashboard %s: panel %s", d.ID, p.ID)
		if p.SLA != nil {
			if err := validSLA(p.SLA); err != nil {
				return at(i, -1, fmt.Errorf("%s: %w", where, err))
			}
			if _, ok := d.PanelSLA(&p); !ok {
				return at(i, -1, fmt.Errorf("%s: %w", where, errNoTarget))
			}
			targets = true
		}
		if err := validFormat(p.Format, p.Currency, p.Decimals); err != nil {
			return at(i, -1, fmt.Errorf("%s: %w", where, err))
		}
		for name := range p.Labels {
			// A chart of every group may name groups that are yet to come.
			if !slices.Contains(p.Series, name) && !(p.Agg != nil && len(p.Series) == 0) {
				return at(i, -1, fmt.Errorf("%s: labels names %q, which is not one of its series %q", where, name, p.Series))
			}
		}
		for j, c := range p.Columns {
			if c.Field == "" {
				return at(i, j, fmt.Errorf("%s: column #%d has no field", where, j+1))
			}
			if err := validFormat(c.Format, c.Currency, c.Decimals); err != nil {
				return at(i, j, fmt.Errorf("%s: column %s: %w", where, c.Field, err))
			}
			if c.Priority < 0 {
				return at(i, j, fmt.Errorf("%s: column %s: priority %d is negative", where, c.Field, c.Priority))
			}
			if err := validRules(c.Rules()); err != nil {
				return at(i, j, fmt.Errorf("%s: column %s: %w", where, c.Field, err))
			}
		}
	}
	if d.SLA != nil && !targets {
		return fmt.Errorf("dashboard %s: %w (here, or on a panel)", d.ID, errNoTarget)
	}
	return nil
}

// kindList is Kinds for a message: "kpi, timeseries, …".
func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// validPanelRules checks a panel's thresholds, value map and compare: only
// the kinds that colour a value have them.
func validPanelRules(p Panel) error {
	colours := p.Kind == KindKPI || p.Kind == KindStat || p.Kind == KindStatus || p.Kind == KindBar
	switch {
	case !colours && len(p.Thresholds) > 0:
		return fmt.Errorf("thresholds: a %s panel has none; kpi, stat, status and bar panels and table columns do", p.Kind)
	case len(p.ValueMap) > 0 && p.Kind != KindStatus:
		return fmt.Errorf("value_map: a %s panel has none; status panels and table columns do", p.Kind)
	case p.LabelField != "" && p.Kind != KindStatus:
		return fmt.Errorf("label_field: a %s panel has none; status panels do", p.Kind)
	case p.CompareSeconds != 0 && p.Kind != KindKPI && p.Kind != KindStat:
		return fmt.Errorf("compare_seconds: a %s panel has none; kpi and stat panels do", p.Kind)
	case p.CompareSeconds < 0 || p.CompareSeconds > MaxCompareSeconds:
		return fmt.Errorf("compare_seconds %d is outside 0–%d (a day)", p.CompareSeconds, MaxCompareSeconds)
	}
	return validRules(p.Rules())
}

// invalid is an error of Validate and the panel and column it is about (-1:
// none), so that Parse can say where in the file they are.
type invalid struct {
	panel, column int
	err           error
}

func at(panel, column int, err error) error { return &invalid{panel, column, err} }
func (e *invalid) Error() string            { return e.err.Error() }
func (e *invalid) Unwrap() error            { return e.err }

// validFormat checks a value's format, currency and decimals.
func validFormat(format, currency string, decimals *int) error {
	if !slices.Contains(Formats, format) {
		return fmt.Errorf("unknown format %q, want one of %s", format, strings.Join(Formats[1:], ", "))
	}
	if currency != "" {
		if len(currency) != 3 || strings.ToUpper(currency) != currency || strings.Trim(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return fmt.Errorf("currency %q is not an ISO 4217 code such as EUR or USD", currency)
		}
		if format != FormatMoney {
			return fmt.Errorf("currency %s needs format %q", currency, FormatMoney)
		}
	}
	if decimals != nil && (*decimals < 0 || *decimals > MaxDecimals) {
		return fmt.Errorf("decimals %d is outside 0–%d", *decimals, MaxDecimals)
	}
	return nil
}

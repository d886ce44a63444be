// Package dashboard holds the dashboard spec: which panels to draw, bound to
// which streams and fields. Dashboards are data: the backend serves a spec and
// the client draws whatever spec it receives.
//
// It must never refer to a particular dashboard or stream: specs live with
// whoever serves them (the demo feed carries the first one).
package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/telltale/telltale/shared/wire"
)

// Kind is what a panel draws.
type Kind string

// Panel kinds.
const (
	KindKPI        Kind = "kpi"        // one gauge of Stream: Field
	KindTimeSeries Kind = "timeseries" // Series of Stream's points table
	KindTable      Kind = "table"      // Stream's recent rows, Columns of them
)

// Dashboard is one screen of panels.
type Dashboard struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// Panel is one tile of a dashboard.
type Panel struct {
	ID     string `json:"id"`
	Kind   Kind   `json:"kind"`
	Title  string `json:"title"`
	Stream string `json:"stream"`
	// Field of a kpi: a gauge of the stream's values, or "row.NAME" for field
	// NAME of the stream's newest row (a watched table's latest order total).
	Field  string   `json:"field,omitempty"`
	Series []string `json:"series,omitempty"` // timeseries: columns to plot
	// Columns of a table panel, in order.
	Columns []Column `json:"columns,omitempty"`
	// Rows is how many of the stream's latest rows a table panel keeps and
	// lets the operator scroll through; zero means DefaultRows, at most
	// MaxRows. Only the rows in view are drawn, so a long table costs what a
	// short one does on screen; the browser keeps, per stream, the largest
	// Rows of the dashboard's tables.
	Rows int    `json:"rows,omitempty"`
	Unit string `json:"unit,omitempty"`
	// Width in grid columns of a 12-column desktop grid; zero means 12. On a
	// phone every panel is full width.
	Width int `json:"width,omitempty"`
	// WindowSeconds is how much history a time series shows; zero means 60.
	WindowSeconds int `json:"window_seconds,omitempty"`
	// ExpectedCadenceMs is how often the stream should speak; zero means the
	// client learns it from the stream's recent rate.
	ExpectedCadenceMs int `json:"expected_cadence_ms,omitempty"`
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
	Field  string `json:"field"`
	Title  string `json:"title"`
	Format string `json:"format,omitempty"` // "", "money", "int", "time"
}

// Parse reads dashboards from JSON: one dashboard object or an array of them.
// Each is validated.
func Parse(b []byte) ([]Dashboard, error) {
	var list []Dashboard
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var d Dashboard
		if err := json.Unmarshal(trimmed, &d); err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		list = []Dashboard{d}
	} else if err := json.Unmarshal(trimmed, &list); err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("no dashboards")
	}
	for i := range list {
		if err := list[i].Validate(); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Streams lists the distinct streams the dashboard reads, in panel order.
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
	if len(d.Panels) == 0 {
		return fmt.Errorf("dashboard %s has no panels", d.ID)
	}
	ids := make(map[string]bool)
	for i, p := range d.Panels {
		if p.ID == "" || ids[p.ID] {
			return fmt.Errorf("dashboard %s: panel %d has a missing or repeated id %q", d.ID, i, p.ID)
		}
		ids[p.ID] = true
		if err := wire.ValidStream(p.Stream); err != nil {
			return fmt.Errorf("dashboard %s: panel %s: %w", d.ID, p.ID, err)
		}
		switch p.Kind {
		case KindKPI:
			if p.Field == "" {
				return fmt.Errorf("dashboard %s: kpi panel %s has no field", d.ID, p.ID)
			}
		case KindTimeSeries:
			if len(p.Series) == 0 {
				return fmt.Errorf("dashboard %s: timeseries panel %s has no series", d.ID, p.ID)
			}
		case KindTable:
			if len(p.Columns) == 0 {
				return fmt.Errorf("dashboard %s: table panel %s has no columns", d.ID, p.ID)
			}
		default:
			return fmt.Errorf("dashboard %s: panel %s has unknown kind %q", d.ID, p.ID, p.Kind)
		}
		if p.Rows < 0 || p.Rows > MaxRows {
			return fmt.Errorf("dashboard %s: panel %s keeps %d rows, want 1–%d (0 means %d)", d.ID, p.ID, p.Rows, MaxRows, DefaultRows)
		}
		if p.Width < 0 || p.Width > 12 {
			return fmt.Errorf("dashboard %s: panel %s width %d is outside 0–12", d.ID, p.ID, p.Width)
		}
	}
	return nil
}

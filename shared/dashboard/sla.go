package dashboard

import (
	"errors"
	"time"
)

// SLA is a freshness target a dashboard or a panel declares (issue 18,
// docs/DASHBOARDS.md "Targets and alerts"): the server's alert evaluator
// (backend/alert) fires an alert when a panel misses it. A panel's sla
// overrides its dashboard's field by field: a dashboard may say for: 10m
// and p95_ms: 1000 and one panel only p95_ms: 3000.
type SLA struct {
	// P95Ms is the most the 95th percentile of event → paint may be, in
	// milliseconds, over For, as the pages report it; zero: no target.
	P95Ms int `json:"p95_ms,omitempty"`
	// FreshPct is the least share of screen time (0–100) the panel must be
	// fresh over For, as the pages report it; zero: no target.
	FreshPct float64 `json:"fresh_pct,omitempty"`
	// FreshWithin is a duration ("5s"): the panel's stream must speak at
	// least that often, as the server sees it; "" means no such target.
	FreshWithin string `json:"fresh_within,omitempty"`
	// For is the period a target is judged over ("5m"); "" means
	// DefaultSLAFor.
	For string `json:"for,omitempty"`
}

// Bounds of an SLA.
const (
	DefaultSLAFor  = 5 * time.Minute
	MinSLAFor      = time.Second
	MaxSLAFor      = 24 * time.Hour
	MinFreshWithin = 100 * time.Millisecond
	MaxFreshWithin = 24 * time.Hour
	MaxSLAP95Ms    = 3_600_000 // an hour: the most a report's histogram holds
)

// Window is the period s is judged over: For, or DefaultSLAFor.
func (s SLA) Window() time.Duration {
	if d, err := time.ParseDuration(s.For); err == nil && d > 0 {
		return d
	}
	return DefaultSLAFor
}

// Within is FreshWithin as a duration; zero when it is not set.
func (s SLA) Within() time.Duration {
	d, _ := time.ParseDuration(s.FreshWithin)
	return d
}

// HasTarget reports whether s holds the panel to anything.
func (s SLA) HasTarget() bool { return s.P95Ms > 0 || s.FreshPct > 0 || s.FreshWithin != "" }

// over is s with o's set fields over it.
func (s SLA) over(o *SLA) SLA {
	if o == nil {
		return s
	}
	if o.P95Ms != 0 {
		s.P95Ms = o.P95Ms
	}
	if o.FreshPct != 0 {
		s.FreshPct = o.FreshPct
	}
	if o.FreshWithin != "" {
		s.FreshWithin = o.FreshWithin
	}
	if o.For != "" {
		s.For = o.For
	}
	return s
}

// PanelSLA is the target p is held to: its own sla's fields over its
// dashboard's; false when neither declares a target.
func (d *Dashboard) PanelSLA(p *Panel) (SLA, bool) {
	s := SLA{}.over(d.SLA).over(p.SLA)
	return s, s.HasTarget()
}

// errNoTarget: an sla that holds nothing to anything.
var errNoTarget = errors.New("sla sets no target: give p95_ms, fresh_pct or fresh_within")

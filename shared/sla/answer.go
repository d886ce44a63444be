package sla

import "time"

// Answer is the body of GET /api/v1/sla?dashboard=&from=&to= (JSON): a
// tenant's freshness over a period, per panel of one dashboard (or of every
// dashboard when none is named), merged from its screens' reports. The SLA
// page draws it; alerts read the same numbers.
type Answer struct {
	Dashboard string    `json:"dashboard,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Screens is how many distinct screens reported in the period.
	Screens int `json:"screens"`
	// RelativeAccuracy is the stated error of every quantile below.
	RelativeAccuracy float64    `json:"relative_accuracy"`
	Panels           []PanelSLA `json:"panels"`
}

// PanelSLA is one panel's freshness over the period.
type PanelSLA struct {
	Dashboard string `json:"dashboard"`
	Panel     string `json:"panel"`
	Painted   uint64 `json:"painted"`
	// Event → paint (StageTotal), milliseconds.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	// FreshPct is the share of reported screen time the panel was fresh.
	FreshPct float64     `json:"fresh_pct"`
	Stages   []StageSLA  `json:"stages"`
	Stale    []StaleSLA  `json:"stale"`
	Minutes  []MinuteSLA `json:"minutes"`
}

// StageSLA is where the time went: one stage's quantiles, and its mean's
// share of the sum of the stage means (the shares of the stages other than
// StageTotal add up to 100).
type StageSLA struct {
	Stage           string  `json:"stage"`
	Count           uint64  `json:"count"`
	P50Ms           float64 `json:"p50_ms"`
	P95Ms           float64 `json:"p95_ms"`
	P99Ms           float64 `json:"p99_ms"`
	MeanMs          float64 `json:"mean_ms"`
	ShareOfTotalPct float64 `json:"share_pct"`
}

// StaleSLA is a stale period as screens reported it.
type StaleSLA struct {
	Start   time.Time `json:"start"`
	Ms      int64     `json:"ms"`
	Cause   string    `json:"cause"`
	Screens int       `json:"screens"` // how many screens saw it (merged by start and cause)
}

// MinuteSLA is one minute's rollup, for the SLA page's charts.
type MinuteSLA struct {
	Minute   time.Time `json:"minute"`
	Painted  uint64    `json:"painted"`
	P95Ms    float64   `json:"p95_ms"`
	P99Ms    float64   `json:"p99_ms"`
	FreshPct float64   `json:"fresh_pct"`
}

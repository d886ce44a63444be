//go:build !js

package dashboard

import (
	"strings"
	"testing"
)

// TestValidateSLA: a bad sla is refused with the dashboard, panel and key
// in the message. Only the server's build checks it (sla_js.go).
func TestValidateSLA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*Dashboard)
		wantErr string
	}{
		{"panel sla without a target", func(d *Dashboard) { d.Panels[0].SLA = &SLA{For: "1m"} }, "dashboard ops: panel k: sla sets no target: give p95_ms, fresh_pct or fresh_within"},
		{"dashboard sla without a target", func(d *Dashboard) { d.SLA = &SLA{For: "1m"} }, "dashboard ops: sla sets no target"},
		{"sla p95 negative", func(d *Dashboard) { d.Panels[1].SLA = &SLA{P95Ms: -1} }, "dashboard ops: panel t: sla: p95_ms -1 is outside 1–3600000"},
		{"sla p95 past an hour", func(d *Dashboard) { d.SLA = &SLA{P95Ms: MaxSLAP95Ms + 1} }, "dashboard ops: sla: p95_ms 3600001 is outside"},
		{"sla fresh_pct over 100", func(d *Dashboard) { d.Panels[0].SLA = &SLA{FreshPct: 101} }, "panel k: sla: fresh_pct 101 is outside 0–100"},
		{"sla fresh_within not a duration", func(d *Dashboard) { d.Panels[0].SLA = &SLA{FreshWithin: "5 sec"} }, `panel k: sla: fresh_within "5 sec" is not a duration: want one such as 5s`},
		{"sla fresh_within too short", func(d *Dashboard) { d.Panels[0].SLA = &SLA{FreshWithin: "10ms"} }, "panel k: sla: fresh_within 10ms is outside 100ms–24h0m0s"},
		{"sla for not a duration", func(d *Dashboard) { d.SLA = &SLA{P95Ms: 500, For: "five"} }, `dashboard ops: sla: for "five" is not a duration`},
		{"sla for past a day", func(d *Dashboard) { d.Panels[4].SLA = &SLA{P95Ms: 500, For: "25h"} }, "panel g: sla: for 25h is outside 1s–24h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.mutate(&d)
			err := d.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// A duration Parse refuses is placed at its panel, and the schema refuses
// what Validate does.
func TestParseSLAMistakes(t *testing.T) {
	t.Parallel()
	b := []byte(`{"id": "ops", "panels": [
  {"id": "today", "kind": "kpi", "stream": "orders", "field": "n", "sla": {"p95_ms": 900, "for": "5 min"}}]}`)
	_, err := Parse(b)
	if want := `2:3: dashboard ops: panel today: sla: for "5 min" is not a duration: want one such as 30s, 5m or 1h`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

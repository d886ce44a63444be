//go:build !js

package dashboard

import (
	"fmt"
	"time"
)

// validSLA checks one sla object's fields.
func validSLA(s *SLA) error {
	if s.P95Ms < 0 || s.P95Ms > MaxSLAP95Ms {
		return fmt.Errorf("sla: p95_ms %d is outside 1–%d (0 or absent: no latency target)", s.P95Ms, MaxSLAP95Ms)
	}
	if s.FreshPct < 0 || s.FreshPct > 100 || s.FreshPct != s.FreshPct {
		return fmt.Errorf("sla: fresh_pct %v is outside 0–100", s.FreshPct)
	}
	if s.FreshWithin != "" {
		d, err := time.ParseDuration(s.FreshWithin)
		if err != nil {
			return fmt.Errorf("sla: fresh_within %.40q is not a duration: want one such as 5s, 2m or 1h", s.FreshWithin)
		}
		if d < MinFreshWithin || d > MaxFreshWithin {
			return fmt.Errorf("sla: fresh_within %s is outside %v–%v", s.FreshWithin, MinFreshWithin, MaxFreshWithin)
		}
	}
	if s.For != "" {
		d, err := time.ParseDuration(s.For)
		if err != nil {
			return fmt.Errorf("sla: for %.40q is not a duration: want one such as 30s, 5m or 1h", s.For)
		}
		if d < MinSLAFor || d > MaxSLAFor {
			return fmt.Errorf("sla: for %s is outside %v–%v", s.For, MinSLAFor, MaxSLAFor)
		}
	}
	return nil
}

package alert

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	shared "github.com/telltale/telltale/shared/sla"
)

// stageWhere says where a stage's time is spent, for a message: "82% of
// the time spent between hub and socket".
var stageWhere = map[string]string{
	shared.StageDatabase: "in the database",
	shared.StageHub:      "between the database and the hub",
	shared.StageSocket:   "between hub and socket",
	shared.StageNetwork:  "in the network",
	shared.StageApply:    "applying on the page",
	shared.StagePaint:    "painting on the page",
}

// stageShare names the stage that took the largest share of the time, or
// "" when the answer has no stages.
func stageShare(pa *shared.PanelSLA) string {
	best := -1
	for i, s := range pa.Stages {
		if s.Stage == shared.StageTotal || stageWhere[s.Stage] == "" {
			continue
		}
		if best < 0 || s.ShareOfTotalPct > pa.Stages[best].ShareOfTotalPct {
			best = i
		}
	}
	if best < 0 || pa.Stages[best].ShareOfTotalPct <= 0 {
		return ""
	}
	s := pa.Stages[best]
	return fmt.Sprintf("; %s of the time spent %s", pct(s.ShareOfTotalPct), stageWhere[s.Stage])
}

// staleCauseWords says a stale period's cause in words.
var staleCauseWords = map[string]string{
	shared.CauseSilent:     "the stream was silent",
	shared.CauseDisconnect: "connections were lost",
	shared.CauseFallback:   "data came over the HTTP fallback, late",
	shared.CauseClientLag:  "pages fell behind drawing",
}

// staleCause names the cause of most of the stale time, or "".
func staleCause(pa *shared.PanelSLA) string {
	by := map[string]int64{}
	for _, s := range pa.Stale {
		by[s.Cause] += s.Ms * int64(max(s.Screens, 1))
	}
	var cause string
	for c, ms := range by {
		if cause == "" || ms > by[cause] || (ms == by[cause] && c < cause) {
			cause = c
		}
	}
	if w := staleCauseWords[cause]; w != "" {
		return "; mostly because " + w
	}
	return ""
}

// ms is a latency for a message: "850 ms", "1 s", "3.1 s".
func ms(v float64) string {
	if v < 1000 {
		return strconv.FormatFloat(float64(int64(v+0.5)), 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(int64(v/100+0.5))/10, 'f', -1, 64) + " s"
}

// pct is a percentage for a message: "82%", "99.5%".
func pct(v float64) string {
	return strconv.FormatFloat(float64(int64(v*10+0.5))/10, 'f', -1, 64) + "%"
}

// span is a short duration to the tenth of a second ("1.2 s", "850 ms"),
// a longer one as duration says it.
func span(d time.Duration) string {
	if d < time.Minute {
		return ms(float64(d) / float64(time.Millisecond))
	}
	return duration(d)
}

// duration is a period for a message: "45 s", "5 min", "1 h 30 min".
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + " min"
		}
		return fmt.Sprintf("%d min %d s", m, s)
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	parts := []string{strconv.Itoa(h) + " h"}
	if m > 0 {
		parts = append(parts, strconv.Itoa(m)+" min")
	}
	return strings.Join(parts, " ")
}

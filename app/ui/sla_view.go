package ui

// The freshness (SLA) page's view model: what GET /api/v1/sla answered
// (shared/sla.Answer), turned into the rows the page draws. Pure Go, so the
// formatting and the edge cases (no reports, gaps between minutes, shares
// that do not add up) are tested natively; sla.go draws it.

import (
	"html"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/telltale/telltale/shared/sla"
)

// PathSLA is the freshness page: ?dashboard=ID (none: the whole tenant,
// for admins) &period=1h|24h|7d (none: 1h).
const PathSLA = "/sla"

// APISLA answers the freshness page (shared/sla.Answer as JSON).
const APISLA = "/api/v1/sla"

// slaPeriod is one choice of the page's period selector.
type slaPeriod struct {
	key   string // the URL's period= ("1h")
	label string // the selector's text ("1 h")
	since string // "in the last hour", for the empty state
	d     time.Duration
}

// slaPeriods are the periods the page offers; the first is the default.
var slaPeriods = []slaPeriod{
	{"1h", "1 h", "in the last hour", time.Hour},
	{"24h", "24 h", "in the last 24 hours", 24 * time.Hour},
	{"7d", "7 d", "in the last 7 days", 7 * 24 * time.Hour},
}

// slaQuery is what the page's URL asks for.
type slaQuery struct {
	dashboard string // "": every dashboard of the tenant
	per       int    // the period: an index in slaPeriods
}

// period is q's period.
func (q slaQuery) period() slaPeriod { return slaPeriods[q.per] }

// slaQueryOf reads the page's query; an unknown period is the default.
func slaQueryOf(q url.Values) slaQuery {
	out := slaQuery{dashboard: q.Get("dashboard")}
	for i, p := range slaPeriods {
		if p.key == q.Get("period") {
			out.per = i
		}
	}
	return out
}

// page is the URL of the freshness page for q: dashboard first, and the
// period only when it is not the default, so the link a dashboard's header
// builds and the one the selector builds for 1 h are the same.
func (q slaQuery) page() string {
	v := ""
	if q.dashboard != "" {
		v = "&dashboard=" + url.QueryEscape(q.dashboard)
	}
	if q.per != 0 {
		v += "&period=" + q.period().key
	}
	if v == "" {
		return PathSLA
	}
	return PathSLA + "?" + v[1:]
}

// api is the request for q's answer. from is on the server's clock ("-1h":
// relative to the server's now), so a phone whose clock is wrong still asks
// for the last hour.
func (q slaQuery) api() string {
	v := APISLA + "?from=-" + q.period().key
	if q.dashboard != "" {
		v += "&dashboard=" + url.QueryEscape(q.dashboard)
	}
	return v
}

// slaView is the page's content for one answer. Its text is HTML-safe:
// what the server names (panels, dashboards, an unknown cause) is escaped
// here, the rest is numbers and the page's own words.
type slaView struct {
	// screens is "3 screens reported", accuracy the quantiles' stated error.
	screens  string
	accuracy string
	// empty says why there is nothing to show ("" when there is).
	empty  string
	panels []slaPanelView
}

// slaPanelView is one panel's card.
type slaPanelView struct {
	key     string // dashboard/panel: unique in the answer
	title   string // the panel's id, with its dashboard's when the page shows several
	painted string // "1,204 events painted"
	p50     string
	p95     string
	p99     string
	fresh   string // "99.5%"
	level   string // fresh-time level: "ok", "warn", "critical"
	stages  []slaStageView
	stale   []slaStaleView
	// moreStale is how many earlier stale periods stale leaves out.
	moreStale int
	// The chart: minutes (Unix ms) and p95, p99 per minute (ms); a NaN
	// breaks the line where no screen reported.
	ts       []int64
	p95s     []float64
	p99s     []float64
	hasChart bool
}

// slaStageView is one stage's bar: where the time went.
type slaStageView struct {
	stage string  // sla.Stage*
	label string  // what an operator calls it
	share float64 // percent of the sum of the stages' means, 0..100
	text  string  // "62% · p95 480 ms"
}

// slaStaleView is one stale period.
type slaStaleView struct {
	start  string
	length string
	cause  string
	// screens is "" for one screen, else "on 3 screens".
	screens string
}

// stageLabel names a stage for an operator.
func stageLabel(stage string) string {
	switch stage {
	case sla.StageSocket:
		return "server queue"
	case sla.StageApply:
		return "page: apply"
	case sla.StagePaint:
		return "page: paint"
	}
	return stage // database, hub, network
}

// causeLabel says why a panel was stale.
func causeLabel(cause string) string {
	switch cause {
	case sla.CauseSilent:
		return "stream silent"
	case sla.CauseDisconnect:
		return "connection lost"
	case sla.CauseFallback:
		return "fallback transport"
	case sla.CauseClientLag:
		return "page fell behind"
	}
	return cause
}

// Fresh-time levels: at or above slaFreshOK is ok, below slaFreshWarn
// critical. A dashboard's own target (sla: fresh_within) is the alerts'
// business; the page only colours, with the number beside.
const (
	slaFreshOK   = 99.0
	slaFreshWarn = 95.0
)

// slaViewOf builds the page for answer a of query q, its times written in
// loc, now telling today from other days.
func slaViewOf(a *sla.Answer, q slaQuery, loc Locale, now time.Time) slaView {
	var v slaView
	n := 0
	if a != nil {
		n = a.Screens
		for _, p := range a.Panels {
			if p.Painted > 0 || len(p.Minutes) > 0 || len(p.Stale) > 0 || p.FreshPct > 0 {
				v.panels = append(v.panels, slaPanelOf(p, q.dashboard == "", loc, now))
			}
		}
		if a.RelativeAccuracy > 0 {
			v.accuracy = "quantiles within ±" + strconv.FormatFloat(100*a.RelativeAccuracy, 'g', 3, 64) + "%"
		}
	}
	what := "this dashboard"
	if q.dashboard == "" {
		what = "any dashboard"
	}
	switch n {
	case 1:
		v.screens = "1 screen reported"
	default:
		v.screens = group(strconv.Itoa(n)) + " screens reported"
	}
	if len(v.panels) == 0 {
		v.empty = "No page has reported for " + what + " " + q.period().since +
			": each open page of a dashboard reports every " + strconv.Itoa(int(sla.ReportEvery/time.Second)) +
			" s and when it closes, so numbers appear once an operator has it on screen."
	}
	return v
}

func slaPanelOf(p sla.PanelSLA, several bool, loc Locale, now time.Time) slaPanelView {
	v := slaPanelView{
		key:     p.Dashboard + "/" + p.Panel,
		title:   html.EscapeString(p.Panel),
		painted: group(strconv.FormatUint(p.Painted, 10)) + " events painted",
		p50:     msText(p.P50Ms),
		p95:     msText(p.P95Ms),
		p99:     msText(p.P99Ms),
		fresh:   pctText(loc, p.FreshPct),
		level:   "ok",
	}
	if p.Painted == 1 {
		v.painted = "1 event painted"
	}
	if several && p.Dashboard != "" {
		v.title = html.EscapeString(p.Dashboard + " · " + p.Panel)
	}
	switch {
	case p.FreshPct < slaFreshWarn:
		v.level = "critical"
	case p.FreshPct < slaFreshOK:
		v.level = "warn"
	}
	v.stages = stagesOf(p.Stages)
	v.stale, v.moreStale = staleOf(p.Stale, loc, now)
	v.ts, v.p95s, v.p99s = minutesOf(p.Minutes)
	v.hasChart = len(v.ts) > 0
	return v
}

// stagesOf are the bars of the stages other than the total, in path order,
// each as long as its share. Shares are the server's; a stage it did not
// measure (no producer stamp, no clock estimate) has no bar.
func stagesOf(in []sla.StageSLA) []slaStageView {
	by := make(map[string]sla.StageSLA, len(in))
	for _, s := range in {
		by[s.Stage] = s
	}
	var out []slaStageView
	for _, name := range sla.Stages {
		s, ok := by[name]
		if !ok || name == sla.StageTotal || s.Count == 0 {
			continue
		}
		share := s.ShareOfTotalPct
		if math.IsNaN(share) || share < 0 {
			share = 0
		}
		share = min(share, 100)
		out = append(out, slaStageView{
			stage: name,
			label: stageLabel(name),
			share: share,
			text:  strconv.FormatFloat(math.Round(share), 'f', 0, 64) + "% · p95 " + msText(s.P95Ms),
		})
	}
	return out
}

// slaStaleShown is how many stale periods a panel lists (the server
// keeps up to 500): the newest, then how many earlier ones it left out.
const slaStaleShown = 20

// staleOf lists the stale periods newest first, at most slaStaleShown of
// them. The server sends them oldest first, as the series.
func staleOf(in []sla.StaleSLA, loc Locale, now time.Time) (out []slaStaleView, more int) {
	for i := len(in) - 1; i >= 0 && len(out) < slaStaleShown; i-- {
		s := in[i]
		v := slaStaleView{
			start:  loc.Time(s.Start.UnixMilli(), !sameDay(s.Start, now)),
			length: duration(float64(s.Ms)),
			cause:  html.EscapeString(causeLabel(s.Cause)),
		}
		if s.Screens > 1 {
			v.screens = "on " + strconv.Itoa(s.Screens) + " screens"
		}
		out = append(out, v)
	}
	return out, len(in) - len(out)
}

// minutesOf is the chart's data: one point per step that painted
// something, and a NaN one step after a point followed by a gap, so the
// line breaks where no screen reported instead of bridging the gap. A
// point is a minute, or several over a long period (the server's step):
// the step is the shortest distance between two points.
func minutesOf(in []sla.MinuteSLA) (ts []int64, p95, p99 []float64) {
	ts, p95, p99 = make([]int64, 2*len(in)), make([]float64, 2*len(in)), make([]float64, 2*len(in))
	step := int64(0)
	for i := 1; i < len(in); i++ {
		if d := in[i].Minute.Sub(in[i-1].Minute).Milliseconds(); d > 0 && (step == 0 || d < step) {
			step = d
		}
	}
	n := 0
	for _, m := range in {
		if m.Painted == 0 {
			continue
		}
		ms := m.Minute.UnixMilli()
		if n > 0 && ms-ts[n-1] > step {
			ts[n], p95[n], p99[n] = ts[n-1]+step, math.NaN(), math.NaN()
			n++
		}
		ts[n], p95[n], p99[n] = ms, m.P95Ms, m.P99Ms
		n++
	}
	return ts[:n], p95[:n], p99[:n]
}

// msText writes a latency: "—" when none was measured.
func msText(ms float64) string {
	if ms <= 0 || math.IsNaN(ms) {
		return "—"
	}
	return duration(ms)
}

// pctText writes a percentage (0..100) with one decimal, in loc.
func pctText(loc Locale, pct float64) string {
	if math.IsNaN(pct) {
		return "—"
	}
	return loc.Number(pct/100, NumberStyle{Style: StylePercent, Digits: 1})
}

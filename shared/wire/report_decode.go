package wire

import (
	"errors"
	"fmt"

	"github.com/telltale/telltale/shared/sla"
)

// A report comes from any page, so its decoder checks the structural caps
// of package sla (panels, stale periods, stages, bins, name lengths) from
// each header before it allocates what the header claims: a report past
// them costs the server a walk of its bytes, never its claims. Values (counts,
// times) are clamped later, by whoever merges the report.

var errReportCap = errors.New("report over its caps")

// capped fails the read when n, a length the frame claims, is over max.
func (r *reader) capped(what string, n, max int) bool {
	if n > max {
		r.fail(fmt.Errorf("%w: %d %s, at most %d", errReportCap, n, what, max))
		return true
	}
	return false
}

// label reads a report's string (an id or a name), refused past
// sla.MaxNameBytes before it is copied.
func (r *reader) label() string {
	start := r.i
	if n := r.bytesLen(); r.err != nil || r.capped("bytes in a name", n, sla.MaxNameBytes) {
		return ""
	}
	r.i = start
	return r.name()
}

// peekArrayLen is the length of the array that comes next (-1 for nil),
// without reading it.
func (r *reader) peekArrayLen() int {
	start := r.i
	n := r.arrayLen()
	if r.err == nil {
		r.i = start
	}
	return n
}

// The report's readers walk their maps in plain loops, not through fields'
// callbacks: the same reads took 45 KB more of app.wasm (4.2 KB brotli)
// through closures, and the browser links them (app/ui/lkg.go decodes with
// Decode, which reads every frame type).

// mapKeys reads a map header for a loop over its keys; nil has none.
func (r *reader) mapKeys() int { return max(r.mapLen(), 0) }

// key reads the next key of a map, nil after an error.
func (r *reader) key() []byte {
	if r.err != nil {
		return nil
	}
	return r.rawString()
}

func (r *reader) report() Report {
	var rep Report
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "screen":
			rep.Screen = r.label()
		case "dashboard":
			rep.Dashboard = r.label()
		case "from":
			rep.From = r.int64()
		case "to":
			rep.To = r.int64()
		case "clock_err":
			rep.ClockErr = r.int64()
		case "transport":
			rep.Transport = r.label()
		case "panels":
			if n := r.arrayLen(); n >= 0 && !r.capped("panels", n, sla.MaxPanels) {
				rep.Panels = make([]PanelReport, n)
				for i := 0; i < n && r.err == nil; i++ {
					r.panelReport(&rep.Panels[i])
				}
			}
		default:
			r.skip()
		}
	}
	return rep
}

func (r *reader) panelReport(p *PanelReport) {
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "panel":
			p.Panel = r.label()
		case "painted":
			p.Painted = r.uint64()
		case "fresh_ms":
			p.FreshMs = r.int64()
		case "stale_ms":
			p.StaleMs = r.int64()
		case "stale":
			if n := r.arrayLen(); n >= 0 && !r.capped("stale periods", n, sla.MaxStalePeriods) {
				p.Stale = make([]StalePeriod, n)
				for i := 0; i < n && r.err == nil; i++ {
					r.stalePeriod(&p.Stale[i])
				}
			}
		case "stages":
			if n := r.arrayLen(); n >= 0 && !r.capped("stages", n, len(sla.Stages)) {
				p.Stages = make([]StageHist, n)
				for i := 0; i < n && r.err == nil; i++ {
					r.stageHist(&p.Stages[i])
				}
			}
		default:
			r.skip()
		}
	}
}

func (r *reader) stalePeriod(s *StalePeriod) {
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "start":
			s.Start = r.int64()
		case "ms":
			s.Ms = r.int64()
		case "cause":
			s.Cause = r.label()
		default:
			r.skip()
		}
	}
}

// stageHist reads one histogram. Its index and counts are separate fields,
// so their lengths are read first, in a walk that allocates nothing: a
// histogram whose arrays differ in length, or hold more than sla.MaxBins,
// is refused before either is allocated.
func (r *reader) stageHist(h *StageHist) {
	start := r.i
	nIndex, nCounts := 0, 0
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "index":
			nIndex = max(r.peekArrayLen(), 0)
		case "counts":
			nCounts = max(r.peekArrayLen(), 0)
		}
		r.skip()
	}
	if r.err != nil || r.capped("bins in a stage", max(nIndex, nCounts), sla.MaxBins) {
		return
	}
	if nIndex != nCounts {
		r.fail(fmt.Errorf("%w: %d indexes and %d counts in a stage", errReportCap, nIndex, nCounts))
		return
	}
	r.i = start
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "stage":
			h.Stage = r.label()
		case "index":
			if n := r.arrayLen(); n >= 0 {
				h.Index = make([]int32, n)
				for i := range h.Index {
					h.Index[i] = int32(r.int64())
				}
			}
		case "counts":
			if n := r.arrayLen(); n >= 0 {
				h.Counts = make([]uint32, n)
				for i := range h.Counts {
					h.Counts[i] = uint32(r.uint64())
				}
			}
		default:
			r.skip()
		}
	}
}

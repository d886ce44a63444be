package wire

import (
	"errors"
	"fmt"
	"sync"

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

// binScratch holds a histogram's bins while it is read, so that its
// index and counts are allocated only once both are read and found to be of
// one length, and read only once.
type binScratch struct {
	index  [sla.MaxBins]int32
	counts [sla.MaxBins]uint32
}

var binScratches = sync.Pool{New: func() any { return new(binScratch) }}

// stageHist reads one histogram. Its index and counts are separate fields:
// each is read into scratch space (refused past sla.MaxBins from its
// header), and copied out only when the two are of one length, so a
// histogram that is refused allocates nothing.
func (r *reader) stageHist(h *StageHist) {
	s := binScratches.Get().(*binScratch)
	defer binScratches.Put(s)
	nIndex, nCounts := -1, -1 // nil
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "stage":
			h.Stage = r.label()
		case "index":
			if nIndex = r.arrayLen(); !r.capped("bins in a stage", nIndex, sla.MaxBins) {
				for i := range nIndex {
					s.index[i] = int32(r.int64())
				}
			}
		case "counts":
			if nCounts = r.arrayLen(); !r.capped("bins in a stage", nCounts, sla.MaxBins) {
				for i := range nCounts {
					s.counts[i] = uint32(r.uint64())
				}
			}
		default:
			r.skip()
		}
	}
	if r.err != nil {
		return
	}
	if max(nIndex, 0) != max(nCounts, 0) {
		r.fail(fmt.Errorf("%w: %d indexes and %d counts in a stage", errReportCap, max(nIndex, 0), max(nCounts, 0)))
		return
	}
	if nIndex >= 0 {
		h.Index = make([]int32, nIndex)
		copy(h.Index, s.index[:nIndex])
	}
	if nCounts >= 0 {
		h.Counts = make([]uint32, nCounts)
		copy(h.Counts, s.counts[:nCounts])
	}
}

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
	r.reportInto(&rep)
	return rep
}

// DecodeReport decodes a report frame into rep, reusing the arrays rep
// already holds (its panels, their stale periods and stages, the stages'
// bins) so that a server decoding every page's report every
// sla.ReportEvery allocates nothing once rep has held a report as large:
// the 8-panel report of BenchmarkDecodeReport_8Panels40Bins costs 131
// allocations through Decode. Any other frame type is refused with
// CodeUnknownType.
//
// It checks what Decode checks and refuses what Decode refuses, with the
// same caps (FuzzDecode holds the two equal), and what it returns equals
// Decode's report but for empty and absent arrays, which may read as nil
// or as empty whatever was sent. A histogram's index and counts are read
// in one pass, each capped at sla.MaxBins before it grows, and their
// lengths compared after: a refused histogram costs at most its two capped
// arrays, where Decode allocates nothing for it.
//
// After an error rep holds a partial report. Whoever keeps rep for reuse
// must not let anyone keep its slices: the next decode overwrites them.
func DecodeReport(b []byte, rep *Report) error {
	found := false
	_, err := decode(b, func(typ Type, br *reader) Frame {
		if typ != TypeReport {
			return nil
		}
		found = true
		br.reuse = true
		br.reportInto(rep)
		return rep
	})
	if err != nil && !found {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeUnknownType {
			e.Message = "want a report frame: " + e.Message
		}
	}
	return err
}

// resize returns s with n elements, reusing its array (and the elements
// past its length, with whatever arrays they hold) when it can. On a
// reader that does not reuse (Decode), s is always nil and the result is
// a new slice, empty rather than nil for n == 0, as the library decodes.
func resize[T any](s []T, n int) []T {
	switch {
	case s == nil:
		return make([]T, n)
	case n <= cap(s):
		return s[:n]
	}
	s = s[:cap(s)]
	return append(s, make([]T, n-len(s))...)
}

// reportInto reads a report into rep. Every field is reset first (a reused
// rep keeps only its arrays), so a field the frame leaves out reads as its
// zero value, as Decode reads it.
func (r *reader) reportInto(rep *Report) {
	*rep = Report{Panels: rep.Panels[:0]}
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
				rep.Panels = resize(rep.Panels[:0], n)
				for i := 0; i < n && r.err == nil; i++ {
					r.panelReport(&rep.Panels[i])
				}
			}
		default:
			r.skip()
		}
	}
}

func (r *reader) panelReport(p *PanelReport) {
	*p = PanelReport{Stale: p.Stale[:0], Stages: p.Stages[:0]}
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
				p.Stale = resize(p.Stale[:0], n)
				for i := 0; i < n && r.err == nil; i++ {
					r.stalePeriod(&p.Stale[i])
				}
			}
		case "stages":
			if n := r.arrayLen(); n >= 0 && !r.capped("stages", n, len(sla.Stages)) {
				p.Stages = resize(p.Stages[:0], n)
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
	*s = StalePeriod{}
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

// stageHist reads one histogram. Its index and counts are separate fields.
// Decode reads their lengths first, in a walk that allocates nothing: a
// histogram whose arrays differ in length, or hold more than sla.MaxBins,
// is refused before either is allocated. DecodeReport reads them in one
// pass into the arrays it reuses, each capped before it is read, and
// compares their lengths after.
func (r *reader) stageHist(h *StageHist) {
	*h = StageHist{Index: h.Index[:0], Counts: h.Counts[:0]}
	if !r.reuse && !r.binsAgree() {
		return
	}
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "stage":
			h.Stage = r.label()
		case "index":
			if n := r.arrayLen(); n >= 0 && !r.capped("bins in a stage", n, sla.MaxBins) {
				h.Index = resize(h.Index[:0], n)
				for i := range h.Index {
					h.Index[i] = int32(r.int64())
				}
			}
		case "counts":
			if n := r.arrayLen(); n >= 0 && !r.capped("bins in a stage", n, sla.MaxBins) {
				h.Counts = resize(h.Counts[:0], n)
				for i := range h.Counts {
					h.Counts[i] = uint32(r.uint64())
				}
			}
		default:
			r.skip()
		}
	}
	if r.err == nil && len(h.Index) != len(h.Counts) {
		r.binsDiffer(len(h.Index), len(h.Counts))
	}
}

// binsAgree walks the histogram that comes next, allocating nothing, and
// fails unless its index and counts have the same length, at most
// sla.MaxBins; it leaves the reader where it was.
func (r *reader) binsAgree() bool {
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
		return false
	}
	if nIndex != nCounts {
		r.binsDiffer(nIndex, nCounts)
		return false
	}
	r.i = start
	return true
}

func (r *reader) binsDiffer(nIndex, nCounts int) {
	r.fail(fmt.Errorf("%w: %d indexes and %d counts in a stage", errReportCap, nIndex, nCounts))
}

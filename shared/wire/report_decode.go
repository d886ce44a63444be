package wire

import (
	"bytes"
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

// cappedArray reads the header of an array of at most max elements (what
// names them): -1 for nil, or for an array refused over max or, on a
// guarded reader, over the bytes left (each element takes one at least),
// before anything is allocated for it.
func (r *reader) cappedArray(what string, max int) int {
	n := r.arrayLen()
	switch {
	case n < 0 || r.err != nil:
		return -1
	case r.guard && n > len(r.b)-r.i:
		r.fail(errClaim)
		return -1
	case r.capped(what, n, max):
		return -1
	}
	return n
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
// It takes what Decode takes and refuses what Decode refuses, with the
// same caps (FuzzDecode holds the two equal, FuzzDecodeReportOnePass its
// one pass and Decode), and what it returns equals Decode's report but
// for empty and absent arrays, which may read as nil or as empty whatever
// was sent.
//
// It reads a frame in one pass (decodeReportOnePass), without Decode's
// walks before it (CheckStructure, then the body's bytes found again),
// which cost as much as the decode itself: each array is capped at its
// sla cap and at the bytes left before it grows, and what is skipped is
// checked as CheckStructure checks it. A frame that pass refuses is read
// again as Decode reads it, for Decode's exact error: a refused report
// costs at most its arrays as capped (a histogram's index and counts are
// compared after both are read), where Decode allocates nothing for it.
//
// After an error rep holds a partial report. Whoever keeps rep for reuse
// must not let anyone keep its slices: the next decode overwrites them.
func DecodeReport(b []byte, rep *Report) error {
	if decodeReportOnePass(b, rep) {
		return nil
	}
	found := false
	_, err := decode(b, func(typ Type, br *reader) Frame {
		if typ != TypeReport {
			return nil
		}
		found = true
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

// DecodeClient is Decode for a server reading a client's frames: a report
// is decoded into rep as DecodeReport decodes it, and returned as rep;
// any other frame as Decode returns it.
func DecodeClient(b []byte, rep *Report) (Frame, error) {
	if bytes.HasPrefix(b, reportHead) && decodeReportOnePass(b, rep) {
		return rep, nil
	}
	f, err := Decode(b)
	if r, ok := f.(Report); ok { // not met: the one pass takes every report Decode takes
		*rep = r
		return rep, nil
	}
	return f, err
}

// reportHead is how this package's encoder begins a report frame ({"v": 1,
// "t": "report", ...}): DecodeClient tries the one pass on those alone, and
// hands every other frame (a hello, a sub, a pong) to Decode as it is, as
// the gateway did before; a report encoded otherwise is still taken, by
// Decode.
var reportHead = appendStr([]byte{0x83, 0xa1, 'v', Version, 0xa1, 't'}, string(TypeReport))

// decodeReportOnePass reads a report frame into rep in one pass over its
// bytes, as Decode would read it; false when Decode would refuse it or it
// is not a report (then rep holds anything). The frame's envelope is
// walked once: the body is read where it stands when it is the last field
// (every encoder of this package writes v, t, b), else skipped and read
// after, so that the last of several "t" or "b" fields counts, as in
// Decode.
func decodeReportOnePass(b []byte, rep *Report) bool {
	r := reader{b: b, reuse: true, guard: true}
	if c := r.peek(); c&0xf0 != 0x80 && c != 0xde && c != 0xdf {
		return false
	}
	version, typ := -1, Type("")
	body, bodyEnd, read := -1, 0, false
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "v":
			version = int(r.int64())
		case "t":
			typ = typeOf(r.rawString())
		case "b":
			body, read = r.i, n == 1 && typ == TypeReport
			if read {
				r.reportInto(rep)
			} else {
				r.skipAt(1)
			}
			bodyEnd = r.i
		default:
			r.skipAt(1)
		}
	}
	if r.err != nil || r.i != len(b) || version != Version || typ != TypeReport || body < 0 {
		return false
	}
	if !read {
		br := reader{b: b, i: body, reuse: true, guard: true}
		br.reportInto(rep)
		if br.err != nil || br.i != bodyEnd {
			return false
		}
	}
	return true
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
			if n := r.cappedArray("panels", sla.MaxPanels); n >= 0 {
				rep.Panels = resize(rep.Panels[:0], n)
				for i := 0; i < n && r.err == nil; i++ {
					r.panelReport(&rep.Panels[i])
				}
			}
		default:
			r.skipAt(2) // the body is at 1, its fields at 2
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
			if n := r.cappedArray("stale periods", sla.MaxStalePeriods); n >= 0 {
				p.Stale = resize(p.Stale[:0], n)
				for i := 0; i < n && r.err == nil; i++ {
					r.stalePeriod(&p.Stale[i])
				}
			}
		case "stages":
			if n := r.cappedArray("stages", len(sla.Stages)); n >= 0 {
				p.Stages = resize(p.Stages[:0], n)
				for i := 0; i < n && r.err == nil; i++ {
					r.stageHist(&p.Stages[i])
				}
			}
		default:
			r.skipAt(4) // panels at 2, a panel at 3, its fields at 4
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
			r.skipAt(6) // stale at 4, a period at 5, its fields at 6
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
	*h = StageHist{Index: h.Index[:0], Counts: h.Counts[:0], Packed: h.Packed[:0]}
	if !r.reuse && !r.binsAgree() {
		return
	}
	// The second of the two arrays is refused before it is allocated when
	// its length differs from the first's.
	seenIndex, seenCounts := false, false
	for n := r.mapKeys(); n > 0 && r.err == nil; n-- {
		switch string(r.key()) {
		case "stage":
			h.Stage = r.label()
		case "index":
			if n := r.cappedArray("bins in a stage", sla.MaxBins); n >= 0 {
				if seenCounts && n != len(h.Counts) {
					r.binsDiffer(n, len(h.Counts))
					break
				}
				seenIndex = true
				h.Index = resize(h.Index[:0], n)
				binInts(r, h.Index)
			}
		case "counts":
			if n := r.cappedArray("bins in a stage", sla.MaxBins); n >= 0 {
				if seenIndex && n != len(h.Index) {
					r.binsDiffer(len(h.Index), n)
					break
				}
				seenCounts = true
				h.Counts = resize(h.Counts[:0], n)
				binInts(r, h.Counts)
			}
		case "first":
			h.First = int32(r.int64())
		case "packed":
			h.Packed = r.packedBins(h.Packed)
		default:
			r.skipAt(6) // stages at 4, a stage at 5, its fields at 6
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

// binInts reads len(dst) integers, a histogram's index or counts, into
// dst, each converted as T(r.int64()) converts it. The encodings of nearly
// every bin (fixints, uint8, int8 and uint16: the bins of 0.05 ms to 10 min,
// counts under 65,536) are read in place in one loop over the bytes, without
// a call or an error check per integer; any other goes through r.int64(),
// which reads and refuses it as before. A report's 2,240 integers
// (8 panels × 7 stages × 40 bins × 2) went from about 8 to 2 ns each
// (BenchmarkDecodeTake_8Panels40Bins/decode).
func binInts[T int32 | uint32](r *reader, dst []T) {
	b, i := r.b, r.i
	for k := range dst {
		if i < len(b) {
			switch c := b[i]; {
			case c <= 0x7f || c >= 0xe0:
				dst[k] = T(int8(c))
				i++
				continue
			case c == 0xcc && i+1 < len(b):
				dst[k] = T(b[i+1])
				i += 2
				continue
			case c == 0xd0 && i+1 < len(b):
				dst[k] = T(int8(b[i+1]))
				i += 2
				continue
			case c == 0xcd && i+2 < len(b):
				dst[k] = T(uint16(b[i+1])<<8 | uint16(b[i+2]))
				i += 3
				continue
			}
		}
		r.i = i
		v := r.int64()
		if r.err != nil { // r.i is past the end: the frame is refused
			return
		}
		dst[k] = T(v)
		i = r.i
	}
	r.i = i
}

// packedBins reads a packed histogram's bytes (a bin, or a str, as the
// library reads a []byte), refused past sla.MaxPackedBytes before it is
// copied: into dst's array on a reader that reuses, else into a new slice
// (nil for nil, as the library decodes). Its uvarints are read later, by
// StageHist.Unpack.
func (r *reader) packedBins(dst []byte) []byte {
	n := r.bytesLen()
	if r.err != nil || r.capped("bytes in a packed histogram", n, sla.MaxPackedBytes) {
		return dst[:0]
	}
	if n < 0 {
		if r.reuse {
			return dst[:0]
		}
		return nil
	}
	b := r.next(n)
	if r.err != nil {
		return dst[:0]
	}
	if !r.reuse {
		return append([]byte{}, b...)
	}
	return append(dst[:0], b...)
}

func (r *reader) binsDiffer(nIndex, nCounts int) {
	r.fail(fmt.Errorf("%w: %d indexes and %d counts in a stage", errReportCap, nIndex, nCounts))
}

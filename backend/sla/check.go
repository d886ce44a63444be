package sla

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// ErrRefused wraps every reason Check refuses a report: the sender gets it
// (400 or an error frame) and nothing of the report is merged.
var ErrRefused = errors.New("report refused")

// MaxStaleAge is how far before a report's To a stale period it lists may
// have started; an older start is clamped to it. A screen disconnected
// longer than a day reports the last day of it.
const MaxStaleAge = 24 * time.Hour

// Check refuses a report that breaks the shape every page's report has
// (unknown stage or cause, bins outside [sla.MinBin, sla.MaxBin], unsorted
// or mismatched bins, a period longer than sla.MaxReportPeriod, a To too far
// from now, empty or over-long ids, negative numbers, more than the caps
// allow, a histogram sent in both shapes or neither, packed bytes that are
// not uvarints: wire.StageHist.Unpack) and clamps what one screen cannot
// have done in the report's period: Painted and each stage's count at sla.MaxEventsPerSec × the
// period, FreshMs + StaleMs at the period, a stale period's length at the
// time from its start to To. A hostile page thus distorts only its own
// report, by at most what one honest, very busy screen could report. It
// changes r in place (a packed histogram is unpacked into Index and
// Counts, which is what everything after Check reads); every refusal says
// why and wraps ErrRefused.
func Check(r *wire.Report, now time.Time) error {
	_, err := check(r, now)
	return err
}

// check is Check, also saying how many values it clamped.
func check(r *wire.Report, now time.Time) (clamped int, err error) {
	if r == nil {
		return refused("no report")
	}
	if err := checkName("screen", r.Screen); err != nil {
		return refused("%v", err)
	}
	if err := checkName("dashboard", r.Dashboard); err != nil {
		return refused("%v", err)
	}
	switch r.Transport {
	case "", sla.TransportSocket, sla.TransportFallback:
	default:
		return refused("transport %.32q: want %q or %q", r.Transport, sla.TransportSocket, sla.TransportFallback)
	}
	if r.ClockErr < 0 || r.ClockErr > int64(sla.MaxClockErr) {
		return refused("clock_err %d ns: want 0 to %v", r.ClockErr, sla.MaxClockErr)
	}
	if r.From <= 0 || r.To <= r.From {
		return refused("period from %d to %d: want 0 < from < to (Unix ns)", r.From, r.To)
	}
	period := time.Duration(r.To - r.From)
	if period > sla.MaxReportPeriod {
		return refused("period of %v: longer than %v", period, sla.MaxReportPeriod)
	}
	to := time.Unix(0, r.To)
	if ahead := to.Sub(now); ahead > time.Duration(r.ClockErr) {
		return refused("to is %v ahead of the server's clock, past the clock estimate's error %v", ahead, time.Duration(r.ClockErr))
	}
	if behind := now.Sub(to); behind > sla.MaxClockSkewBack {
		return refused("to is %v behind the server's clock: more than %v", behind, sla.MaxClockSkewBack)
	}
	if len(r.Panels) > sla.MaxPanels {
		return refused("%d panels: at most %d", len(r.Panels), sla.MaxPanels)
	}
	// The most events one screen can have painted (or measured) per panel in
	// the period, at least one.
	maxEvents := uint64(math.Ceil(period.Seconds() * sla.MaxEventsPerSec))
	periodMs := period.Milliseconds()
	for i := range r.Panels {
		p := &r.Panels[i]
		if err := checkName("panel", p.Panel); err != nil {
			return refused("panel %d: %v", i, err)
		}
		// At most sla.MaxPanels: comparing with those before costs less
		// than a map's hashing.
		for j := range i {
			if r.Panels[j].Panel == p.Panel {
				return refused("panel %q: listed twice", p.Panel)
			}
		}
		if p.FreshMs < 0 || p.StaleMs < 0 {
			return refused("panel %q: negative fresh_ms %d or stale_ms %d", p.Panel, p.FreshMs, p.StaleMs)
		}
		if len(p.Stale) > sla.MaxStalePeriods {
			return refused("panel %q: %d stale periods: at most %d", p.Panel, len(p.Stale), sla.MaxStalePeriods)
		}
		if len(p.Stages) > len(sla.Stages) {
			return refused("panel %q: %d stages: at most %d", p.Panel, len(p.Stages), len(sla.Stages))
		}
		var stages uint32 // bit i: sla.Stages[i] is listed
		for j := range p.Stages {
			h := &p.Stages[j]
			si := stageIndex(h.Stage)
			if si < 0 {
				return refused("panel %q: unknown stage %.32q", p.Panel, h.Stage)
			}
			if stages&(1<<si) != 0 {
				return refused("panel %q: stage %q listed twice", p.Panel, h.Stage)
			}
			stages |= 1 << si
			sum, packed, uerr := h.UnpackSum() // a packed histogram as Index and Counts, its bins checked as it is read
			if uerr != nil {
				return refused("panel %q: stage %q: %v", p.Panel, h.Stage, uerr)
			}
			if len(h.Index) != len(h.Counts) {
				return refused("panel %q: stage %q: %d bins but %d counts", p.Panel, h.Stage, len(h.Index), len(h.Counts))
			}
			if len(h.Index) > sla.MaxBins {
				return refused("panel %q: stage %q: %d bins: at most %d", p.Panel, h.Stage, len(h.Index), sla.MaxBins)
			}
			if !packed { // a packed histogram's bins were checked and summed as they were read
				for k, b := range h.Index {
					if b < sla.MinBin || b > sla.MaxBin {
						return refused("panel %q: stage %q: bin %d outside [%d, %d]", p.Panel, h.Stage, b, sla.MinBin, sla.MaxBin)
					}
					if k > 0 && b <= h.Index[k-1] {
						return refused("panel %q: stage %q: bins not in ascending order at %d", p.Panel, h.Stage, k)
					}
					sum += uint64(h.Counts[k])
				}
			}
			if sum > maxEvents {
				// Scaled down, the histogram keeps its shape and weighs what
				// the busiest honest screen's would.
				clamped++
				f := float64(maxEvents) / float64(sum)
				for k, c := range h.Counts {
					h.Counts[k] = uint32(float64(c) * f)
				}
			}
		}
		if p.Painted > maxEvents {
			clamped++
			p.Painted = maxEvents
		}
		if total := float64(p.FreshMs) + float64(p.StaleMs); total > float64(periodMs) { // in float: the int64 sum can overflow
			clamped++
			f := float64(periodMs) / total
			p.FreshMs = int64(float64(p.FreshMs) * f)
			p.StaleMs = int64(float64(p.StaleMs) * f)
			for p.FreshMs+p.StaleMs > periodMs { // rounding
				if p.FreshMs > 0 {
					p.FreshMs--
				} else {
					p.StaleMs--
				}
			}
		}
		for j := range p.Stale {
			s := &p.Stale[j]
			switch s.Cause {
			case sla.CauseSilent, sla.CauseDisconnect, sla.CauseFallback, sla.CauseClientLag:
			default:
				return refused("panel %q: stale period %d: unknown cause %.32q", p.Panel, j, s.Cause)
			}
			if s.Start <= 0 || s.Ms < 0 {
				return refused("panel %q: stale period %d: start %d, %d ms: want both positive", p.Panel, j, s.Start, s.Ms)
			}
			if s.Start > r.To {
				return refused("panel %q: stale period %d: starts after the report's period", p.Panel, j)
			}
			if oldest := r.To - int64(MaxStaleAge); s.Start < oldest {
				clamped++
				s.Start = oldest
			}
			if most := (r.To - s.Start) / int64(time.Millisecond); s.Ms > most {
				clamped++
				s.Ms = most
			}
		}
	}
	return clamped, nil
}

// refused is check's refusal: its error, wrapping ErrRefused. Not inlined:
// inlined at each of check's two dozen refusals (as the closure it replaces was), the
// argument arrays made check's frame 2,312 bytes, and a report's Take
// then outgrew a 4 KB stack of the gateway's reader goroutine (a stack
// copy a report: up to 0.05 s of Take's 0.16 s over 1,800 reports in a
// fan-out profile, bench/results/2026-12-07-report-cpu2.md).
//
//go:noinline
func refused(format string, args ...any) (int, error) {
	return 0, fmt.Errorf("%w: "+format, append([]any{ErrRefused}, args...)...)
}

func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s id", what)
	case len(s) > sla.MaxNameBytes:
		return fmt.Errorf("%s id of %d bytes: at most %d", what, len(s), sla.MaxNameBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s id is not UTF-8", what)
	}
	// Byte by byte: the string is valid UTF-8, and every control character
	// this refuses is one byte, which no multi-byte sequence contains.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%s id %.32q has a control character", what, s)
		}
	}
	return nil
}

// maxSkewBack is how far behind the server's clock a report's To may be:
// a minute takes no report after it has ended by that much.
const maxSkewBack = sla.MaxClockSkewBack

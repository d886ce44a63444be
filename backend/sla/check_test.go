package sla

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// t0 is the server's clock in these tests.
var t0 = time.Date(2026, 12, 6, 12, 0, 30, 0, time.UTC)

// report is a valid 10 s report ending at now, one panel "p" of dashboard
// "d", with the given total latencies (ms).
func report(screen string, now time.Time, totalMs ...float64) *wire.Report {
	return &wire.Report{
		Screen: screen, Dashboard: "d", From: now.Add(-10 * time.Second).UnixNano(), To: now.UnixNano(),
		ClockErr: int64(5 * time.Millisecond), Transport: sla.TransportSocket,
		Panels: []wire.PanelReport{{Panel: "p", Painted: uint64(len(totalMs)), FreshMs: 9000, StaleMs: 1000,
			Stale:  []wire.StalePeriod{{Start: now.Add(-3 * time.Second).UnixNano(), Ms: 1000, Cause: sla.CauseSilent}},
			Stages: []wire.StageHist{hist(sla.StageTotal, totalMs...)}}},
	}
}

// hist bins ms as a page does.
func hist(stage string, ms ...float64) wire.StageHist {
	counts := map[int32]uint32{}
	for _, v := range ms {
		counts[sla.Bin(v)]++
	}
	h := wire.StageHist{Stage: stage}
	for b := sla.MinBin; b <= sla.MaxBin; b++ {
		if c := counts[b]; c > 0 {
			h.Index = append(h.Index, b)
			h.Counts = append(h.Counts, c)
		}
	}
	return h
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", sla.MaxNameBytes+1)
	tests := []struct {
		name   string
		change func(r *wire.Report)
		want   string // in the error
	}{
		{"no screen", func(r *wire.Report) { r.Screen = "" }, "empty screen id"},
		{"no dashboard", func(r *wire.Report) { r.Dashboard = "" }, "empty dashboard id"},
		{"long screen", func(r *wire.Report) { r.Screen = long }, "screen id of 129 bytes"},
		{"long dashboard", func(r *wire.Report) { r.Dashboard = long }, "dashboard id of 129 bytes"},
		{"control character", func(r *wire.Report) { r.Dashboard = "a\nb" }, "control character"},
		{"not UTF-8", func(r *wire.Report) { r.Screen = "\xff" }, "not UTF-8"},
		{"unknown transport", func(r *wire.Report) { r.Transport = "pigeon" }, "transport"},
		{"negative clock error", func(r *wire.Report) { r.ClockErr = -1 }, "clock_err"},
		{"huge clock error", func(r *wire.Report) { r.ClockErr = int64(sla.MaxClockErr) + 1 }, "clock_err"},
		{"negative from", func(r *wire.Report) { r.From = -5 }, "period"},
		{"to before from", func(r *wire.Report) { r.From, r.To = r.To, r.From }, "period"},
		{"empty period", func(r *wire.Report) { r.From = r.To }, "period"},
		{"period too long", func(r *wire.Report) { r.From = r.To - int64(sla.MaxReportPeriod) - 1 }, "longer than"},
		{"to in the future", func(r *wire.Report) { r.From, r.To = r.From+int64(time.Second), r.To+int64(time.Second) }, "ahead of the server's clock"},
		{"to long ago", func(r *wire.Report) {
			r.From, r.To = r.From-int64(2*time.Minute), r.To-int64(2*time.Minute)
		}, "behind the server's clock"},
		{"too many panels", func(r *wire.Report) {
			for i := range sla.MaxPanels {
				r.Panels = append(r.Panels, wire.PanelReport{Panel: "q" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
			}
		}, "panels: at most"},
		{"no panel id", func(r *wire.Report) { r.Panels[0].Panel = "" }, "empty panel id"},
		{"long panel id", func(r *wire.Report) { r.Panels[0].Panel = long }, "panel id of"},
		{"panel twice", func(r *wire.Report) { r.Panels = append(r.Panels, wire.PanelReport{Panel: "p"}) }, "listed twice"},
		{"negative fresh", func(r *wire.Report) { r.Panels[0].FreshMs = -1 }, "negative"},
		{"negative stale", func(r *wire.Report) { r.Panels[0].StaleMs = -1 }, "negative"},
		{"too many stale periods", func(r *wire.Report) {
			r.Panels[0].Stale = make([]wire.StalePeriod, sla.MaxStalePeriods+1)
		}, "stale periods: at most"},
		{"unknown stage", func(r *wire.Report) { r.Panels[0].Stages[0].Stage = "teleport" }, "unknown stage"},
		{"stage twice", func(r *wire.Report) {
			r.Panels[0].Stages = append(r.Panels[0].Stages, hist(sla.StageTotal, 5))
		}, "listed twice"},
		{"too many stages", func(r *wire.Report) {
			for range len(sla.Stages) {
				r.Panels[0].Stages = append(r.Panels[0].Stages, hist(sla.StageHub, 1))
			}
		}, "stages: at most"},
		{"bins and counts differ", func(r *wire.Report) { r.Panels[0].Stages[0].Counts = append(r.Panels[0].Stages[0].Counts, 1) }, "counts"},
		{"too many bins", func(r *wire.Report) {
			h := &r.Panels[0].Stages[0]
			h.Index, h.Counts = make([]int32, sla.MaxBins+1), make([]uint32, sla.MaxBins+1)
		}, "bins: at most"},
		{"bin below", func(r *wire.Report) { r.Panels[0].Stages[0].Index[0] = sla.MinBin - 1 }, "outside"},
		{"bin above", func(r *wire.Report) {
			h := &r.Panels[0].Stages[0]
			h.Index[len(h.Index)-1] = sla.MaxBin + 1
		}, "outside"},
		{"bins unsorted", func(r *wire.Report) {
			h := &r.Panels[0].Stages[0]
			h.Index[0], h.Index[1] = h.Index[1], h.Index[0]
		}, "ascending"},
		{"bins repeated", func(r *wire.Report) {
			h := &r.Panels[0].Stages[0]
			h.Index[1] = h.Index[0]
		}, "ascending"},
		{"unknown cause", func(r *wire.Report) { r.Panels[0].Stale[0].Cause = "gremlins" }, "unknown cause"},
		{"negative stale length", func(r *wire.Report) { r.Panels[0].Stale[0].Ms = -1 }, "positive"},
		{"stale without start", func(r *wire.Report) { r.Panels[0].Stale[0].Start = 0 }, "positive"},
		{"stale after the period", func(r *wire.Report) { r.Panels[0].Stale[0].Start = r.To + 1 }, "after the report's period"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := report("s", t0, 5, 10, 20)
			tc.change(r)
			err := Check(r, t0)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal that says %q", err, tc.want)
			}
		})
	}
	if err := Check(report("s", t0, 5, 10, 20), t0); err != nil {
		t.Fatalf("a valid report: got %v", err)
	}
	if err := Check(nil, t0); !errors.Is(err, ErrRefused) {
		t.Fatalf("nil report: got %v", err)
	}
}

// Values no screen can have had are clamped to what one very busy screen
// could: the report stays, its weight is bounded.
func TestCheckClamps(t *testing.T) {
	t.Parallel()
	period := 10 * time.Second
	maxEvents := uint64(period.Seconds() * sla.MaxEventsPerSec)
	r := report("s", t0, 5, 10, 20)
	p := &r.Panels[0]
	p.Painted = 1 << 62
	p.FreshMs, p.StaleMs = 1<<62, 1<<62 // their sum overflows int64
	p.Stages[0].Counts = []uint32{1 << 31, 1 << 31, 1 << 30}
	p.Stale[0].Start = r.To - int64(48*time.Hour)
	p.Stale[0].Ms = 1 << 50
	clamped, err := check(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if clamped == 0 {
		t.Fatal("nothing counted as clamped")
	}
	if p.Painted != maxEvents {
		t.Errorf("painted: got %d, want %d", p.Painted, maxEvents)
	}
	if p.FreshMs < 0 || p.StaleMs < 0 || p.FreshMs+p.StaleMs > period.Milliseconds() || p.FreshMs != p.StaleMs {
		t.Errorf("fresh %d + stale %d: want at most %d, split evenly as reported", p.FreshMs, p.StaleMs, period.Milliseconds())
	}
	var sum uint64
	for _, c := range p.Stages[0].Counts {
		sum += uint64(c)
	}
	if sum > maxEvents || p.Stages[0].Counts[0] != 2*p.Stages[0].Counts[2] {
		t.Errorf("counts %v: want at most %d in all, in the reported shape", p.Stages[0].Counts, maxEvents)
	}
	if got, want := p.Stale[0].Start, r.To-int64(MaxStaleAge); got != want {
		t.Errorf("stale start: got %d, want %d", got, want)
	}
	if got, want := p.Stale[0].Ms, MaxStaleAge.Milliseconds(); got != want {
		t.Errorf("stale ms: got %d, want %d", got, want)
	}
}

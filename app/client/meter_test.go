package client

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// fakeClock is an injected page clock: Unix ns, moved by hand.
type fakeClock struct{ t int64 }

func (c *fakeClock) now() int64                { return c.t }
func (c *fakeClock) add(d time.Duration) int64 { c.t += int64(d); return c.t }

var t0 = time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC).UnixNano()

// stageOf finds a stage's histogram in a panel's report, unpacked (a copy,
// its bins in Index and Counts as the server reads them).
func stageOf(pr *wire.PanelReport, stage string) *wire.StageHist {
	for i := range pr.Stages {
		if pr.Stages[i].Stage == stage {
			h := pr.Stages[i]
			h.Index, h.Counts, h.Packed = nil, nil, append([]byte(nil), h.Packed...)
			if h.Unpack() != nil {
				return &pr.Stages[i] // as sent, for the test's message
			}
			return &h
		}
	}
	return nil
}

// A page sends its histograms packed (wire.StageHist: First and Packed),
// the shape that costs a server least, and they unpack to the bins it
// measured, empty bins between left out.
func TestMeterSendsPackedHistograms(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"kpi", "orders"}})
	sent := clk.now()
	m.sync(sent, sent+int64(time.Millisecond), clk.add(2*time.Millisecond))
	var evs []wire.Event
	for seq, ms := range []int64{5, 5, 6, 400} { // 5 ms twice, the next bins empty up to 6 ms, then a run to 400 ms
		created := clk.now() - int64(time.Second) // the database stage: created → stored
		evs = append(evs, wire.Event{Stream: "orders", Epoch: 1, Seq: uint64(seq + 1), Created: created, Stored: created + ms*int64(time.Millisecond), Ingested: created + ms*int64(time.Millisecond)})
	}
	now := clk.now()
	m.received("orders", 1, evs, now, uint64(len(evs)), now, now)
	m.Painted([]Paint{{"kpi", 1, 4}}, now)
	var r wire.Report
	if !m.Report(&r, clk.add(time.Second)) || len(r.Panels) != 1 {
		t.Fatalf("no report: %+v", r)
	}
	for _, h := range r.Panels[0].Stages {
		if h.Index != nil || h.Counts != nil || len(h.Packed) == 0 || h.First == 0 {
			t.Fatalf("stage %s sent as index %v counts %v, first %d packed %x: want it packed", h.Stage, h.Index, h.Counts, h.First, h.Packed)
		}
	}
	db := stageOf(&r.Panels[0], sla.StageDatabase)
	want := []int32{sla.Bin(5), sla.Bin(6), sla.Bin(400)}
	if db == nil || !slices.Equal(db.Index, want) || !slices.Equal(db.Counts, []uint32{2, 1, 1}) {
		t.Fatalf("database stage unpacks to %+v, want bins %v counts [2 1 1]", db, want)
	}
}

// single checks that a stage holds exactly n events, all in ms's bin.
func single(t *testing.T, pr *wire.PanelReport, stage string, ms float64, n uint32) {
	t.Helper()
	h := stageOf(pr, stage)
	if h == nil {
		t.Fatalf("stage %s missing", stage)
	}
	if len(h.Index) != 1 || h.Index[0] != sla.Bin(ms) || h.Counts[0] != n {
		t.Fatalf("stage %s: bins %v counts %v, want %d in bin %d (%v ms)", stage, h.Index, h.Counts, n, sla.Bin(ms), ms)
	}
}

// The path of an event, on a page whose clock is an hour ahead of the
// server's, each stage measured on the right clock.
func TestMeterStages(t *testing.T) {
	clk := &fakeClock{t: t0 + int64(time.Hour)} // the page's clock: an hour ahead
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"kpi", "orders"}, {"chart", "orders"}, {"other", "cpu"}})
	// One Sync: sent now, the server answers 20 ms later at its clock, back
	// 20 ms after that. Offset −1 h, error 20 ms.
	sent := clk.now()
	m.sync(sent, t0+int64(20*time.Millisecond), clk.add(40*time.Millisecond))
	srv := func(local int64) int64 { return local - int64(time.Hour) } // the truth
	created := srv(clk.now()) - int64(500*time.Millisecond)
	ev := []wire.Event{{Stream: "orders", Epoch: 7, Seq: 1, Created: created, Stored: created + 5e6, Ingested: created + 15e6}}
	sentAt := created + 100e6
	recv := sentAt + int64(400e6) + int64(time.Hour) // the network took 400 ms
	clk.t = recv
	m.received("orders", 7, ev, sentAt, 1, recv, clk.add(3*time.Millisecond))
	m.Painted([]Paint{{"kpi", 7, 1}}, clk.add(16*time.Millisecond))
	m.Painted([]Paint{{"chart", 7, 1}}, clk.add(16*time.Millisecond))
	var r wire.Report
	if !m.Report(&r, clk.add(time.Second)) {
		t.Fatal("no report")
	}
	if len(r.Panels) != 2 {
		t.Fatalf("%d panels reported, want the 2 that painted", len(r.Panels))
	}
	if r.ClockErr != int64(20*time.Millisecond) {
		t.Fatalf("clock error %v, want 20ms", time.Duration(r.ClockErr))
	}
	if d := abs64(r.To - srv(clk.now())); d > r.ClockErr {
		t.Fatalf("report's To is %v off the server's clock", time.Duration(d))
	}
	kpi, chart := &r.Panels[0], &r.Panels[1]
	if kpi.Panel != "kpi" || kpi.Painted != 1 || chart.Painted != 1 {
		t.Fatalf("panels %+v", r.Panels)
	}
	single(t, kpi, sla.StageDatabase, 5, 1)
	single(t, kpi, sla.StageHub, 10, 1)
	single(t, kpi, sla.StageSocket, 85, 1)
	single(t, kpi, sla.StageApply, 3, 1)
	single(t, kpi, sla.StagePaint, 16, 1)
	single(t, chart, sla.StagePaint, 32, 1)
	// Stages across the network: within the clock's error (20 ms).
	for _, c := range []struct {
		pr    *wire.PanelReport
		stage string
		ms    float64
	}{{kpi, sla.StageNetwork, 400}, {kpi, sla.StageTotal, 519}, {chart, sla.StageTotal, 535}} {
		h := stageOf(c.pr, c.stage)
		if h == nil || len(h.Index) != 1 {
			t.Fatalf("%s of %s: %+v", c.stage, c.pr.Panel, h)
		}
		if got := sla.BinValue(h.Index[0]); math.Abs(got-c.ms) > 20+c.ms*sla.RelativeAccuracy {
			t.Fatalf("%s of %s: %v ms, want %v ms within the clock's 20 ms", c.stage, c.pr.Panel, got, c.ms)
		}
	}
	// Emptied: the next period starts from nothing.
	if m.Report(&r, clk.add(time.Second)) {
		t.Fatalf("a second report with nothing new: %+v", r.Panels)
	}
}

// Without a clock estimate the stages crossing the network are left out;
// without a producer stamp, the ones that need it.
func TestMeterLeavesOutWhatItCannotKnow(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"p", "s"}})
	ev := []wire.Event{{Seq: 1, Created: t0 - 1e9, Ingested: t0 - 5e8}, {Seq: 2, Ingested: t0 - 4e8}}
	m.received("s", 1, ev, t0-1e8, 2, clk.now(), clk.add(time.Millisecond))
	m.Painted([]Paint{{"p", 1, 2}}, clk.add(time.Millisecond))
	var r wire.Report
	m.Report(&r, clk.now())
	pr := &r.Panels[0]
	if pr.Painted != 2 || r.ClockErr != 0 {
		t.Fatalf("painted %d, clock error %d", pr.Painted, r.ClockErr)
	}
	for _, s := range []string{sla.StageNetwork, sla.StageTotal, sla.StageDatabase, sla.StageHub} {
		if h := stageOf(pr, s); h != nil {
			t.Errorf("stage %s recorded without its stamps: %+v", s, h)
		}
	}
	if h := stageOf(pr, sla.StageSocket); h == nil || len(h.Index) != 2 || h.Index[0] != sla.Bin(300) || h.Index[1] != sla.Bin(400) {
		t.Fatalf("socket stage %+v, want 300 ms and 400 ms", h)
	}
}

// A stream's events are measured once per panel, however the panels'
// paints interleave; a new epoch starts over; duplicates are not counted.
func TestMeterCountsEachEventOncePerPanel(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"a", "s"}, {"b", "s"}})
	evs := make([]wire.Event, 10)
	for i := range evs {
		evs[i] = wire.Event{Seq: uint64(i + 1)}
	}
	m.received("s", 1, evs[:5], 0, 5, clk.now(), clk.now())
	m.received("s", 1, evs[3:8], 0, 8, clk.now(), clk.now()) // 4, 5 again
	m.Painted([]Paint{{"a", 1, 3}, {"b", 1, 8}}, clk.add(time.Millisecond))
	m.Painted([]Paint{{"a", 1, 8}, {"b", 1, 8}}, clk.add(time.Millisecond))
	m.received("s", 1, evs[8:], 0, 9, clk.now(), clk.now()) // seq 10 past a gap: not applied
	m.Painted([]Paint{{"a", 1, 9}}, clk.add(time.Millisecond))
	m.received("s", 2, evs[:2], 0, 2, clk.now(), clk.now()) // a new epoch
	m.Painted([]Paint{{"a", 2, 2}, {"b", 2, 2}}, clk.add(time.Millisecond))
	var r wire.Report
	m.Report(&r, clk.now())
	if r.Panels[0].Painted != 11 || r.Panels[1].Painted != 10 {
		t.Fatalf("painted a %d b %d, want 11 and 10", r.Panels[0].Painted, r.Panels[1].Painted)
	}
	if n := len(m.streams["s"].stamps); n != 0 {
		t.Fatalf("%d stamps kept after every panel painted them", n)
	}
}

// Fresh and stale time split the period; a stale period has its start on
// the server's clock, its length and its cause.
func TestMeterStaleAccounting(t *testing.T) {
	clk := &fakeClock{t: t0 + int64(time.Hour)}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"p", "s"}})
	m.sync(clk.now(), t0, clk.now()) // exact: offset −1 h
	m.Fresh("p", false, false, "", clk.now())
	m.Fresh("p", true, false, "", clk.add(2*time.Second)) // 2 s without data: neither
	m.Fresh("p", true, false, "", clk.add(time.Second))
	staleAt := clk.add(2 * time.Second)
	m.Fresh("p", true, true, sla.CauseSilent, staleAt)
	m.Fresh("p", true, true, sla.CauseSilent, clk.add(time.Second))
	m.Fresh("p", true, true, sla.CauseDisconnect, clk.add(time.Second)) // the cause changes: a new period
	m.Fresh("p", true, false, "", clk.add(1500*time.Millisecond))
	var r wire.Report
	m.Report(&r, clk.add(500*time.Millisecond))
	pr := r.Panels[0]
	if pr.FreshMs != 3500 || pr.StaleMs != 3500 {
		t.Fatalf("fresh %d ms, stale %d ms, want 3500 and 3500", pr.FreshMs, pr.StaleMs)
	}
	want := []wire.StalePeriod{
		{Start: staleAt - int64(time.Hour), Ms: 2000, Cause: sla.CauseSilent},
		{Start: staleAt + int64(2*time.Second) - int64(time.Hour), Ms: 1500, Cause: sla.CauseDisconnect},
	}
	if !slices.Equal(pr.Stale, want) {
		t.Fatalf("stale periods %+v, want %+v", pr.Stale, want)
	}
	// A period under way is reported with its length so far, and again
	// in the next report, from the same start.
	m.Fresh("p", true, true, sla.CauseFallback, clk.now())
	m.Report(&r, clk.add(3*time.Second))
	if got := r.Panels[0].Stale; len(got) != 1 || got[0].Ms != 3000 {
		t.Fatalf("open period: %+v", got)
	}
	start := r.Panels[0].Stale[0].Start
	m.Report(&r, clk.add(time.Second))
	if got := r.Panels[0].Stale; len(got) != 1 || got[0].Ms != 4000 || got[0].Start != start || r.Panels[0].StaleMs != 1000 {
		t.Fatalf("open period in the next report: %+v, stale %d ms", got, r.Panels[0].StaleMs)
	}
}

// Whatever the page sees, a report stays within the caps the server checks.
func TestMeterReportBounded(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	var panels []PanelStream
	for i := range sla.MaxPanels + 10 {
		panels = append(panels, PanelStream{Panel: "p" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Stream: "s"})
	}
	panels = append(panels, PanelStream{Panel: string(make([]byte, sla.MaxNameBytes+1)), Stream: "s"})
	m.SetPanels(panels)
	m.sync(clk.now(), t0, clk.now())
	r := rand.New(rand.NewPCG(1, 1))
	var evs []wire.Event
	for i := range 20_000 {
		// Latencies spread over the whole range a histogram holds, and
		// beyond it both ways.
		back := int64(math.Exp(r.Float64()*math.Log(2*sla.MaxMs/sla.MinMs)) * sla.MinMs * 1e6 / 1.5)
		evs = append(evs, wire.Event{Seq: uint64(i + 1), Created: clk.now() - back, Ingested: clk.now() + back})
	}
	m.received("s", 1, evs, clk.now()-1, uint64(len(evs)), clk.now(), clk.now())
	var paints []Paint
	for _, p := range panels {
		paints = append(paints, Paint{p.Panel, 1, uint64(len(evs))})
	}
	m.Painted(paints, clk.now())
	for i := range 40 { // flapping: many stale periods
		m.Fresh(panels[0].Panel, true, i%2 == 0, sla.CauseSilent, clk.add(time.Second))
	}
	var rep wire.Report
	m.Report(&rep, clk.now())
	if len(rep.Panels) != sla.MaxPanels {
		t.Fatalf("%d panels, want the cap %d", len(rep.Panels), sla.MaxPanels)
	}
	if b, err := wire.EncodeClient(&rep); err != nil || len(b) > sla.MaxReportBytes {
		t.Fatalf("report of %d bytes (%v), over the cap %d", len(b), err, sla.MaxReportBytes)
	}
	for _, pr := range rep.Panels {
		if len(pr.Panel) > sla.MaxNameBytes || len(pr.Stale) > sla.MaxStalePeriods {
			t.Fatalf("panel %q: %d stale periods", pr.Panel, len(pr.Stale))
		}
		for _, st := range pr.Stages {
			h := stageOf(&pr, st.Stage) // unpacked, as the server reads it
			if len(h.Index) > sla.MaxBins || len(h.Index) != len(h.Counts) || !slices.IsSorted(h.Index) {
				t.Fatalf("stage %s: %d bins, sorted %v", h.Stage, len(h.Index), slices.IsSorted(h.Index))
			}
			if h.Index[0] < sla.MinBin || h.Index[len(h.Index)-1] > sla.MaxBin {
				t.Fatalf("stage %s: bins %d..%d outside [%d, %d]", h.Stage, h.Index[0], h.Index[len(h.Index)-1], sla.MinBin, sla.MaxBin)
			}
		}
	}
	if h := stageOf(&rep.Panels[0], sla.StageTotal); h == nil || len(h.Index) < sla.MaxBins/2 {
		t.Fatalf("total: %+v: the spread of latencies did not fill the bins", h)
	}
	if len(rep.Panels[0].Stale) == 0 {
		t.Fatal("the stale periods did not fit: they come before the histograms")
	}
}

// The histogram's bins are shared/sla's, ascending, with exact counts.
func TestHistBinning(t *testing.T) {
	var h hist
	for _, ms := range []float64{400, 1, 400.5, 0, -3, 1e9, 1, 401} {
		h.add(ms)
	}
	want := map[int32]uint32{}
	for _, ms := range []float64{400, 1, 400.5, sla.MinMs, sla.MinMs, sla.MaxMs, 1, 401} {
		want[sla.Bin(ms)]++
	}
	if !slices.IsSorted(h.index) || len(h.index) != len(want) {
		t.Fatalf("bins %v", h.index)
	}
	for i, b := range h.index {
		if h.counts[i] != want[b] {
			t.Fatalf("bin %d: %d, want %d", b, h.counts[i], want[b])
		}
	}
}

// Stamping and measuring cost no allocation per event once warm.
func TestMeterNoAllocationPerEvent(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"a", "s"}, {"b", "s"}})
	m.sync(clk.now(), t0, clk.now())
	evs := make([]wire.Event, 50)
	seq := uint64(0)
	paints := []Paint{{"a", 1, 0}, {"b", 1, 0}}
	batch := func() {
		for i := range evs {
			seq++
			evs[i] = wire.Event{Seq: seq, Created: clk.now() - int64(i)*1e6, Stored: clk.now(), Ingested: clk.now(), Epoch: 1}
		}
		m.received("s", 1, evs, clk.now(), seq, clk.add(time.Millisecond), clk.add(time.Millisecond))
		paints[0].Seq, paints[1].Seq = seq, seq
		m.Painted(paints, clk.add(5*time.Millisecond))
	}
	for range 20 {
		batch() // warm: the bins these latencies fall in exist
	}
	if n := testing.AllocsPerRun(100, batch); n != 0 {
		t.Fatalf("%v allocations per batch of %d events", n, len(evs))
	}
}

// A better clock sample between two reports can move the estimate back:
// the next report still starts where the last ended (the server refuses a
// screen's overlapping reports).
func TestMeterReportsNeverOverlap(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"p", "s"}})
	m.sync(clk.now(), t0+int64(400*time.Millisecond), clk.add(800*time.Millisecond)) // offset 0, error 400 ms
	m.Fresh("p", true, false, "", clk.now())
	var r wire.Report
	m.Report(&r, clk.add(10*time.Second))
	first := r.To
	sent := clk.now()
	m.sync(sent, sent-int64(300*time.Millisecond)+int64(time.Millisecond), clk.add(2*time.Millisecond)) // the same clock, seen better: offset −300 ms
	if off, _, _ := m.Clock(); off != -int64(300*time.Millisecond) {
		t.Fatalf("offset %v, want −300ms", time.Duration(off))
	}
	m.Report(&r, clk.add(100*time.Millisecond))
	if r.From < first || r.To <= r.From {
		t.Fatalf("second report from %d to %d, the first ended at %d", r.From, r.To, first)
	}
}

// A hidden page measures nothing: what arrived while it was hidden is not
// painted late, and its hidden time is neither fresh nor stale.
func TestMeterHiddenMeasuresNothing(t *testing.T) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"p", "s"}})
	m.Fresh("p", true, false, "", clk.now())
	m.received("s", 1, []wire.Event{{Seq: 1}}, 0, 1, clk.now(), clk.now())
	m.SetVisible(false, clk.add(2*time.Second))
	m.received("s", 1, []wire.Event{{Seq: 2}}, 0, 2, clk.now(), clk.now())
	m.Fresh("p", true, true, sla.CauseSilent, clk.add(time.Minute))
	m.SetVisible(true, clk.add(time.Minute))
	m.Painted([]Paint{{"p", 1, 2}}, clk.now())
	m.Fresh("p", true, false, "", clk.now())
	var r wire.Report
	m.Report(&r, clk.add(time.Second))
	pr := r.Panels[0]
	if pr.Painted != 0 || pr.FreshMs != 3000 || pr.StaleMs != 0 || len(pr.Stale) != 0 {
		t.Fatalf("painted %d, fresh %d ms, stale %d ms %v: want nothing of the hidden time", pr.Painted, pr.FreshMs, pr.StaleMs, pr.Stale)
	}
}

// The meter's cost per event: stamped on arrival, measured at paint for two
// panels of its stream.
func BenchmarkMeter_50EventBatches_2Panels(b *testing.B) {
	clk := &fakeClock{t: t0}
	m := NewMeter(clk.now)
	m.SetPanels([]PanelStream{{"a", "s"}, {"b", "s"}})
	m.sync(clk.now(), t0, clk.now())
	evs := make([]wire.Event, 50)
	seq := uint64(0)
	paints := []Paint{{"a", 1, 0}, {"b", 1, 0}}
	b.ReportAllocs()
	for b.Loop() {
		for i := range evs {
			seq++
			evs[i] = wire.Event{Seq: seq, Created: clk.now() - int64(i)*1e6, Stored: clk.now(), Ingested: clk.now(), Epoch: 1}
		}
		m.received("s", 1, evs, clk.now(), seq, clk.add(time.Millisecond), clk.add(time.Millisecond))
		paints[0].Seq, paints[1].Seq = seq, seq
		m.Painted(paints, clk.add(5*time.Millisecond))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

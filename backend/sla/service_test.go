package sla

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

func take(t *testing.T, s *Service, tenant string, r *wire.Report, now time.Time) {
	t.Helper()
	if err := s.Take(tenant, r, now); err != nil {
		t.Fatalf("take: %v", err)
	}
}

func query(t *testing.T, s *Service, tenant, dashboard string) *sla.Answer {
	t.Helper()
	a, err := s.Query(context.Background(), tenant, dashboard, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// exact is the value the sketch's quantile stands for: the sorted sample at
// rank q × (n − 1), rounded down, as DDSketch ranks.
func exact(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func within(got, want float64) bool {
	return math.Abs(got-want) <= sla.RelativeAccuracy*want*1.000001
}

// Reports of many screens over three minutes, some saved to the store and
// some still in memory, merge into the quantiles of all their samples
// within the stated relative accuracy, per stage and in total.
func TestMergedQuantilesAreExactWithinTheStatedAccuracy(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	rng := rand.New(rand.NewPCG(3, 4))
	var all, hubAll []float64
	for screen := range 40 {
		now := t0.Add(time.Duration(screen) * 3 * time.Second) // spans three minutes
		var ms, hub []float64
		for range 200 + screen*10 {
			// Log-normal around 80 ms, with a heavy tail, per screen
			// skewed: the merge has to weigh them.
			v := math.Exp(rng.NormFloat64()*0.8+4.4) * (1 + float64(screen)/20)
			ms = append(ms, v)
			hub = append(hub, v/10)
		}
		all, hubAll = append(all, ms...), append(hubAll, hub...)
		r := report(fmt.Sprintf("screen-%d", screen), now, ms...)
		r.Panels[0].Stages = append(r.Panels[0].Stages, hist(sla.StageHub, hub...))
		take(t, s, "acme", r, now)
		if screen == 20 { // the first minute closes
			if err := s.Flush(context.Background(), now.Add(2*time.Minute), false); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(all)
	slices.Sort(hubAll)
	a := query(t, s, "acme", "d")
	if len(a.Panels) != 1 {
		t.Fatalf("got %d panels, want 1: %+v", len(a.Panels), a)
	}
	p := a.Panels[0]
	for _, c := range []struct {
		q   float64
		got float64
	}{{0.50, p.P50Ms}, {0.95, p.P95Ms}, {0.99, p.P99Ms}} {
		if want := exact(all, c.q); !within(c.got, want) {
			t.Errorf("p%v: got %v, want %v within %v", c.q*100, c.got, want, sla.RelativeAccuracy)
		}
	}
	if p.Painted != uint64(len(all)) {
		t.Errorf("painted: got %d, want %d", p.Painted, len(all))
	}
	if a.Screens != 40 || a.RelativeAccuracy != sla.RelativeAccuracy {
		t.Errorf("screens %d, accuracy %v: want 40, %v", a.Screens, a.RelativeAccuracy, sla.RelativeAccuracy)
	}
	if want := 90.0; math.Abs(p.FreshPct-want) > 1e-9 {
		t.Errorf("fresh: got %v%%, want %v%%", p.FreshPct, want)
	}
	var hubStage, total *sla.StageSLA
	for i := range p.Stages {
		switch p.Stages[i].Stage {
		case sla.StageHub:
			hubStage = &p.Stages[i]
		case sla.StageTotal:
			total = &p.Stages[i]
		}
	}
	if hubStage == nil || total == nil || len(p.Stages) != 2 {
		t.Fatalf("stages: got %+v, want hub and total", p.Stages)
	}
	if want := exact(hubAll, 0.95); !within(hubStage.P95Ms, want) || hubStage.Count != uint64(len(hubAll)) {
		t.Errorf("hub p95 %v of %d: want %v of %d", hubStage.P95Ms, hubStage.Count, want, len(hubAll))
	}
	if hubStage.ShareOfTotalPct != 100 || total.ShareOfTotalPct != 100 {
		t.Errorf("shares: hub %v, total %v: want 100 (the only stage), 100", hubStage.ShareOfTotalPct, total.ShareOfTotalPct)
	}
	// 12:00:30 to 12:02:27: three minutes, the middle one both saved and
	// open.
	if len(p.Minutes) != 3 || !p.Minutes[0].Minute.Equal(t0.Truncate(time.Minute)) ||
		!p.Minutes[1].Minute.Equal(t0.Truncate(time.Minute).Add(time.Minute)) || p.Minutes[1].Painted != 7900 {
		t.Errorf("minutes: got %+v, want three, in order", p.Minutes)
	}
	// Every screen saw its own stale period (starts 3 s apart): none merged.
	if len(p.Stale) != 40 || p.Stale[0].Cause != sla.CauseSilent || p.Stale[0].Screens != 1 {
		t.Errorf("stale: got %d (%+v), want 40 of one screen each", len(p.Stale), p.Stale[0])
	}
}

// Two screens that saw the same outage report one stale period, seen by two.
func TestStalePeriodsMergeByStartAndCause(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	for i, screen := range []string{"a", "b", "a"} { // a reports it twice, in its next report
		now := t0.Add(time.Duration(i/2) * 10 * time.Second)
		r := report(screen, now, 10)
		r.Panels[0].Stale = []wire.StalePeriod{{Start: t0.Add(-5*time.Second + 300*time.Millisecond).UnixNano(), Ms: 4000, Cause: sla.CauseDisconnect}}
		if screen == "b" {
			r.Panels[0].Stale[0].Start -= int64(200 * time.Millisecond) // the same second
			r.Panels[0].Stale[0].Ms = 4500
		}
		take(t, s, "acme", r, now)
	}
	got := query(t, s, "acme", "d").Panels[0].Stale
	want := []sla.StaleSLA{{Start: t0.Add(-5 * time.Second), Ms: 4500, Cause: sla.CauseDisconnect, Screens: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// A tenant's reports, however forged, never change another tenant's
// answer, even naming the other's dashboard id; an operator of one tenant
// asking for the other's dashboard gets nothing.
func TestTenantsNeverSeeEachOther(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	take(t, s, "globex", report("g1", t0, 10, 20, 30), t0)
	before := query(t, s, "globex", "d")

	forged := report("a1", t0, 5000, 6000)
	forged.Panels[0].Painted = 1 << 60
	take(t, s, "acme", forged, t0) // the same dashboard and panel ids
	take(t, s, "acme", report("a2", t0, 9000), t0)
	if after := query(t, s, "globex", "d"); !reflect.DeepEqual(after, before) {
		t.Fatalf("acme's reports changed globex's answer:\n%+v\n%+v", before, after)
	}
	if a := query(t, s, "globex", ""); len(a.Panels) != 1 || a.Screens != 1 {
		t.Fatalf("globex's whole tenant: got %+v, want its one panel of one screen", a)
	}
	onlyAcme := report("a3", t0, 10)
	onlyAcme.Dashboard = "acme-only"
	take(t, s, "acme", onlyAcme, t0)
	if a := query(t, s, "globex", "acme-only"); len(a.Panels) != 0 || a.Screens != 0 {
		t.Fatalf("globex asking for acme's dashboard: got %+v, want nothing", a)
	}
	if a := query(t, s, "acme", "acme-only"); len(a.Panels) != 1 {
		t.Fatalf("acme's own dashboard: got %+v", a)
	}
}

// Forged summaries are refused or clamped, and counted.
func TestForgedReportsAreCountedAndCapped(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	s := New(Config{Metrics: reg})
	huge := report("x", t0, 10)
	huge.Panels[0].Painted = math.MaxUint64
	huge.Panels[0].Stages[0].Counts[0] = math.MaxUint32
	take(t, s, "acme", huge, t0)
	negative := report("y", t0, 10)
	negative.Panels[0].FreshMs = -100
	if err := s.Take("acme", negative, t0); !errors.Is(err, ErrRefused) {
		t.Fatalf("negative time: got %v, want a refusal", err)
	}
	if err := s.Take("", report("z", t0, 10), t0); err == nil {
		t.Fatal("a report without a tenant was taken")
	}
	if got := reg.Lookup("telltale_sla_reports_clamped_total").Load(); got != 1 {
		t.Errorf("clamped: got %d, want 1", got)
	}
	if got := reg.Lookup("telltale_sla_reports_refused_total").Load(); got != 1 {
		t.Errorf("refused: got %d, want 1", got)
	}
	p := query(t, s, "acme", "d").Panels[0]
	if maxEvents := uint64(10 * sla.MaxEventsPerSec); p.Painted != maxEvents || p.Stages[0].Count != maxEvents {
		t.Errorf("painted %d, count %d: want both capped at %d", p.Painted, p.Stages[0].Count, maxEvents)
	}
}

// A tenant that fills its share of open rollups (forging dashboard ids) is
// refused more, and counted; another tenant is not.
func TestOpenRollupsAreCappedPerTenant(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	s := New(Config{Metrics: reg, MaxPendingPerTenant: 3})
	for i := range 4 {
		r := report(fmt.Sprint("s", i), t0, 10)
		r.Dashboard = fmt.Sprintf("forged-%d", i)
		err := s.Take("acme", r, t0)
		if i < 3 && err != nil || i == 3 && !errors.Is(err, ErrBusy) {
			t.Fatalf("report %d: got %v", i, err)
		}
	}
	take(t, s, "globex", report("s", t0, 10), t0)
	again := report("another", t0, 10)
	again.Dashboard = "forged-0" // an open rollup: nothing new to hold
	take(t, s, "acme", again, t0)
	if got := reg.Lookup("telltale_sla_reports_busy_total").Load(); got != 1 {
		t.Errorf("busy: got %d, want 1", got)
	}
	if err := s.Flush(context.Background(), t0, true); err != nil {
		t.Fatal(err)
	}
	take(t, s, "acme", report("s9", t0, 10), t0) // saved, the share is free again
}

// One report sent many times counts once: a screen's reports may not
// overlap (beyond the clock estimate's error), so no screen weighs more
// than one busy screen in real time.
func TestRepeatedReportsAreRefused(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	s := New(Config{Metrics: reg})
	take(t, s, "acme", report("s", t0, 10), t0)
	for range 3 {
		if err := s.Take("acme", report("s", t0, 10), t0); !errors.Is(err, ErrRefused) {
			t.Fatalf("the same report again: got %v, want a refusal", err)
		}
	}
	take(t, s, "globex", report("s", t0, 10), t0) // another tenant's screen of that id
	next := report("s", t0.Add(10*time.Second), 10)
	next.From -= int64(500 * time.Millisecond) // within the slack
	take(t, s, "acme", next, t0.Add(10*time.Second))
	if got := query(t, s, "acme", "d").Panels[0].Painted; got != 2 {
		t.Fatalf("painted: got %d, want 2 (two reports taken)", got)
	}
	if got := reg.Lookup("telltale_sla_reports_refused_total").Load(); got != 3 {
		t.Fatalf("refused: got %d, want 3", got)
	}
	// Once the screen's last report is too old to overlap, it is forgotten.
	if err := s.Flush(context.Background(), t0.Add(20*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if n := len(s.lastTo); n != 0 {
		t.Fatalf("%d screens remembered, want none", n)
	}
}

// A tenant whose reports span every bin (the most memory a rollup can
// take) meets its byte cap, and is refused, counted; the bytes are given
// back when its rollups are saved.
func TestOpenRollupsAreCappedInBytes(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	s := New(Config{Metrics: reg, MaxPendingBytesPerTenant: 16 << 10})
	wide := func(screen, dash string) *wire.Report {
		r := report(screen, t0)
		r.Dashboard = dash
		h := &r.Panels[0].Stages[0]
		h.Index, h.Counts = nil, nil
		for b := sla.MinBin; b <= sla.MaxBin; b++ {
			h.Index, h.Counts = append(h.Index, b), append(h.Counts, 1)
		}
		return r
	}
	var err error
	n := 0
	for ; n < 10 && err == nil; n++ {
		err = s.Take("acme", wide(fmt.Sprint("s", n), fmt.Sprint("d", n)), t0)
	}
	if !errors.Is(err, ErrBusy) || n != 3 {
		t.Fatalf("got %v at report %d, want ErrBusy at the third (each rollup ~8 KiB)", err, n)
	}
	if got := reg.Lookup("telltale_sla_reports_busy_total").Load(); got != 1 {
		t.Errorf("busy: got %d, want 1", got)
	}
	take(t, s, "globex", wide("s", "d"), t0)
	if err := s.Flush(context.Background(), t0, true); err != nil {
		t.Fatal(err)
	}
	if s.pendingBytes != 0 || len(s.tenantBytes) != 0 {
		t.Fatalf("after the flush: %d bytes pending, by tenant %v; want none", s.pendingBytes, s.tenantBytes)
	}
	take(t, s, "acme", wide("s9", "d9"), t0)
}

// Run saves closed minutes on its own, the open ones when it ends, and
// returns when its context ends.
func TestRunSavesClosedMinutesAndTheRestAtTheEnd(t *testing.T) {
	t.Parallel()
	st := NewMemoryStore()
	now := t0
	// Run's clock is 2 min after the reports: the first's minute (12:00) is
	// closed, the second's (12:01) not.
	s := New(Config{Store: st, FlushEvery: 10 * time.Millisecond, Now: func() time.Time { return now.Add(2 * time.Minute) }})
	take(t, s, "acme", report("old", now, 10), now)
	take(t, s, "acme", report("new", now.Add(40*time.Second), 10), now.Add(40*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	saved := func() (n int) {
		st.Load(context.Background(), "acme", "d", now.Add(-time.Hour), now.Add(time.Hour), func(*Rollup) { n++ })
		return n
	}
	poll.Until(t, 10*time.Second, func() error {
		if n := saved(); n == 0 {
			return errors.New("the closed minute is not saved yet")
		}
		return nil
	})
	if n := saved(); n != 1 {
		t.Fatalf("%d minutes saved while running, want the closed one", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := query(t, New(Config{Store: st}), "acme", "d"); len(p.Panels) != 1 || p.Panels[0].Painted != 2 || p.Screens != 2 {
		t.Fatalf("after Run ended: got %+v, want both reports saved", p)
	}
}

// failingStore fails Save while down.
type failingStore struct {
	*MemoryStore
	down bool
}

func (f *failingStore) Save(ctx context.Context, rs []*Rollup) error {
	if f.down {
		return errors.New("database down")
	}
	return f.MemoryStore.Save(ctx, rs)
}

// A failed save is retried; while the store is down, closed minutes wait
// within the caps, the oldest dropped and counted.
func TestFailedSavesAreRetriedWithinTheCaps(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	st := &failingStore{MemoryStore: NewMemoryStore(), down: true}
	s := New(Config{Store: st, Metrics: reg, MaxPending: 2})
	for i := range 3 {
		now := t0.Add(time.Duration(i) * time.Minute)
		take(t, s, "acme", report(fmt.Sprint("s", i), now, 10), now)
		if err := s.Flush(context.Background(), now.Add(2*time.Minute), false); err == nil {
			t.Fatal("a failed save said nothing")
		}
	}
	if got := reg.Lookup("telltale_sla_rollups_lost_total").Load(); got != 1 {
		t.Fatalf("lost: got %d, want 1 (MaxPending 2)", got)
	}
	if got := query(t, s, "acme", "d"); len(got.Panels) != 1 || got.Panels[0].Painted != 2 {
		t.Fatalf("while down: got %+v, want the two newest minutes, from memory", got)
	}
	st.down = false
	if err := s.Flush(context.Background(), t0.Add(5*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if len(s.unsaved) != 0 || reg.Lookup("telltale_sla_rollups_pending").Load() != 0 {
		t.Fatalf("after the retry: %d unsaved, gauge %d; want none", len(s.unsaved), reg.Lookup("telltale_sla_rollups_pending").Load())
	}
	if got := query(t, New(Config{Store: st}), "acme", "d"); len(got.Panels[0].Minutes) != 2 ||
		!got.Panels[0].Minutes[0].Minute.Equal(t0.Truncate(time.Minute).Add(time.Minute)) {
		t.Fatalf("saved: got %+v, want the two newest minutes", got.Panels[0].Minutes)
	}
}

// Every report's histograms reach /metrics by count, under the tenant's
// label: telltale_page_stage_seconds.
func TestReportsFeedThePageStageMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.New()
	s := New(Config{Metrics: reg, Stages: metrics.NewStages(reg, 0)})
	take(t, s, "acme", report("s1", t0, 3, 4, 30, 3000), t0)
	take(t, s, "acme", report("s2", t0, 3), t0)
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="0.0025"} 0`,
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="0.005"} 3`,
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="0.05"} 4`,
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="2.5"} 4`,
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="5"} 5`,
		`telltale_page_stage_seconds_bucket{stage="total",tenant="acme",le="+Inf"} 5`,
		`telltale_page_stage_seconds_count{stage="total",tenant="acme"} 5`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	if strings.Count(out, "# TYPE telltale_page_stage_seconds histogram") != 1 {
		t.Errorf("want one TYPE line for the family:\n%s", out)
	}
}

// pageMetrics sums a stage's bins into a fixed array of buckets, and each
// bin's bucket fits a uint8.
func TestPageMetricsBuckets(t *testing.T) {
	t.Parallel()
	if n := len(metrics.LatencyBuckets) + 1; n > 32 {
		t.Fatalf("%d metric buckets: pageMetrics sums into 32", n)
	}
	if n := len(sla.Stages); n > 8 {
		t.Fatalf("%d stages: pageMetrics keeps 8 histograms", n)
	}
	for i, b := range binBucket {
		if want := metrics.Bucket(sla.BinValue(sla.MinBin+int32(i)) / 1000); int(b) != want {
			t.Fatalf("bin %d: bucket %d, want %d", sla.MinBin+int32(i), b, want)
		}
	}
}

// screenHash is hash/fnv's FNV-1a: rollups kept before it was written out
// name their screens by the library's hash.
func TestScreenHashIsFNV1a(t *testing.T) {
	for _, s := range []string{"", "9f86d081884c7d65", "écran", strings.Repeat("x", 200)} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := screenHash(s), h.Sum64(); got != want {
			t.Errorf("screenHash(%q) = %x, want %x", s, got, want)
		}
	}
}

package sla

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// Store keeps closed minutes' rollups. Save may be called again for a
// minute it holds (a restart, another node, a late report): rollups of the
// same key add up, in Save or when Load's caller merges them.
type Store interface {
	Save(ctx context.Context, rs []*Rollup) error
	// Load calls each with every rollup of tenant (of dashboard, or of every
	// dashboard when it is "") whose minute is in [from, to), and every
	// hour's rollup whose hour overlaps it. Each may keep what it is given.
	Load(ctx context.Context, tenant, dashboard string, from, to time.Time, each func(*Rollup)) error
	// Prune deletes the rollups of minutes before before.
	Prune(ctx context.Context, before time.Time) (int64, error)
	// Compact merges the minute rollups of minutes before before into
	// one rollup per hour (Rollup.Hour), returning how many it merged. A
	// rollup is merged once, even with several nodes compacting at once.
	Compact(ctx context.Context, before time.Time) (int64, error)
}

// ErrBusy says a report was refused because the rollups not yet flushed
// are at their cap (Config.MaxPending, MaxPendingBytes and their per-tenant
// caps): the page may
// send it again later.
var ErrBusy = errors.New("too many open rollups; try again later")

// Config configures a Service. Zero values are the documented defaults.
type Config struct {
	// Store keeps closed minutes; nil means in memory (NewMemoryStore).
	Store   Store
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// Stages, when set, receives every report's histograms by count
	// (telltale_page_stage_seconds), under the tenant's bounded label.
	Stages *metrics.Stages
	// Keep is how long rollups are kept; zero means 30 days.
	Keep time.Duration
	// FlushEvery is how often closed minutes go to the Store; zero means 10s.
	FlushEvery time.Duration
	// PruneEvery is how often rollups older than Keep are deleted, and
	// minutes older than CompactAfter merged into hours; zero means an hour.
	PruneEvery time.Duration
	// CompactAfter is how long minute rollups are kept as minutes; older
	// ones are merged into one per hour (a week's query then reads 168
	// rows a panel, not 10,080). Zero means 24h.
	CompactAfter time.Duration
	// MaxPending bounds the rollups held in memory, not yet flushed, over
	// every tenant; zero means 100,000 (each a few KB). MaxPendingPerTenant
	// bounds one tenant's; zero means 8,192 (64 panels × 128 dashboards'
	// screens reporting in one open minute), so one tenant's forged
	// dashboard ids fill its own share, not the server.
	MaxPending, MaxPendingPerTenant int
	// MaxPendingBytes bounds the memory of those rollups (Rollup.size:
	// mostly their stages' bins, 8 bytes each, up to 1,000 bins per stage),
	// over every tenant; zero means 256 MiB. MaxPendingBytesPerTenant bounds
	// one tenant's; zero means 32 MiB. A report is refused once its tenant
	// (or the server) is at the cap, so one report (at most 64 panels) may
	// pass it by what it adds.
	MaxPendingBytes, MaxPendingBytesPerTenant int64
	// Now is Run's clock (which minutes are closed, what is old); nil means
	// time.Now.
	Now func() time.Time
	// MaxScreens bounds the screens remembered (for MaxReportPeriod and
	// sla.MaxClockSkewBack after their last report) to refuse one screen's
	// overlapping reports; zero means 200,000 (about 100 bytes each).
	MaxScreens int
}

// DefaultKeep is how long rollups are kept by default.
const DefaultKeep = 30 * 24 * time.Hour

// Service merges reports into minute rollups (Sink) and answers from them
// (Querier). Take merges in memory; a minute is flushed to the Store once
// no report can land in it any more (sla.MaxClockSkewBack after it ends).
type Service struct {
	cfg   Config
	log   *slog.Logger
	store Store

	// flushing is held (write) while closed rollups move to the store, and
	// (read) while Query reads the store and memory, so that a query never
	// counts a rollup in both or in neither.
	flushing sync.RWMutex

	mu        sync.Mutex
	pending   map[key]*Rollup // open minutes and closed ones not yet flushed
	unsaved   []*Rollup       // taken out of pending, their Save failed: retried
	perTenant map[string]int  // pending rollups by tenant
	// pendingBytes and tenantBytes are the pending rollups' sizes, in all
	// and by tenant.
	pendingBytes int64
	tenantBytes  map[string]int64
	// lastTo is each recent screen's last report's To (by tenant, screen
	// and dashboard): the next report of the screen may not start before it, so
	// sending one report many times does not multiply its weight.
	lastTo map[screenKey]int64

	reports, refused, clamped, busy, staleDropped, saveErrors, lost, pendingGauge *metrics.Value
}

type screenKey struct{ tenant, screen, dashboard string }

// overlapSlack is how much a screen's report may overlap its last: the
// page's clock estimate can move between two reports by its error.
const overlapSlack = time.Second

type key struct {
	tenant, dashboard, panel string
	minute                   int64 // Unix seconds
	hour                     bool  // an hour's rollup (Rollup.Hour)
}

// New makes a Service; Run flushes and prunes it.
func New(cfg Config) *Service {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 10 * time.Second
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = time.Hour
	}
	if cfg.CompactAfter <= 0 {
		cfg.CompactAfter = 24 * time.Hour
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100_000
	}
	if cfg.MaxPendingPerTenant <= 0 {
		cfg.MaxPendingPerTenant = 8192
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = 256 << 20
	}
	if cfg.MaxPendingBytesPerTenant <= 0 {
		cfg.MaxPendingBytesPerTenant = 32 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxScreens <= 0 {
		cfg.MaxScreens = 200_000
	}
	m := cfg.Metrics
	return &Service{cfg: cfg, log: cfg.Logger, store: cfg.Store,
		pending: map[key]*Rollup{}, perTenant: map[string]int{}, tenantBytes: map[string]int64{}, lastTo: map[screenKey]int64{},
		reports:      m.Counter("telltale_sla_reports_total", "Freshness reports taken (merged into rollups)."),
		refused:      m.Counter("telltale_sla_reports_refused_total", "Freshness reports refused: malformed or past a structural cap (sla.Check)."),
		clamped:      m.Counter("telltale_sla_reports_clamped_total", "Freshness reports with values clamped to what one screen can have done (forged or broken counts and times)."),
		busy:         m.Counter("telltale_sla_reports_busy_total", "Freshness reports refused because their tenant's (or the server's) open rollups were at their cap."),
		staleDropped: m.Counter("telltale_sla_stale_dropped_total", "Stale periods dropped at a rollup's cap."),
		saveErrors:   m.Counter("telltale_sla_save_errors_total", "Failed saves of closed minute rollups (retried)."),
		lost:         m.Counter("telltale_sla_rollups_lost_total", "Closed minute rollups dropped after saves failed for longer than memory allows."),
		pendingGauge: m.Gauge("telltale_sla_rollups_pending", "Minute rollups in memory, not yet saved."),
	}
}

// Take checks r (Check) and merges it into the minute of its To. tenant is
// the sender's token's; nothing in r can change another tenant's rollups.
// It never waits on the store.
func (s *Service) Take(tenant string, r *wire.Report, now time.Time) error {
	if tenant == "" {
		return fmt.Errorf("%w: no tenant", ErrRefused)
	}
	clamped, err := check(r, now)
	if err != nil {
		s.refused.Inc()
		return err
	}
	if err := s.merge(tenant, r, clamped); err != nil {
		return err
	}
	// The metrics have locks of their own: the report is taken.
	if s.cfg.Stages != nil {
		pageMetrics(s.cfg.Stages, tenant, r)
	}
	return nil
}

// merge is Take's part under s.mu: a checked report, unless it overlaps
// its screen's last or its tenant is at its caps, goes into its minute's
// rollups.
func (s *Service) merge(tenant string, r *wire.Report, clamped int) error {
	minute := time.Unix(0, r.To).UTC().Truncate(time.Minute)
	screen := screenHash(r.Screen)
	sk := screenKey{tenant, r.Screen, r.Dashboard}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, known := s.lastTo[sk]
	if known && r.From < last-int64(overlapSlack)-r.ClockErr {
		s.refused.Inc()
		return fmt.Errorf("%w: the report starts %v before the end of this screen's last one: reports of a screen may not overlap",
			ErrRefused, time.Duration(last-r.From).Round(time.Millisecond))
	}
	if !known && len(s.lastTo) >= s.cfg.MaxScreens {
		s.busy.Inc()
		return ErrBusy
	}
	// One lookup a panel: the rollups found are kept for the merge below
	// (check allows at most sla.MaxPanels panels).
	var found [sla.MaxPanels]*Rollup
	fresh := 0
	for i := range r.Panels {
		if found[i] = s.pending[key{tenant, r.Dashboard, r.Panels[i].Panel, minute.Unix(), false}]; found[i] == nil {
			fresh++
		}
	}
	if fresh > 0 && (s.perTenant[tenant]+fresh > s.cfg.MaxPendingPerTenant || len(s.pending)+fresh > s.cfg.MaxPending) ||
		s.tenantBytes[tenant] >= s.cfg.MaxPendingBytesPerTenant || s.pendingBytes >= s.cfg.MaxPendingBytes {
		s.busy.Inc()
		return ErrBusy
	}
	s.lastTo[sk] = max(last, r.To)
	s.reports.Inc()
	if clamped > 0 {
		s.clamped.Inc()
	}
	var grew int64
	for i := range r.Panels {
		p := &r.Panels[i]
		ru := found[i]
		var before int64 // a new rollup's whole size is new
		if ru == nil {
			ru = newRollup(tenant, r.Dashboard, p.Panel, minute)
			s.pending[key{tenant, r.Dashboard, p.Panel, minute.Unix(), false}] = ru
			s.perTenant[tenant]++
		} else {
			before = ru.merged
		}
		if n := ru.addReport(screen, p); n > 0 {
			s.staleDropped.Add(int64(n))
		}
		ru.merged = ru.size()
		grew += ru.merged - before
	}
	s.pendingBytes += grew
	s.tenantBytes[tenant] += grew
	s.pendingGauge.Add(int64(fresh))
	return nil
}

// closedBy is when no report can land in minute any more: Check refuses a
// To further than sla.MaxClockSkewBack behind the clock.
func closedBy(minute time.Time) time.Time {
	return minute.Add(time.Minute + maxSkewBack)
}

// Flush saves the rollups of the minutes closed at now (all of them with
// all set, at shutdown) to the store. A failed save is retried at the next
// Flush; past MaxPending rollups or MaxPendingBytes waiting, the oldest
// minutes are dropped (counted in telltale_sla_rollups_lost_total).
func (s *Service) Flush(ctx context.Context, now time.Time, all bool) error {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	s.mu.Lock()
	// A screen whose last report is too old for a new one to overlap it
	// (Check refuses a To that far back) is forgotten.
	for sk, to := range s.lastTo {
		if now.Sub(time.Unix(0, to)) > maxSkewBack+sla.MaxReportPeriod {
			delete(s.lastTo, sk)
		}
	}
	batch := s.unsaved
	s.unsaved = nil
	for k, ru := range s.pending {
		if all || !now.Before(closedBy(ru.Minute)) {
			batch = append(batch, ru)
			delete(s.pending, k)
			if s.perTenant[k.tenant]--; s.perTenant[k.tenant] <= 0 {
				delete(s.perTenant, k.tenant)
				delete(s.tenantBytes, k.tenant)
			} else {
				s.tenantBytes[k.tenant] -= ru.size()
			}
			s.pendingBytes -= ru.size()
		}
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	// Out of pending, these are Flush's alone (and Query waits on
	// s.flushing): their bins become sketches, as a store keeps them.
	for _, ru := range batch {
		ru.seal()
	}
	err := s.store.Save(ctx, batch)
	if err == nil {
		s.pendingGauge.Add(-int64(len(batch)))
		return nil
	}
	s.saveErrors.Inc()
	// Kept for the next try within the caps of open rollups (count and
	// bytes), the newest minutes first.
	slices.SortFunc(batch, func(a, b *Rollup) int { return b.Minute.Compare(a.Minute) })
	var bytes int64
	keep := 0
	for keep < len(batch) && keep < s.cfg.MaxPending && bytes+batch[keep].size() <= s.cfg.MaxPendingBytes {
		bytes += batch[keep].size()
		keep++
	}
	if over := len(batch) - keep; over > 0 {
		s.lost.Add(int64(over))
		s.pendingGauge.Add(-int64(over))
		batch = batch[:keep]
	}
	s.mu.Lock()
	s.unsaved = batch
	s.mu.Unlock()
	return fmt.Errorf("sla: save %d rollups: %w", len(batch), err)
}

// Run flushes closed minutes every FlushEvery and prunes rollups older than
// Keep every PruneEvery until ctx ends, then saves every rollup it holds.
func (s *Service) Run(ctx context.Context) error {
	flush := time.NewTicker(s.cfg.FlushEvery)
	defer flush.Stop()
	prune := time.NewTicker(s.cfg.PruneEvery)
	defer prune.Stop()
	s.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Flush(sctx, s.cfg.Now(), true); err != nil {
				s.log.Warn("sla: saving the open minutes at shutdown failed", "err", err)
			}
			return nil
		case <-flush.C:
			if err := s.Flush(ctx, s.cfg.Now(), false); err != nil && ctx.Err() == nil {
				s.log.Warn("sla: saving closed minutes failed; retrying", "err", err)
			}
		case <-prune.C:
			s.prune(ctx)
		}
	}
}

func (s *Service) prune(ctx context.Context) {
	now := s.cfg.Now()
	n, err := s.store.Prune(ctx, now.Add(-s.cfg.Keep))
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("sla: pruning old rollups failed", "err", err)
	case n > 0:
		s.log.Info("sla: pruned old rollups", "deleted", n)
	}
	n, err = s.store.Compact(ctx, now.Add(-s.cfg.CompactAfter).Truncate(time.Hour))
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("sla: merging old minutes into hours failed", "err", err)
	case n > 0:
		s.log.Debug("sla: merged old minutes into hours", "minutes", n)
	}
}

// inMemory calls each with a copy of every rollup held in memory (open,
// or closed and not yet saved) of tenant (and dashboard, unless "") in
// [from, to). The caller holds s.flushing.
func (s *Service) inMemory(tenant, dashboard string, from, to time.Time, each func(*Rollup)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pick := func(ru *Rollup) {
		if ru.Tenant == tenant && (dashboard == "" || ru.Dashboard == dashboard) && !ru.Minute.Before(from) && ru.Minute.Before(to) {
			each(ru.clone())
		}
	}
	for _, ru := range s.pending {
		pick(ru)
	}
	for _, ru := range s.unsaved {
		pick(ru)
	}
}

// binSeconds and binBucket are, for each bin of shared/sla (from sla.MinBin),
// the latency it stands for in seconds and its bucket in the metrics'
// histograms: a report's bins reach /metrics without a math.Exp or a search
// per bin.
var binSeconds, binBucket = func() ([]float64, []uint8) {
	n := int(sla.MaxBin-sla.MinBin) + 1
	secs, buckets := make([]float64, n), make([]uint8, n)
	for i := range n {
		secs[i] = sla.BinValue(sla.MinBin+int32(i)) / 1000
		buckets[i] = uint8(metrics.Bucket(secs[i]))
	}
	return secs, buckets
}()

// pageMetrics adds a checked report's histograms to
// telltale_page_stage_seconds: per stage, its bins summed per bucket, then
// one add per bucket. Each stage's histogram is looked up once a report,
// not once a panel.
func pageMetrics(stages *metrics.Stages, tenant string, r *wire.Report) {
	var hs [8]*metrics.CountHistogram // one a stage (TestPageMetricsBuckets holds len(sla.Stages) under it)
	var buf [32]uint64                // more than the buckets (TestPageMetricsBuckets)
	per := buf[:len(metrics.LatencyBuckets)+1]
	for i := range r.Panels {
		for _, st := range r.Panels[i].Stages {
			clear(per)
			sum := 0.0
			if len(st.Index) > 0 {
				// The bins ascend (check): a bucket's are consecutive, and
				// summed in a register, added to per once a run.
				counts := st.Counts[:len(st.Index)]
				cur, run := binBucket[st.Index[0]-sla.MinBin], uint64(0)
				for j, idx := range st.Index {
					k, c := idx-sla.MinBin, counts[j]
					sum += binSeconds[k] * float64(c)
					if b := binBucket[k]; b != cur {
						per[cur] += run
						cur, run = b, 0
					}
					run += uint64(c)
				}
				per[cur] += run
			}
			si := stageIndex(st.Stage) // check refused any other
			if hs[si] == nil {
				hs[si] = stages.Page(tenant, st.Stage)
			}
			hs[si].AddBuckets(per, sum)
		}
	}
}

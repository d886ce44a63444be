package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// Store is where the engine reads source events and writes derived ones:
// the embedded store or PostgreSQL. Derived events are ordinary events of
// the tenant's derived stream, so everything that serves a stream (seqs,
// resume, snapshot, HTTP fallback, tenancy) serves them unchanged.
type Store interface {
	ReadWindow(ctx context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error)
	AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error
}

// EngineConfig configures an Engine. Zero values are the documented defaults.
type EngineConfig struct {
	Store Store // required
	// Specs returns the aggregates tenant's dashboards declare. It is asked
	// once per tenant, and again after Reload (issue 17's per-tenant
	// dashboards call Reload when they change). Nil means none: only m4
	// streams pages ask for are computed.
	Specs func(tenant string) []*agg.Spec
	// ParseM4 turns an "m4.<bucket ms>.<source>" name into its spec; nil
	// means agg.ParseM4.
	ParseM4 func(stream string) (*agg.Spec, error)
	// Current returns what a derived stream holds now, folded (the hub's
	// snapshot of it): a rebuilt computer that can Restore from it then
	// writes only what differs, deletes included (a group that vanished
	// while no one computed). Nil means a rebuilt computer writes its whole
	// picture, which never deletes.
	Current func(tenant, stream string) (*wire.State, error)
	// Watched reports whether a derived stream has subscribers now (the
	// hub's Watched). An aggregate no definition names (an m4 series a page
	// asked for) that is not watched for IdleAfter stops, giving its place
	// under MaxPerTenant back; nil means such aggregates run until Reload
	// or shutdown. IdleAfter: zero means 5 minutes.
	Watched   func(tenant, stream string) bool
	IdleAfter time.Duration
	// New returns an empty computer of a spec; nil means aggregate.New.
	New func(spec *agg.Spec) Computer
	// MaxPerTenant bounds the aggregates one tenant computes at once; past
	// it Want fails with ErrTooMany and source events start nothing new.
	// Zero means 100.
	MaxPerTenant int
	// Queue is how many tapped batches wait for the engine; past it a batch
	// is dropped and its source is caught up from the store instead (never
	// lost, never counted twice). Zero means 4096.
	Queue int
	// Tick is how often the engine emits what is due (each aggregate at
	// most once per its EmitMs, on wall-clock multiples of it so that
	// aggregates write together) and moves sliding and calendar windows;
	// zero means 10ms (checking 100 aggregates is about a microsecond).
	Tick time.Duration
	// ReadBatch is how many events one store read fetches; zero means 1000.
	ReadBatch int
	// Elected makes the engine one node's of several on one database
	// (issue 20): it computes only while Run runs, which the node does
	// while it leads (backend/leader). Otherwise Tap ignores batches and
	// Want hands the request to the leader through Forward. The end of Run
	// (of the term) stops every aggregate; the next Run starts from the
	// store, as after a restart. False: the engine is the only one (the
	// embedded store) and computes from NewEngine on.
	Elected bool
	// Forward asks the leader to compute a derived stream a page on this
	// node wants (Elected, not leading): cmd/telltale appends a row to the
	// tenant's WantsStream, which the leader's Tap reads. It must not
	// block. Nil means such wants are dropped.
	Forward func(tenant, stream string) error
	// Live returns the derived streams of a tenant the leader computes, as
	// this node sees them through the store (Elected): a node that does
	// not lead refuses a page's Want of a stream not among them with
	// ErrTooMany once they reach MaxPerTenant, as the leader would, so the
	// page is told (the leader's own refusal only reaches its log). Nil
	// means such wants are always forwarded.
	Live func(tenant string) map[string]bool
	// Record notes a derived stream a page on the leader wants and this
	// engine computes (Elected, leading), for the other nodes' Live:
	// cmd/telltale writes the same WantsStream row as Forward. It must not
	// block. Nil means nothing is noted.
	Record func(tenant, stream string) error
	// Wanted lists what pages on other nodes want now (WantsStream rows
	// younger than IdleAfter), read when a term starts (Elected). Nil means
	// none.
	Wanted  func() []Want
	Logger  *slog.Logger      // nil means discard
	Metrics *metrics.Registry // nil means a private registry
	Now     func() time.Time  // nil means time.Now
}

// ErrUnknown is a derived stream name (agg.*, m4.*) that no definition of
// the tenant names.
var ErrUnknown = errors.New("no such derived stream")

// ErrTooMany is refusing an aggregate over the tenant's cap. It is a stream
// quota error (store.ErrStreamQuota): the gateway answers it with CodeQuota.
var ErrTooMany = fmt.Errorf("%w: aggregates", store.ErrStreamQuota)

// Derived reports whether a stream name is a derived stream's, which only
// the engine writes.
func Derived(stream string) bool {
	return strings.HasPrefix(stream, agg.Prefix) || strings.HasPrefix(stream, agg.M4Prefix)
}

// Engine computes each tenant's aggregates once, from the source events the
// hub taps and the store holds, into derived streams it writes to the store.
//
// One goroutine (Run) owns every computer: it folds tapped batches, catches
// up from the store by seq when a batch was dropped or does not follow, and
// emits on a ticker. Builds (reading a source's stored events at activation)
// run on goroutines of their own and hand the built computer over.
type Engine struct {
	cfg EngineConfig
	log *slog.Logger

	// inbox holds tapped batches until Run's next tick takes them (at
	// most cfg.Queue). Tap does not wake Run: it runs on the hub's
	// delivery path, under the source stream's lock, and a channel send
	// that readied the engine's goroutine cost a futex wake-up there, five
	// per ingest request of five streams (70% of Tap's CPU), for a batch
	// that waits for the next beat's fold anyway.
	inMu    sync.Mutex
	inbox   []batch
	inSpare []batch // the inbox Run took last, emptied, for the next swap
	// inFree are the event slices of folded batches, emptied, for Tap's
	// copies (which it must make: the hub's slice is not its to keep):
	// 88 bytes an event that the GC no longer has to collect.
	inFree [][]wire.Event
	built  chan built
	wake   chan struct{}

	mu        sync.RWMutex
	tenants   map[string]*tenantSpecs
	active    map[aggKey]*aggregate
	bySource  map[srcKey][]*aggregate
	perTenant map[string]int
	pending   []*aggregate    // activated, build not started
	refused   map[aggKey]bool // over the cap, logged once
	stale     map[srcKey]bool // a batch was dropped: catch up from the store

	ready []*aggregate // built, owned by Run
	rows  []rowFields  // fold's, reused: what a batch's aggregates read of its rows
	// Run's tapped batches not folded yet (hold, fold): by source, in the
	// order their sources first came; heldN events, for heldTicks ticks.
	held             []*heldSrc
	heldBy           map[srcKey]*heldSrc
	heldN, heldTicks int
	holds            uint64    // batches held so far
	backoff          time.Time // Run: no builds or catch-ups before, after a store error
	builds           sync.WaitGroup
	// running: Run runs. With cfg.Elected, this node leads: Tap keeps
	// batches and Want computes here only then.
	running atomic.Bool

	m struct {
		active, sourceEvents, emitted, late, overflows, catchups, bytes,
		refused, rebuilds, building, writeErrs, lost *metrics.Value
	}
}

type aggKey struct{ tenant, stream string } // stream: the derived stream

// Want is a derived stream of a tenant that a page wants.
type Want struct{ Tenant, Stream string }
type srcKey struct{ tenant, stream string }

type batch struct {
	tenant string
	evs    []wire.Event
	n      uint64 // Run: the batch's number among those held (Engine.holds)
}

type built struct {
	a          *aggregate
	comp       Computer
	epoch, seq uint64
	restored   bool // told what its derived stream holds: its Emit is the difference
	err        error
}

// tenantSpecs is a tenant's definitions, as Specs gave them.
type tenantSpecs struct {
	byStream map[string]*agg.Spec   // derived name → spec
	bySource map[string][]*agg.Spec // source → specs over it
}

// aggregate is one (tenant, derived stream). Its key, spec and source are
// fixed; stopped is atomic; the rest belongs to Run once built.
type aggregate struct {
	key     aggKey
	spec    *agg.Spec
	src     srcKey
	stopped atomic.Bool
	seen    atomic.Int64 // Unix ns: last asked for (Want) or seen watched

	comp       Computer
	epoch, seq uint64 // the last source event folded
	building   bool
	needFull   bool // write the whole picture next (after a build or a failed write)
	nextEmit   time.Time
	late       uint64
	size       int
	// held is Engine.holds when the computer was installed: the batches
	// held before it are not fed to it, since the build and its catch-up
	// read the store after they were in it (and what they skipped of them
	// is outside the window).
	held uint64
}

// restorer is a computer that can be told what its derived stream holds
// (State.Restore).
type restorer interface{ Restore(st *wire.State) }

// NewEngine returns an engine; Run computes, Tap feeds it.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.New == nil {
		cfg.New = New
	}
	if cfg.ParseM4 == nil {
		cfg.ParseM4 = agg.ParseM4
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 5 * time.Minute
	}
	if cfg.MaxPerTenant <= 0 {
		cfg.MaxPerTenant = 100
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg, log: cfg.Logger,
		built: make(chan built), wake: make(chan struct{}, 1),
		tenants: make(map[string]*tenantSpecs), active: make(map[aggKey]*aggregate),
		bySource: make(map[srcKey][]*aggregate), perTenant: make(map[string]int),
		refused: make(map[aggKey]bool), stale: make(map[srcKey]bool), heldBy: make(map[srcKey]*heldSrc),
	}
	r := cfg.Metrics
	e.m.active = r.Gauge("telltale_agg_active", "aggregates computed now (tenant × definition)")
	e.m.sourceEvents = r.Counter("telltale_agg_source_events_total", "source events folded into aggregates (once per aggregate)")
	e.m.emitted = r.Counter("telltale_agg_emitted_events_total", "derived events written to the store")
	e.m.late = r.Counter("telltale_agg_late_events_total", "source events that landed in a bucket already emitted")
	e.m.overflows = r.Counter("telltale_agg_queue_overflows_total", "tapped batches dropped on a full queue (their source is caught up from the store)")
	e.m.catchups = r.Counter("telltale_agg_catchups_total", "reads of a source from the store to catch an aggregate up")
	e.m.bytes = r.Gauge("telltale_agg_state_bytes", "about how many bytes every aggregate's state holds")
	e.m.refused = r.Counter("telltale_agg_refused_total", "aggregates refused over the tenant's cap (-max-aggregates)")
	e.m.rebuilds = r.Counter("telltale_agg_rebuilds_total", "aggregates rebuilt from the store (activation, new epoch)")
	e.m.building = r.Gauge("telltale_agg_building", "aggregates being rebuilt from the store now")
	e.m.writeErrs = r.Counter("telltale_agg_write_errors_total", "derived batches the store refused (rewritten whole at the next emit)")
	e.m.lost = r.Counter("telltale_agg_lost_events_total", "source events the store had dropped before an aggregate read them")
	return e
}

// Tap takes a batch the hub folded (hub.Config.Tap). It never blocks nor
// wakes the engine (Run takes the batches at its next tick): a batch of a
// stream no aggregate reads is ignored, one that does not fit the queue is
// dropped and its source caught up from the store.
func (e *Engine) Tap(tenant string, evs []wire.Event) {
	if len(evs) == 0 || Derived(evs[0].Stream) {
		return
	}
	if e.cfg.Elected {
		if !e.running.Load() {
			return // another node computes: it reads what this one would
		}
		if evs[0].Stream == WantsStream {
			for i := range evs {
				if evs[i].Row != nil && evs[i].Row.Op != wire.RowDelete {
					e.wanted(tenant, evs[i].Row.Key)
				}
			}
			return
		}
	}
	src := srcKey{tenant, evs[0].Stream}
	if !e.watches(src) {
		return
	}
	e.inMu.Lock()
	ok := len(e.inbox) < e.cfg.Queue
	if ok {
		var buf []wire.Event
		if n := len(e.inFree); n > 0 {
			buf, e.inFree = e.inFree[n-1], e.inFree[:n-1]
		}
		if cap(buf) < len(evs) {
			buf = make([]wire.Event, 0, max(len(evs), 32))
		}
		e.inbox = append(e.inbox, batch{tenant: tenant, evs: append(buf, evs...)})
	}
	e.inMu.Unlock()
	if !ok {
		e.m.overflows.Inc()
		e.mu.Lock()
		e.stale[src] = true
		e.mu.Unlock()
	}
}

// maxFree bounds Engine.inFree: a burst of batches does not stay.
const maxFree = 512

// free gives the event slices of folded batches back to Tap.
func (e *Engine) free(bs []batch) {
	e.inMu.Lock()
	defer e.inMu.Unlock()
	for _, b := range bs {
		if len(e.inFree) == maxFree {
			return
		}
		clear(b.evs) // nothing of the events kept past their fold
		e.inFree = append(e.inFree, b.evs[:0])
	}
}

// taken is the tapped batches, in the order they came, taken out of the
// inbox; they are Run's until its next call of taken.
func (e *Engine) taken() []batch {
	e.inMu.Lock()
	bs := e.inbox
	clear(e.inSpare) // the batches Run took before are held or folded
	e.inbox = e.inSpare[:0]
	e.inMu.Unlock()
	e.inSpare = bs
	return bs
}

// watches reports whether src feeds an aggregate, defined or running.
func (e *Engine) watches(src srcKey) bool {
	e.mu.RLock()
	ts := e.tenants[src.tenant]
	ok := len(e.bySource[src]) > 0 || (ts != nil && len(ts.bySource[src.stream]) > 0)
	e.mu.RUnlock()
	if ts != nil || ok {
		return ok
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.specsLocked(src.tenant).bySource[src.stream]) > 0
}

// specsLocked returns tenant's definitions, asking Specs the first time.
// e.mu must be held for writing.
func (e *Engine) specsLocked(tenant string) *tenantSpecs {
	if ts := e.tenants[tenant]; ts != nil {
		return ts
	}
	ts := &tenantSpecs{byStream: map[string]*agg.Spec{}, bySource: map[string][]*agg.Spec{}}
	if e.cfg.Specs != nil {
		for _, s := range e.cfg.Specs(tenant) {
			if _, dup := ts.byStream[s.Stream()]; dup {
				continue // identical definitions share one computation
			}
			ts.byStream[s.Stream()] = s
			ts.bySource[s.Source] = append(ts.bySource[s.Source], s)
		}
	}
	e.tenants[tenant] = ts
	return ts
}

// resolve returns the spec of a derived stream of tenant.
func (e *Engine) resolve(tenant, stream string) (*agg.Spec, error) {
	if strings.HasPrefix(stream, agg.M4Prefix) {
		s, err := e.cfg.ParseM4(stream)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", stream, ErrUnknown, err)
		}
		return s, nil
	}
	e.mu.RLock()
	ts := e.tenants[tenant]
	e.mu.RUnlock()
	if ts == nil {
		e.mu.Lock()
		ts = e.specsLocked(tenant)
		e.mu.Unlock()
	}
	if s := ts.byStream[stream]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%s: %w", stream, ErrUnknown)
}

// Source returns the stream a derived stream is computed from, whose access
// rule it follows: a token allowed the source may read it. derived is false
// for a name that is not a derived stream's (source is then empty); err is
// ErrUnknown for a derived name the tenant defines nothing for.
func (e *Engine) Source(tenant, stream string) (source string, derived bool, err error) {
	if !Derived(stream) {
		return "", false, nil
	}
	s, err := e.resolve(tenant, stream)
	if err != nil {
		return "", true, err
	}
	return s.Source, true, nil
}

// Want starts computing a derived stream of tenant, if it is not computed
// yet: a page subscribes to it or fetches it. It returns ErrUnknown or
// ErrTooMany when it cannot.
//
// On a node that does not lead (EngineConfig.Elected), the stream is known
// (ErrUnknown otherwise) but computed by the leader: the request goes to
// Forward, and the page gets the derived stream's events as the leader
// writes them. The tenant's cap is then the leader's to apply.
func (e *Engine) Want(tenant, stream string) error {
	s, err := e.resolve(tenant, stream)
	if err != nil {
		return err
	}
	if e.cfg.Elected && !e.running.Load() {
		if e.cfg.Forward == nil {
			return nil
		}
		if e.cfg.Live != nil {
			if live := e.cfg.Live(tenant); !live[stream] && len(live) >= e.cfg.MaxPerTenant {
				e.m.refused.Inc()
				return fmt.Errorf("tenant %s computes its most aggregates (%d), not %s: %w", tenant, e.cfg.MaxPerTenant, stream, ErrTooMany)
			}
		}
		return e.cfg.Forward(tenant, stream)
	}
	e.mu.Lock()
	err = e.activateLocked(tenant, stream, s, false)
	e.mu.Unlock()
	e.poke()
	if err == nil && e.cfg.Elected && e.cfg.Record != nil {
		// The leader's pages' wants are written too, so that the other
		// nodes' Live counts them.
		err = e.cfg.Record(tenant, stream)
	}
	return err
}

// wanted starts computing a derived stream a page on another node wants
// (its Forward, read off WantsStream), on the leader. A name this node
// cannot resolve (a definition removed since) is ignored; a refusal over
// the cap is counted and logged as a page's here would be.
func (e *Engine) wanted(tenant, stream string) {
	s, err := e.resolve(tenant, stream)
	if err != nil {
		return
	}
	e.mu.Lock()
	_ = e.activateLocked(tenant, stream, s, false)
	e.mu.Unlock()
	e.poke()
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// activateLocked registers an aggregate for Run to build. A definition
// refused over the cap (defined true: its source's events ask again and
// again) is counted and logged once; a page's request each time, and not
// remembered (pages can name any number of m4 streams). e.mu must be held
// for writing.
func (e *Engine) activateLocked(tenant, stream string, s *agg.Spec, defined bool) error {
	k := aggKey{tenant, stream}
	if a := e.active[k]; a != nil {
		a.seen.Store(e.cfg.Now().UnixNano())
		return nil
	}
	if e.perTenant[tenant] >= e.cfg.MaxPerTenant {
		if !defined || !e.refused[k] {
			if defined {
				e.refused[k] = true
			}
			e.m.refused.Inc()
			e.log.Warn("aggregate refused: the tenant's cap", "tenant", tenant, "stream", stream, "source", s.Source, "max", e.cfg.MaxPerTenant)
		}
		return fmt.Errorf("tenant %s computes its most aggregates (%d), not %s: %w", tenant, e.cfg.MaxPerTenant, stream, ErrTooMany)
	}
	a := &aggregate{key: k, spec: s, src: srcKey{tenant, s.Source}}
	a.seen.Store(e.cfg.Now().UnixNano())
	e.active[k] = a
	e.bySource[a.src] = append(e.bySource[a.src], a)
	e.perTenant[tenant]++
	e.pending = append(e.pending, a)
	e.m.active.Add(1)
	return nil
}

// Reload drops every tenant's cached definitions, so that Specs is asked
// again, and stops the aggregates whose definition is gone (m4 streams,
// which pages name, go on).
func (e *Engine) Reload() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.tenants)
	clear(e.refused)
	for k, a := range e.active {
		if strings.HasPrefix(k.stream, agg.M4Prefix) {
			continue
		}
		if e.specsLocked(k.tenant).byStream[k.stream] != nil {
			continue
		}
		e.stopLocked(a)
	}
}

// stopLocked ends an aggregate: Run drops it at its next tick; its derived
// stream stays in the store. e.mu must be held for writing.
func (e *Engine) stopLocked(a *aggregate) {
	a.stopped.Store(true)
	delete(e.active, a.key)
	e.perTenant[a.key.tenant]--
	list := e.bySource[a.src]
	for i, b := range list {
		if b == a {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.bySource, a.src)
	} else {
		e.bySource[a.src] = list
	}
	e.m.active.Add(-1)
}

// expire stops the aggregates no definition names (m4 series pages asked
// for, definitions removed) that nobody has watched for IdleAfter, so that
// pages cannot hold the tenant's cap forever. Watched is asked without
// e.mu: the hub calls Tap with a stream locked, and Tap takes e.mu.
func (e *Engine) expire(now time.Time) {
	if e.cfg.Watched == nil {
		return
	}
	e.mu.Lock()
	var asked []*aggregate
	for k, a := range e.active {
		if e.specsLocked(k.tenant).byStream[k.stream] == nil {
			asked = append(asked, a)
		}
	}
	e.mu.Unlock()
	var idle []*aggregate
	for _, a := range asked {
		if e.cfg.Watched(a.key.tenant, a.key.stream) {
			a.seen.Store(now.UnixNano())
		} else if now.Sub(time.Unix(0, a.seen.Load())) > e.cfg.IdleAfter {
			idle = append(idle, a)
		}
	}
	if len(idle) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range idle {
		if e.active[a.key] == a && now.Sub(time.Unix(0, a.seen.Load())) > e.cfg.IdleAfter {
			e.log.Info("aggregate stopped: nobody watches it", "tenant", a.key.tenant, "stream", a.key.stream)
			e.stopLocked(a)
		}
	}
}

// Active returns how many aggregates tenant computes.
func (e *Engine) Active(tenant string) int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.perTenant[tenant]
}

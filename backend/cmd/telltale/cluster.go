package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/leader"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/shared/wire"
)

// Several nodes on one PostgreSQL (issue 20; docs/ARCHITECTURE.md, "Several
// nodes: what runs once"): every node follows the events table and serves
// every stream, but what a node writes or sends on its own (derived
// streams, alerts and their webhooks, retention, the demo feed) is done by
// one node, the leader (backend/leader), and by another when it dies.

// cluster runs the once-per-cluster jobs: with PostgreSQL while this node
// leads, with the embedded store (one node) always.
type cluster struct {
	el *leader.Elector // nil: the embedded store, which always leads
	pg *pgstore.Store  // nil with the embedded store
	// cursors are the alert webhook's delivery cursors with the embedded
	// store (one node; its alerts streams live as long as the process).
	cursors *alert.MemoryCursors
}

// newCluster returns the embedded store's cluster of one, or PostgreSQL's
// elector over a connection of its own to dbURL.
func newCluster(st *openedStore, dbURL string, retry time.Duration, log *slog.Logger, reg *metrics.Registry) *cluster {
	if st.pg == nil {
		reg.Gauge("telltale_leader", "1 while this node leads (holds the cluster's advisory lock: derived streams, alerts, retention, demo feed), 0 otherwise").Add(1)
		return &cluster{cursors: &alert.MemoryCursors{}}
	}
	return &cluster{pg: st.pg, el: leader.New(leader.Config{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			cfg, err := leaderConnConfig(dbURL)
			if err != nil {
				return nil, err
			}
			return pgx.ConnectConfig(ctx, cfg)
		},
		Retry: retry, Logger: log, Metrics: reg})}
}

// Dead-peer detection on the lock's connection. On a network partition
// between the leader and PostgreSQL, the server keeps the leader's session,
// and so the advisory lock, until its socket is found dead: with the
// kernel's defaults (2 h idle before the first keepalive) derived streams
// would stall that long. These session settings make the server give up on
// a silent leader after about leaderDeadAfter (keepalives from 2 s idle, 1 s
// apart, 3 unanswered; tcp_user_timeout bounds unacknowledged data the
// same); its backend ends, the lock is released and another node leads at
// its next -leader-retry. The node's own side: the same keepalives on its
// socket, and the ping every -leader-retry with its timeout. A value the
// DSN sets as a parameter (?tcp_user_timeout=10000) wins. Over a Unix
// socket they do not apply.
const leaderDeadAfter = 5 * time.Second

var leaderKeepalive = map[string]string{
	"tcp_keepalives_idle":     "2",
	"tcp_keepalives_interval": "1",
	"tcp_keepalives_count":    "3",
	"tcp_user_timeout":        fmt.Sprint(leaderDeadAfter.Milliseconds()),
}

// leaderConnConfig is the lock connection's configuration: dbURL, named
// telltale-leader, with the keepalive settings above on both ends.
func leaderConnConfig(dbURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	// What a DBA sees in pg_stat_activity and pg_locks.
	cfg.RuntimeParams["application_name"] = "telltale-leader"
	for k, v := range leaderKeepalive {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	d := &net.Dialer{
		Timeout: cfg.ConnectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: 2 * time.Second, Interval: time.Second, Count: 3,
		},
	}
	cfg.DialFunc = d.DialContext
	return cfg, nil
}

// Leading reports whether this node does the once-per-cluster jobs now.
func (c *cluster) Leading() bool { return c.el == nil || c.el.Leading() }

// elected reports whether this node shares the database with others (and
// so computes only while it leads).
func (c *cluster) elected() bool { return c.el != nil }

// run runs once's jobs: at once with the embedded store; each term that
// this node leads with PostgreSQL, under the term's context, the first
// failure ending the term (the lock is released and tried again).
func (c *cluster) run(ctx context.Context, goRun func(string, func(context.Context) error), once func(ctx context.Context, goRun func(string, func(context.Context) error))) {
	if c.el == nil {
		once(ctx, goRun)
		return
	}
	goRun("leader", func(ctx context.Context) error {
		return c.el.Run(ctx, func(ctx context.Context) error {
			g, gctx := errgroup.WithContext(ctx)
			once(gctx, func(name string, fn func(context.Context) error) {
				g.Go(func() error {
					if err := fn(gctx); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					return nil
				})
			})
			return g.Wait()
		})
	})
}

// AppendAll writes on the leader's lock connection (pgstore.AppendAllOn): a
// node that lost the lock cannot write derived streams or alerts, even in
// the moment before it notices. The embedded store writes directly.
func (c *cluster) appendAll(st aggregate.Store) func(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	if c.el == nil {
		return st.AppendAll
	}
	return func(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
		return c.pg.AppendAllOn(ctx, c.el, tenant, streams)
	}
}

// alertCursors are the alert webhook's delivery cursors (alert.Outbox): in
// PostgreSQL, moved on the leader's lock connection, so that the next
// leader starts where this one's receiver stopped taking messages and a
// node that lost the lock cannot move them; in memory with the embedded
// store.
func (c *cluster) alertCursors() alert.Cursors {
	if c.el == nil {
		return c.cursors
	}
	return pgCursors{pg: c.pg, el: c.el}
}

type pgCursors struct {
	pg *pgstore.Store
	el *leader.Elector
}

func (p pgCursors) Cursor(ctx context.Context, tenant string) (wire.Cursor, bool, error) {
	return p.pg.AlertCursor(ctx, tenant)
}

func (p pgCursors) SetCursor(ctx context.Context, tenant string, c wire.Cursor) error {
	return p.pg.SetAlertCursor(ctx, p.el, tenant, c)
}

// silence is where the alert evaluator keeps when a stream's silence
// counts from (alert.Config.Silence): PostgreSQL, which the next leader
// reads; nil (the evaluator's memory) with the embedded store.
func (c *cluster) silence() alert.SilenceClock {
	if c.pg == nil {
		return nil
	}
	return c.pg
}

// storeHead is the store's head of a stream, for what a new leader must
// not read from its hub before the hub has caught up (currentAlerts); nil
// with the embedded store, whose hub is never behind it.
func (c *cluster) storeHead() func(ctx context.Context, tenant, stream string) (wire.Cursor, bool, error) {
	if c.pg == nil {
		return nil
	}
	return c.pg.Head
}

// leaderStore is the engine's store: reads anywhere, writes as the leader.
type leaderStore struct {
	aggregate.Store
	write func(ctx context.Context, tenant string, streams map[string][]wire.Event) error
}

func (s leaderStore) AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	return s.write(ctx, tenant, streams)
}

// wantsEvery is how often a node that does not lead tells the leader again
// that a page of its watches a derived stream (aggregate.WantsStream): well
// within the engine's IdleAfter (5 minutes), after which the leader stops an
// m4 stream nobody wants.
const wantsEvery = time.Minute

// wants forwards the derived streams pages on this node want to the leader
// (aggregate.EngineConfig.Forward) as rows of the tenant's
// aggregate.WantsStream: at once the first time, at most once a wantsEvery
// after, and every wantsEvery while a page here watches the stream, from
// one goroutine (Run), so a page's subscription never waits for the write.
// The leader writes its own pages' wants too (not for itself: the other
// nodes count them against the tenant's cap, EngineConfig.Live).
type wants struct {
	publish func(ctx context.Context, tenant, stream string, evs []wire.Event) error
	watched func(tenant, stream string) bool
	log     *slog.Logger

	mu   sync.Mutex
	sent map[aggregate.Want]time.Time // written last
	due  map[aggregate.Want]bool      // to write
	wake chan struct{}
}

func newWants(publish func(ctx context.Context, tenant, stream string, evs []wire.Event) error, h *hub.Hub, log *slog.Logger) *wants {
	return &wants{publish: publish, watched: h.Watched, log: log,
		sent: map[aggregate.Want]time.Time{}, due: map[aggregate.Want]bool{}, wake: make(chan struct{}, 1)}
}

// Forward is the engine's EngineConfig.Forward: it never blocks.
func (w *wants) Forward(tenant, stream string) error {
	k := aggregate.Want{Tenant: tenant, Stream: stream}
	w.mu.Lock()
	if time.Since(w.sent[k]) >= wantsEvery && !w.due[k] {
		w.due[k] = true
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	return nil
}

// Run writes the wants until ctx ends.
func (w *wants) Run(ctx context.Context) error {
	t := time.NewTicker(wantsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-t.C:
			w.refresh(time.Now())
		}
		w.write(ctx)
	}
}

// refresh marks due the streams a page here still watches, and forgets
// those none has watched for a while.
func (w *wants) refresh(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, at := range w.sent {
		switch {
		case w.watched(k.Tenant, k.Stream):
			if now.Sub(at) >= wantsEvery/2 {
				w.due[k] = true
			}
		case now.Sub(at) > 10*wantsEvery:
			delete(w.sent, k)
		}
	}
}

// write appends the due wants, one event per stream, per tenant.
func (w *wants) write(ctx context.Context) {
	w.mu.Lock()
	byTenant := map[string][]wire.Event{}
	var todo []aggregate.Want
	now := time.Now()
	for k := range w.due {
		byTenant[k.Tenant] = append(byTenant[k.Tenant], aggregate.WantEvent(k.Stream, now))
		todo = append(todo, k)
	}
	clear(w.due)
	w.mu.Unlock()
	failed := map[string]bool{}
	for tenant, evs := range byTenant {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := w.publish(wctx, tenant, aggregate.WantsStream, evs)
		cancel()
		if err != nil {
			failed[tenant] = true
			if ctx.Err() == nil {
				w.log.Warn("asking the leader for derived streams failed; asking again in a minute", "tenant", tenant, "streams", len(evs), "err", err)
			}
		}
	}
	w.mu.Lock()
	for _, k := range todo {
		if !failed[k.Tenant] {
			w.sent[k] = now
		} else if _, ok := w.sent[k]; !ok {
			w.sent[k] = time.Time{} // retried at the next refresh while watched
		}
	}
	w.mu.Unlock()
}

// wanted is the engine's EngineConfig.Wanted, read when a term starts:
// what pages on every node asked for in the last idle period (the hub's
// state of each tenant's aggregate.WantsStream), and the defined aggregates
// whose derived stream the hub holds, which an earlier leader computed: the
// new term goes on with them at once, since a sliding or calendar window
// moves with time, not only with its source's events.
func wanted(h *hub.Hub, b *boards, idle time.Duration, log *slog.Logger) func() []aggregate.Want {
	return func() []aggregate.Want {
		var out []aggregate.Want
		since := time.Now().Add(-idle)
		for _, tenant := range h.Tenants() {
			st, err := hubState(h, tenant, aggregate.WantsStream)
			if err != nil {
				log.Warn("reading the pages' wanted derived streams failed", "tenant", tenant, "err", err)
			} else {
				for _, s := range aggregate.Wanted(st, since) {
					out = append(out, aggregate.Want{Tenant: tenant, Stream: s})
				}
			}
			for _, spec := range b.Specs(tenant) {
				if c, ok := h.Cursor(tenant, spec.Stream()); ok && c.Seq > 0 {
					out = append(out, aggregate.Want{Tenant: tenant, Stream: spec.Stream()})
				}
			}
		}
		return out
	}
}

// live is the engine's EngineConfig.Live on a node that does not lead: the
// tenant's derived streams the leader computes, as the store says: those
// the pages of any node asked for within idle (the hub's state of its
// aggregate.WantsStream; the leader's pages write rows too), and its
// defined aggregates whose derived stream has events.
func live(h *hub.Hub, b *boards, idle time.Duration, log *slog.Logger) func(tenant string) map[string]bool {
	return func(tenant string) map[string]bool {
		out := map[string]bool{}
		st, err := hubState(h, tenant, aggregate.WantsStream)
		if err != nil {
			log.Warn("reading the pages' wanted derived streams failed", "tenant", tenant, "err", err)
		}
		for _, s := range aggregate.Wanted(st, time.Now().Add(-idle)) {
			out[s] = true
		}
		for _, spec := range b.Specs(tenant) {
			if c, ok := h.Cursor(tenant, spec.Stream()); ok && c.Seq > 0 {
				out[spec.Stream()] = true
			}
		}
		return out
	}
}

// aggIdleAfter is how long an m4 stream pages asked for is computed with
// nobody watching it (aggregate.EngineConfig.IdleAfter).
const aggIdleAfter = 5 * time.Minute

// appendFunc is an Append method made of a function.
type appendFunc func(ctx context.Context, tenant, stream string, evs []wire.Event) error

func (f appendFunc) Append(ctx context.Context, tenant, stream string, evs []wire.Event) error {
	return f(ctx, tenant, stream, evs)
}

// appender appends as the leader: on the lock connection with PostgreSQL
// (appendAll), directly with the embedded store.
func (c *cluster) appender(st *openedStore) appendFunc {
	if c.el == nil {
		return st.Append
	}
	return func(ctx context.Context, tenant, stream string, evs []wire.Event) error {
		return c.pg.AppendAllOn(ctx, c.el, tenant, map[string][]wire.Event{stream: evs})
	}
}

// Package leader elects one node among several that share a PostgreSQL
// database, for the work that must be done once per cluster (computing
// derived streams, judging alerts and sending their webhooks, trimming old
// events, the demo feed): the node that holds a session advisory lock, on a
// connection of its own, leads.
//
// It must never let a node act as leader without the lock. A term's work
// runs under a context that ends as soon as the lock's connection is found
// gone (checked every Config.Retry), and the leader's writes go through that
// same connection (Elector.Begin), so a node whose session PostgreSQL ended
// (and whose lock another node may hold by now) cannot write, even in the
// moment before it notices. A leader that shuts down unlocks and notifies
// Channel, so the others take over at once rather than at their next try.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/backend/metrics"
)

// DefaultKey is the advisory lock every Telltale node of a database tries:
// "telltale" in ASCII. Advisory locks are per database, so two deployments
// on one PostgreSQL server with different databases do not meet.
const DefaultKey int64 = 0x74656c6c74616c65

// ErrNotLeader is a leader's write (Begin) on a node that does not lead.
var ErrNotLeader = errors.New("this node does not lead")

// errLost ends a term whose lock connection failed its check.
var errLost = errors.New("lost the lock's connection")

// Channel is the notification channel a leader that steps down (shutting
// down) notifies after it unlocks, so that the others try the lock at once
// instead of at their next Retry: a rolling restart hands over in
// milliseconds. A leader that dies cannot notify; the others' Retry finds
// the lock free.
const Channel = "telltale_leader"

// Config configures an Elector. Zero values are the documented defaults.
type Config struct {
	// Connect opens the connection the lock is tried and held on; it must
	// be a direct session (not through a pooler in transaction mode, which
	// would hand the session, and the lock, to others). Required.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// Key is the advisory lock's key; zero means DefaultKey.
	Key int64
	// Retry is how often a node that does not lead tries the lock, and how
	// often the leader checks that its connection is alive: a leader that
	// died (its connection closed, so PostgreSQL released the lock) is
	// replaced within about Retry. Zero means 2s.
	Retry   time.Duration
	Logger  *slog.Logger      // nil means discard
	Metrics *metrics.Registry // nil means a private registry
}

// Elector tries the lock until it gets it, then leads until it loses it or
// its context ends, and tries again. It is safe for concurrent use.
type Elector struct {
	cfg     Config
	log     *slog.Logger
	leading atomic.Bool
	gauge   *metrics.Value
	terms   *metrics.Value

	mu   sync.Mutex // one statement on conn at a time: the pings and Begin's transactions
	conn *pgx.Conn  // the lock's connection while this node leads
}

// New returns an elector; Run campaigns.
func New(cfg Config) *Elector {
	if cfg.Key == 0 {
		cfg.Key = DefaultKey
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Elector{cfg: cfg, log: cfg.Logger,
		gauge: cfg.Metrics.Gauge("telltale_leader", "1 while this node leads (holds the cluster's advisory lock: derived streams, alerts, retention, demo feed), 0 otherwise"),
		terms: cfg.Metrics.Counter("telltale_leader_terms_total", "times this node became leader")}
}

// Leading reports whether this node leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends: each time this node gets the lock, lead
// runs with a context that ends when the lock is lost (the connection
// failed its check) or ctx ends, and Run waits for lead to return before
// it closes the connection, which releases the lock. A lead that returns
// while the lock is held ends the term too (its error is logged): the lock
// is released and tried again a Retry later, so a failing leader lets
// another node try. A node that lost its lock connection waits two Retry
// before it tries again, so that the others (whose own connections work)
// get the lock first. Run returns nil when ctx ends.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	for {
		err := e.campaign(ctx, lead)
		if ctx.Err() != nil {
			return nil
		}
		wait := e.cfg.Retry
		if errors.Is(err, errLost) {
			wait *= 2
		}
		if err != nil {
			e.log.Warn("leader: campaign ended; trying again", "in", wait, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// campaign opens a connection and tries the lock on it every Retry until it
// gets it (then leads) or the connection fails.
func (e *Elector) campaign(ctx context.Context, lead func(ctx context.Context) error) error {
	conn, err := e.cfg.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx) // the session ends: PostgreSQL releases the lock
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		var got bool
		qctx, cancel := context.WithTimeout(ctx, e.cfg.Retry+5*time.Second)
		err := conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, e.cfg.Key).Scan(&got)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("try the lock: %w", err)
		}
		if got {
			return e.lead(ctx, conn, lead)
		}
		// Until Retry passes or a leader says it stepped down (a read
		// deadline: the connection stays usable, as pgstore's LISTEN).
		wctx, cancel := context.WithTimeout(ctx, e.cfg.Retry)
		_, err = conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && wctx.Err() == nil {
			return fmt.Errorf("wait for the leader: %w", err)
		}
	}
}

// lead runs one term on conn, which holds the lock.
func (e *Elector) lead(ctx context.Context, conn *pgx.Conn, lead func(ctx context.Context) error) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.conn = conn
	e.mu.Unlock()
	e.leading.Store(true)
	e.gauge.Add(1)
	e.terms.Inc()
	e.log.Info("leader: this node leads")
	done := make(chan error, 1)
	go func() { done <- lead(tctx) }()
	t := time.NewTicker(e.cfg.Retry)
	defer t.Stop()
	var lost, leadErr error
	ended := false
	for !ended && lost == nil && ctx.Err() == nil {
		select {
		case leadErr = <-done:
			ended = true
		case <-ctx.Done():
		case <-t.C:
			lost = e.ping(ctx)
		}
	}
	// From here the term's work stops: on a lost connection at once (its
	// writes through Begin fail already); at shutdown it may still write
	// its last word through the connection, which stays open until lead
	// returns.
	e.leading.Store(false)
	cancel()
	if !ended {
		leadErr = <-done
	}
	e.mu.Lock()
	e.conn = nil
	e.mu.Unlock()
	e.gauge.Add(-1)
	switch {
	case lost != nil:
		e.log.Warn("leader: lost the lock's connection; this node no longer leads", "err", lost)
		return fmt.Errorf("%w: %w", errLost, lost)
	case ctx.Err() != nil:
		// Unlock and say so, before the connection closes (which would
		// unlock anyway): the others try at once.
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1), pg_notify($2, '')`, e.cfg.Key, Channel)
		ucancel()
		e.log.Info("leader: stepped down (shutting down)", "notified", err == nil)
		return nil
	case leadErr != nil:
		return fmt.Errorf("lead: %w", leadErr)
	}
	return errors.New("lead returned while leading")
}

// ping checks the lock's connection: an error means the session (and so
// the lock) may be gone.
func (e *Elector) ping(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return ErrNotLeader
	}
	pctx, cancel := context.WithTimeout(ctx, e.cfg.Retry+5*time.Second)
	defer cancel()
	err := e.conn.Ping(pctx)
	if err != nil && ctx.Err() != nil {
		return nil // shutting down, not lost
	}
	return err
}

// Begin starts a transaction on the lock's connection, so that what it
// writes commits only while this node holds the lock: ErrNotLeader when it
// does not lead. The connection is the transaction's until it commits or
// rolls back (pgx.BeginFunc does both). It makes an Elector a pgx.BeginFunc
// target (pgstore.Store.AppendAllOn).
func (e *Elector) Begin(ctx context.Context) (pgx.Tx, error) {
	e.mu.Lock()
	if e.conn == nil {
		e.mu.Unlock()
		return nil, ErrNotLeader
	}
	tx, err := e.conn.Begin(ctx)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	return &termTx{Tx: tx, unlock: sync.OnceFunc(e.mu.Unlock)}, nil
}

// termTx gives the lock's connection back when its transaction ends.
type termTx struct {
	pgx.Tx
	unlock func()
}

func (t *termTx) Commit(ctx context.Context) error {
	defer t.unlock()
	return t.Tx.Commit(ctx)
}

func (t *termTx) Rollback(ctx context.Context) error {
	defer t.unlock()
	return t.Tx.Rollback(ctx)
}

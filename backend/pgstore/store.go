// Package pgstore makes PostgreSQL the source of truth: the telltale schema and
// its migrations, publishing into the events table (one round trip per batch),
// reading ranges back by seq, and following the table into the hub with one
// LISTEN connection plus a periodic scan as the safety net.
//
// It must never treat a notification as data: notifications only say "look";
// events are read from the table (or, for this node's own commits, taken from
// what it committed, see recent.go), so a lost wake-up or a lost LISTEN
// connection costs latency, never events.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

// Config configures a Store. Zero values are the documented defaults.
type Config struct {
	Pool *pgxpool.Pool // required
	// Sink receives every event the follower reads, in seq order per stream
	// (the hub's Publish). It is called from one goroutine per tenant at a
	// time, so concurrently for different tenants. Nil means Run only
	// tracks positions.
	Sink    func(tenant string, evs []wire.Event)
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// ScanInterval is how often Run checks every stream's last seq, the
	// safety net for a missed wake-up; zero means 1s.
	ScanInterval time.Duration
	// ReadBatch is how many events one read fetches; zero means 1000.
	ReadBatch int
	// WarmEvents is how many recent events per stream Run folds into the hub
	// at start, to rebuild hot state; zero means 5000.
	WarmEvents int
	// WarmBytes bounds the event bodies (JSON bytes as stored) one stream
	// may fold at start: a stream whose last WarmEvents are larger starts
	// from its newest events that fit; zero means 8 MiB.
	WarmBytes int
	// WarmTotalBytes and WarmTime bound the whole warm-up: once either is
	// spent, each stream left folds at most 64 KiB (at least its newest
	// event). Zero means 256 MiB and 10s.
	WarmTotalBytes int
	WarmTime       time.Duration
	// Hold takes a stream in the hub for warming (hub.Hub.Hold): readers of
	// the stream wait until it is warm. Nil means warm through Sink.
	Hold func(tenant, stream string) Held
	// ListenProbe is how long the LISTEN connection may stay silent before
	// it is pinged (a half-open socket would otherwise block until TCP
	// keepalive gives up); zero means 20s.
	ListenProbe time.Duration
	// BehindAfter is how long a commit the follower knows of (a wake-up, a
	// scan) may stay unread before Health says the node is catching up (a
	// load balancer then takes it out): its reads are behind the events
	// table (a burst, a slow PostgreSQL, a lane stuck). Zero means 5s.
	BehindAfter time.Duration
}

// Store publishes to and follows PostgreSQL. It is safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	held      chan struct{} // closed once Run holds every stream to warm
	ready     chan struct{} // closed once Run has warmed the hub
	warmLeft  atomic.Int64  // streams still warming
	warmTotal atomic.Int64  // streams there were to warm
	listening atomic.Bool   // the LISTEN connection is up
	listenErr atomic.Value  // string: why it is not
	catchErr  atomic.Value  // string: the last catch-up's failure, "" when it worked
	seqErr    atomic.Value  // string: the sequencer's last pass's failure, "" when it worked

	m struct {
		notifications, read, scans, reconnects, badBodies, warming *metrics.Value
		cached, uncached, waits, recentBytes                       *metrics.Value
		seqPasses, sequenced, seqErrors                            *metrics.Value
		reads, emptyReads, looks, looked                           *metrics.Value
	}
	recent    *recent     // events this node just committed, for the follower
	following atomic.Bool // Run is following: recent is read
	wake      atomic.Pointer[follower]
	// beforeRead, when set (tests), runs before each of the follower's
	// reads of a stream.
	beforeRead func(ctx context.Context)
}

// PostgreSQL keeps the whole store contract, and other writers share it, so
// it is followed (Run) into the hub.
var (
	_ store.Store    = (*Store)(nil)
	_ store.Follower = (*Store)(nil)
)

// New returns a store; call Run to follow the table into the sink.
func New(cfg Config) *Store {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = time.Second
	}
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = 1000
	}
	if cfg.WarmEvents <= 0 {
		cfg.WarmEvents = 5000
	}
	if cfg.WarmBytes <= 0 {
		cfg.WarmBytes = 8 << 20
	}
	if cfg.WarmTotalBytes <= 0 {
		cfg.WarmTotalBytes = 256 << 20
	}
	if cfg.WarmTime <= 0 {
		cfg.WarmTime = 10 * time.Second
	}
	if cfg.ListenProbe <= 0 {
		cfg.ListenProbe = 20 * time.Second
	}
	if cfg.BehindAfter <= 0 {
		cfg.BehindAfter = 5 * time.Second
	}
	s := &Store{cfg: cfg, log: cfg.Logger, held: make(chan struct{}), ready: make(chan struct{})}
	s.listenErr.Store("not started")
	s.catchErr.Store("")
	s.seqErr.Store("")
	r := cfg.Metrics
	s.m.notifications = r.Counter("telltale_pg_notifications_total", "LISTEN wake-ups received")
	s.m.read = r.Counter("telltale_pg_events_read_total", "events read from the events table into the hub")
	s.m.scans = r.Counter("telltale_pg_scans_total", "scans of every stream's last seq")
	s.m.reconnects = r.Counter("telltale_pg_listen_reconnects_total", "LISTEN connections re-established")
	s.m.warming = r.Gauge("telltale_pg_warming_streams", "streams still being warmed into the hub after start")
	s.m.cached = r.Counter("telltale_pg_follow_cached_total", "events the follower handed to the hub from this node's recent commits without decoding them again (most without reading them back)")
	s.m.uncached = r.Counter("telltale_pg_follow_uncached_total", "events the follower read and decoded from PostgreSQL (other writers, or not among this node's recent commits)")
	s.m.waits = r.Counter("telltale_pg_follow_pending_total", "follower reads that stopped at a seq this node was committing, to take it from the cache once put")
	s.m.recentBytes = r.Gauge("telltale_pg_recent_bytes", "bytes of recently committed events kept for the follower (bound 16 MiB)")
	s.recent = newRecent(recentBytes, recentTTL, s.m.recentBytes)
	s.m.seqPasses = r.Counter("telltale_pg_sequence_passes_total", "passes of this node's sequencer over watched tables' staged events")
	s.m.sequenced = r.Counter("telltale_pg_sequenced_total", "staged events (watched tables, telltale.stage) this node's sequencer moved into the events table")
	s.m.seqErrors = r.Counter("telltale_pg_sequence_errors_total", "streams whose staged events a pass could not move (logged; they stay staged)")
	s.m.reads = r.Counter("telltale_pg_follow_reads_total", "queries the follower sent to read a stream by seq")
	s.m.emptyReads = r.Counter("telltale_pg_follow_empty_reads_total", "follower reads of a stream that found nothing")
	s.m.looks = r.Counter("telltale_pg_follow_looks_total", "queries the follower sent to look at its lingering streams' last seqs, one for every stream due")
	s.m.looked = r.Counter("telltale_pg_follow_looked_total", "lingering looks at a stream after a read, for commits that had no wake-up of their own")
	s.m.badBodies = r.Counter("telltale_pg_bad_bodies_total", "event bodies that did not decode and were delivered empty")
	return s
}

// Ready is closed once Run has folded every stream's recent events into the
// sink. With Config.Hold the server may serve from Held on (readers of a
// stream wait for its warm-up); without it, serve only after Ready: a client
// resuming before would find the hub without its stream and get a snapshot
// instead of its missed events.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// body is an event's payload as stored in events.body and sent to ingest.
type body struct {
	Values map[string]float64 `json:"values,omitempty"`
	Row    *wire.Row          `json:"row,omitempty"`
	Points *wire.Points       `json:"points,omitempty"`
}

// Append publishes evs to a stream in one round trip and sets their Stream,
// Epoch and Seq (as the embedded store does). Either every event is stored or
// none is.
func (s *Store) Append(ctx context.Context, tenant, stream string, evs []wire.Event) error {
	c, err := s.appendTo(ctx, s.cfg.Pool, tenant, stream, evs)
	if err == nil {
		s.keepRecent(c)
	}
	return err
}

// AppendAll publishes several streams' events in one transaction: all are
// stored or none. Streams are locked in name order, so two concurrent calls
// cannot deadlock on each other's stream rows.
func (s *Store) AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error {
	return s.AppendAllOn(ctx, s.cfg.Pool, tenant, streams)
}

// Beginner starts transactions: the pool, a connection, or a leader's lock
// connection (leader.Elector).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// AppendAllOn is AppendAll in a transaction db begins: the cluster's
// leader writes derived streams on the connection that holds its lock
// (leader.Elector), so that a node that lost the lock cannot write.
func (s *Store) AppendAllOn(ctx context.Context, db Beginner, tenant string, streams map[string][]wire.Event) error {
	names := make([]string, 0, len(streams))
	for name := range streams {
		names = append(names, name)
	}
	sort.Strings(names)
	var kept []committed
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		kept = kept[:0]
		for _, name := range names {
			c, err := s.appendTo(ctx, tx, tenant, name, streams[name])
			if err != nil {
				return err
			}
			kept = append(kept, c)
		}
		return nil
	})
	if err != nil {
		for _, c := range kept {
			s.dropRecent(c) // rolled back: nothing of it is kept for the follower
		}
		return err
	}
	for _, c := range kept {
		s.keepRecent(c)
	}
	return nil
}

// committed is what appendTo stored of one stream, as the follower would read
// it back, for the recent-events cache once its transaction has committed.
type committed struct {
	k     key
	epoch uint64
	evs   []wire.Event // the store's copies (canonical); nil when not kept
	sizes []int        // their bodies' JSON bytes
}

// keepRecent puts what a committed transaction stored of one stream in the
// recent-events cache, and wakes the stream's lane as a notification would
// (it may have stopped at these seqs, reserved, waiting for them).
func (s *Store) keepRecent(c committed) {
	if len(c.evs) == 0 || !s.following.Load() {
		return
	}
	s.recent.put(c.k, c.epoch, c.evs, c.sizes, time.Now())
	s.wakeLocal(c)
}

// dropRecent releases what appendTo reserved, for a transaction that rolled
// back, and wakes the stream's lane: what it waited for will not come.
func (s *Store) dropRecent(c committed) {
	if len(c.evs) == 0 {
		return
	}
	s.recent.release(c.k, c.epoch, c.evs[0].Seq, len(c.evs))
	s.wakeLocal(c)
}

func (s *Store) wakeLocal(c committed) {
	if f := s.wake.Load(); f != nil {
		f.wakeLocal(c.k, wakeAt{c.epoch, c.evs[len(c.evs)-1].Seq})
	}
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appendTo stores evs and returns the leading run of them that the follower
// may take from the recent-events cache once the transaction has committed
// (an event canonical cannot vouch for ends the run: the follower reads it
// and what follows from PostgreSQL).
func (s *Store) appendTo(ctx context.Context, q querier, tenant, stream string, evs []wire.Event) (committed, error) {
	if err := wire.ValidStream(stream); err != nil {
		return committed{}, fmt.Errorf("append to %q: %w", stream, err)
	}
	if len(evs) == 0 {
		return committed{}, nil
	}
	bodies := make([]string, len(evs))
	times := make([]time.Time, len(evs))
	created := make([]*time.Time, len(evs))
	now := time.Now()
	for i := range evs {
		ev := &evs[i]
		b, err := json.Marshal(body{Values: ev.Values, Row: ev.Row, Points: ev.Points})
		if err != nil {
			return committed{}, fmt.Errorf("append to %s: event %d: %w", stream, i, err)
		}
		bodies[i] = string(b)
		if ev.Time == 0 {
			ev.Time = now.UnixMilli()
		}
		times[i] = time.UnixMilli(ev.Time)
		if ev.Created == 0 {
			ev.Created = now.UnixNano()
		}
		t := time.Unix(0, ev.Created)
		created[i] = &t
	}
	// The cache's copies are made before the statement, so that after the
	// commit only a put is left between it and the follower.
	var kept []wire.Event
	var sizes []int
	if s.following.Load() {
		for i := range evs {
			ev, ok := canonical(&evs[i])
			if !ok {
				break
			}
			ev.Stream, ev.Time = stream, evs[i].Time
			// The column is timestamptz: microseconds, as pgx writes it.
			ev.Created = time.UnixMicro(created[i].Unix()*1_000_000 + int64(created[i].Nanosecond())/1000).UnixNano()
			kept = append(kept, ev)
			sizes = append(sizes, len(bodies[i]))
		}
	}
	var epoch, first int64
	var stored time.Time
	err := q.QueryRow(ctx,
		`SELECT epoch, first_seq, stored FROM telltale.publish_batch($1, $2, $3::jsonb[], $4, $5)`,
		tenant, stream, bodies, times, created).Scan(&epoch, &first, &stored)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "TTQ01" {
		return committed{}, fmt.Errorf("append to %s: %w: %s", stream, store.ErrStreamQuota, pgErr.Message)
	}
	if err != nil {
		return committed{}, fmt.Errorf("append %d events to %s: %w", len(evs), stream, err)
	}
	for i := range evs {
		evs[i].Stream, evs[i].Epoch, evs[i].Seq = stream, uint64(epoch), uint64(first)+uint64(i)
		evs[i].Stored = stored.UnixNano()
	}
	c := committed{k: key{tenant, stream}, epoch: uint64(epoch), evs: kept, sizes: sizes}
	for i := range c.evs {
		c.evs[i].Epoch, c.evs[i].Seq, c.evs[i].Stored = evs[i].Epoch, evs[i].Seq, evs[i].Stored
	}
	if len(c.evs) > 0 {
		s.recent.reserve(c.k, c.epoch, c.evs[0].Seq, len(c.evs), time.Now())
	}
	return c, nil
}

// Read returns up to limit events of the stream with seq > after, oldest
// first: the replay source for gaps older than the hub keeps in memory.
// What watched tables committed before it is sequenced first, so it is read.
func (s *Store) Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error) {
	s.flushStaged(ctx, tenant, stream)
	var epoch int64
	err := s.cfg.Pool.QueryRow(ctx, `SELECT epoch FROM telltale.streams WHERE tenant = $1 AND stream = $2`, tenant, stream).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s after %d: %w", stream, after, err)
	}
	return s.readRange(ctx, tenant, stream, uint64(epoch), after, 0, limit)
}

// readRange reads seq in (after, upTo] (upTo 0: no bound), at most limit.
func (s *Store) readRange(ctx context.Context, tenant, stream string, epoch, after, upTo uint64, limit int) ([]wire.Event, error) {
	bound := int64(upTo)
	if upTo == 0 {
		bound = 1<<63 - 1
	}
	return s.query(ctx, tenant, stream, epoch, `SELECT seq, ts, body, created, stored FROM telltale.events
		WHERE tenant = $1 AND stream = $2 AND seq > $3 AND seq <= $4 ORDER BY seq LIMIT $5`,
		tenant, stream, int64(after), bound, limit)
}

// ReadWindow returns up to limit events of the stream with seq > after and
// event time in [from, to], oldest first (store.History). It walks
// the primary key from after and filters by time. Like Read, it sequences
// what is staged for the stream first.
func (s *Store) ReadWindow(ctx context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error) {
	s.flushStaged(ctx, tenant, stream)
	var epoch int64
	err := s.cfg.Pool.QueryRow(ctx, `SELECT epoch FROM telltale.streams WHERE tenant = $1 AND stream = $2`, tenant, stream).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read window of %s: %w", stream, err)
	}
	return s.query(ctx, tenant, stream, uint64(epoch), `SELECT seq, ts, body, created, stored FROM telltale.events
		WHERE tenant = $1 AND stream = $2 AND seq > $3 AND ts >= $4 AND ts <= $5 ORDER BY seq LIMIT $6`,
		tenant, stream, int64(after), from, to, limit)
}

// query runs a select of (seq, ts, body, created, stored) rows of one stream.
func (s *Store) query(ctx context.Context, tenant, stream string, epoch uint64, sql string, args ...any) ([]wire.Event, error) {
	rows, err := s.cfg.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	defer rows.Close()
	var out []wire.Event
	for rows.Next() {
		var (
			seq     int64
			ts      time.Time
			raw     []byte
			created *time.Time
			stored  *time.Time
		)
		if err := rows.Scan(&seq, &ts, &raw, &created, &stored); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		ev := s.event(tenant, stream, epoch, seq, ts, raw, created, stored)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	return out, nil
}

// event decodes one row of the events table. A body written by SQL that
// this version cannot read must not stop its stream: it travels empty,
// keeping seqs contiguous, and is counted and logged.
func (s *Store) event(tenant, stream string, epoch uint64, seq int64, ts time.Time, raw []byte, created, stored *time.Time) wire.Event {
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		s.m.badBodies.Inc()
		s.log.Warn("pg event body unreadable: delivered empty", "tenant", tenant, "stream", stream, "seq", seq, "err", err)
		b = body{}
	}
	ev := wire.Event{Stream: stream, Epoch: epoch, Seq: uint64(seq), Time: ts.UnixMilli(), Values: b.Values, Row: b.Row, Points: b.Points}
	if created != nil {
		ev.Created = created.UnixNano()
	}
	if stored != nil {
		ev.Stored = stored.UnixNano()
	}
	return ev
}

// Health reports whether the follower is connected and current; reason says
// why not.
func (s *Store) Health() (ok bool, reason string) {
	if !s.listening.Load() {
		return false, s.listenErr.Load().(string)
	}
	if e := s.catchErr.Load().(string); e != "" {
		return false, e
	}
	if e := s.seqErr.Load().(string); e != "" {
		return false, e
	}
	if f := s.wake.Load(); f != nil {
		if lag := f.lag(time.Now()); lag > s.cfg.BehindAfter {
			return false, fmt.Sprintf("catching up: reads %v behind the events table", lag.Round(100*time.Millisecond))
		}
	}
	return true, ""
}

type key struct{ tenant, stream string }

type cursor struct{ epoch, seq uint64 }

// follower is Run's state, owned by its catch-up goroutine except for
// pending, which the listener fills.
type follower struct {
	s         *Store
	cursors   map[key]cursor
	lingering map[key]lingerState // streams to look at again, and when
	lanes     *lanes              // read and fold each tenant's streams
	seq       *sequencer          // moves watched tables' staged events into events
	readPool  *pgxpool.Pool       // the lanes' connections, and one for the looks
	cmu       sync.Mutex          // guards cursors once the lanes run
	// behind holds, per stream, the oldest commit known and not read yet
	// (guarded by cmu): lag, for Health.
	behind map[key]mark

	mu      sync.Mutex
	pending map[key]wakeAt   // newest announced position
	warming map[key]struct{} // streams the warm-up has not handed over
	warmed  map[key]cursor   // handed over, not yet in cursors
	scan    bool             // a full scan was asked for (reconnect, unknown stream)
	// What the lanes report: streams read to what they owed, and the last
	// failed read.
	finished []done
	laneErr  error
	wake     chan struct{}
}

// SetStreamQuota writes the most streams a tenant may hold, which a trigger
// applies to every path that creates a stream (migration 0007).
func (s *Store) SetStreamQuota(ctx context.Context, max int) error {
	if _, err := s.cfg.Pool.Exec(ctx, `UPDATE telltale.limits SET max_streams_per_tenant = $1`, max); err != nil {
		return fmt.Errorf("set the stream quota: %w", err)
	}
	return nil
}

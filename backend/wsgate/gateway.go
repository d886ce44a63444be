package wsgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/backend/wsgate/internal/epoll"
	"github.com/telltale/telltale/backend/wsgate/internal/iplimit"
	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
)

// Config configures a Gateway. Zero values are the documented defaults.
type Config struct {
	Hub     *hub.Hub
	Logger  *slog.Logger      // nil means discard
	Metrics *metrics.Registry // nil means a private registry
	// Stages, when set, records each live event's hub → sent latency
	// (Ingested to its batch frame's Sent stamp) by the connection's tenant.
	Stages *metrics.Stages
	// Authenticate verifies the token of a hello and returns whom it speaks
	// for; the connection's tenant is the principal's and nothing else. An
	// error closes the connection with wire.CloseUnauthorized. Nil means
	// every connection is a principal of DefaultTenant allowed every stream
	// (tests and embedding only: the telltale binary always verifies).
	Authenticate  func(ctx context.Context, token string) (*auth.Principal, error)
	DefaultTenant string // zero means "demo"

	MaxFrameBytes int           // largest client frame; zero means 64 KiB
	MaxSubs       int           // subscriptions per connection; zero means 64
	QueueBytes    int           // outbox bound per connection; zero means 4 MiB
	PingInterval  time.Duration // zero means 15s; silent for 2 intervals closes
	// HandshakeTimeout is the time a new socket has to send a valid hello;
	// zero means 5s. Clients send it as soon as the socket opens, so it
	// needs room for a slow link's round trips, not more: until then the
	// socket holds a place in the unauthenticated budget (MaxUnauth).
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration // one frame write; zero means 10s
	// FrameBudget is the frames per second all connections together should
	// stay under; zero means 100000 (2 cores write about that many with room
	// to spare). Each connection may write once per window, the window being
	// connections/FrameBudget seconds, capped at MaxWriteDelay: a busy stream
	// costs one frame per window however fast it runs, and an event on a
	// quiet connection goes at once. Negative disables coalescing.
	FrameBudget int
	// MaxWriteDelay caps the coalescing window; zero means 50ms.
	MaxWriteDelay time.Duration
	// NoIOURing makes each flusher write its connections with a write(2)
	// each rather than in io_uring batches (batch.go); without io_uring in
	// the kernel, or with it refused, that is what happens anyway.
	NoIOURing bool
	// MaxConns caps authenticated connections (a verified hello); past it
	// a new one is accepted and closed with wire.CloseFull and a reason.
	// Zero means 20000 (the open-files limit of a default Linux service is
	// near there). Sockets that have not authenticated yet do not count:
	// they have a budget of their own.
	MaxConns int
	// MaxUnauth and MaxUnauthPerAddr bound the sockets that have not
	// authenticated yet (upgraded, no verified hello), in total and per
	// client address, apart from MaxConns: sockets anyone can open without
	// a token never crowd out operators. Past the per-address budget the
	// upgrade is answered 503 with Retry-After; with the total full, a
	// newcomer takes the place of the oldest such socket of the address
	// holding the most (closed at once), or is refused 503 when no address
	// holds two more than its own (see unauthBudget). A socket stays
	// unauthenticated for one round trip when its client is honest, at
	// most HandshakeTimeout otherwise. Zero means 1024 and 64 (more than
	// the burst of the per-address rate limit, so that only a client that
	// also lingers meets it; an office behind one NAT reconnecting at once
	// fits). The process needs MaxConns + MaxUnauth open files for
	// WebSockets, plus its HTTP connections.
	MaxUnauth        int
	MaxUnauthPerAddr int
	// ConnRate and ConnBurst limit new connections per client address:
	// ConnBurst at once, then ConnRate per second; past it the upgrade is
	// answered 429 with Retry-After. Zero means 5/s and 50; a negative
	// ConnRate disables the limit.
	ConnRate  float64
	ConnBurst int
	// Revoked reports whether a connection's principal has been revoked;
	// Sweep closes the connections it covers (auth.Guard.Revoked, with
	// auth.Guard.Run calling Sweep after each reload). Authenticate is
	// expected to refuse revoked tokens at hello and refresh
	// (auth.Guard.Verify). Nil means no revocation.
	Revoked func(*auth.Principal) bool
	// ExpiryWarning is how long before a token's exp the server sends
	// expiring (at most half the token's remaining life); zero means 1m.
	ExpiryWarning time.Duration
	// OriginPatterns are extra allowed Origin hosts (same-origin is always
	// allowed); see websocket.AcceptOptions.
	OriginPatterns []string
	// History reads events older than the hub's ring, to resume a client
	// from its cursor without a snapshot (the embedded store or
	// PostgreSQL). Nil means such a client gets a snapshot.
	History History
	// Derived resolves derived streams (aggregates: agg.*, m4.*), which
	// follow their source stream's access rule (a token allowed the source
	// may read them), and starts computing one a subscription names. Nil
	// means such names are ordinary stream names.
	Derived Derived
	// MaxReplay is the most events replayed to one resuming subscription;
	// a longer gap gets a snapshot. Zero means 100000.
	MaxReplay int
	// AheadWait, when positive, is how long a resume whose cursor is
	// ahead of this hub (by at most MaxReplay events) waits for the hub to
	// reach it, its live events held, before it continues without a
	// snapshot: with a store several nodes follow (PostgreSQL), a client
	// that moves from a node to one whose follower is behind holds seqs
	// this hub has not read yet. A wait that runs out ends in a resync.
	// Zero means such a cursor gets a snapshot at once (one node: it comes
	// from nowhere).
	AheadWait time.Duration
	// CompressAbove is the smallest frame sent deflated (permessage-deflate,
	// without context takeover, when the peer offers it as every browser
	// does): snapshots and catch-up replays, which msgpack's repeated keys
	// and slowly moving numbers make 3–4x smaller. Live batches stay under
	// it and cost no per-connection CPU. Zero means 8 KiB; negative
	// disables compression.
	CompressAbove int
	// Reports takes the pages' freshness reports (issue 18), each with the
	// tenant of the token of the connection that sent it. Nil means reports
	// are refused with wire.CodeReportsOff (the connection stays open).
	Reports sla.Sink
	// SLARate and SLABurst bound the sync and report frames of one
	// connection together: SLABurst at once, then SLARate per second. Past
	// it a frame is refused with wire.CodeRateLimited, and counts toward
	// the refused frames that close a connection. A page sends a report
	// every sla.ReportEvery (and on pagehide) and a few syncs a ping
	// interval. Zero means 1/s and 20; a negative SLARate disables it.
	SLARate  float64
	SLABurst int
}

// Derived is the aggregate engine as the gateway sees it (aggregate.Engine).
type Derived interface {
	// Source returns the stream a derived stream is computed from; derived
	// is false for other names, err set for a derived name the tenant
	// defines nothing for.
	Source(tenant, stream string) (source string, derived bool, err error)
	// Want starts computing a derived stream; an error wrapping
	// store.ErrStreamQuota is the tenant's cap of aggregates.
	Want(tenant, stream string) error
}

// History is where resumes read events the hub no longer holds: the
// store's reading side (store.History), the same one the stream API takes.
type History = store.History

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.DefaultTenant == "" {
		c.DefaultTenant = "demo"
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 10
	}
	if c.MaxSubs <= 0 {
		c.MaxSubs = 64
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 4 << 20
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.FrameBudget == 0 {
		c.FrameBudget = 100000
	}
	if c.MaxWriteDelay <= 0 {
		c.MaxWriteDelay = 50 * time.Millisecond
	}
	if c.ExpiryWarning <= 0 {
		c.ExpiryWarning = time.Minute
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 20000
	}
	if c.MaxUnauth <= 0 {
		c.MaxUnauth = 1024
	}
	if c.MaxUnauthPerAddr <= 0 {
		c.MaxUnauthPerAddr = min(64, c.MaxUnauth)
	}
	if c.CompressAbove == 0 {
		c.CompressAbove = 8 << 10
	}
	if c.ConnRate == 0 {
		c.ConnRate = 5
	}
	if c.SLARate == 0 {
		c.SLARate = 1
	}
	if c.SLABurst <= 0 {
		c.SLABurst = 20
	}
	if c.ConnBurst <= 0 {
		c.ConnBurst = 50
	}
	if c.MaxReplay <= 0 {
		c.MaxReplay = 100000
	}
}

type gateMetrics struct {
	conns, accepted, framesOut, bytesOut, batches, eventsOut    *metrics.Value
	resyncs, dropped, slowCloses, idleCloses, badFrames         *metrics.Value
	replayedStore, denied, unauthorized, expired                *metrics.Value
	rateLimited, full, badOrigin, revokedCloses, drainRefused   *metrics.Value
	deflateBusy, deflateShared, panics, slowWrites              *metrics.Value
	authed, unauth, unauthRefused, unauthEvicted, helloTimeouts *metrics.Value
	reportsTaken, reportsRefused, slaLimited                    *metrics.Value
	aheadWaits, aheadTimeouts                                   *metrics.Value
}

// Gateway is an http.Handler for the WebSocket endpoint.
type Gateway struct {
	cfg Config
	m   gateMetrics

	open    atomic.Int64 // connections, for the coalescing window
	authed  atomic.Int64 // authenticated connections, for MaxConns
	unauth  *unauthBudget
	limiter *iplimit.Limiter
	// fetchSlots bounds the history reads of resuming subscriptions in
	// flight across all connections (each holds a store connection).
	fetchSlots chan struct{}
	// deflateSlots bounds the frames being compressed at once: each holds
	// a pooled 1.2 MB deflate writer while it compresses. See conn.write.
	deflateSlots chan struct{}
	deflated     sharedDeflate // a frame sent to many connections, compressed once

	// Reading: idle connections wait in the poller, without a goroutine.
	poll *epoll.Poller // nil without epoll

	// Writing: one flusher per CPU, each connection assigned to one.
	flushers    []*flusher
	nextFlusher atomic.Uint32
	flushing    sync.WaitGroup // running flusher goroutines
	epoch       time.Time      // the monotonic origin of now

	mu       sync.Mutex
	conns    map[*conn]struct{}
	closing  bool
	draining bool // Drain: new upgrades are refused with 503
	handlers sync.WaitGroup
}

// New returns a gateway; cfg.Hub is required.
func New(cfg Config) *Gateway {
	cfg.defaults()
	r := cfg.Metrics
	g := &Gateway{
		cfg:          cfg,
		limiter:      iplimit.New(cfg.ConnRate, cfg.ConnBurst, time.Now),
		fetchSlots:   make(chan struct{}, maxFetches),
		deflateSlots: make(chan struct{}, maxDeflates),
		deflated:     sharedDeflate{now: time.Now},
		conns:        make(map[*conn]struct{}),
		m: gateMetrics{
			conns:          r.Gauge("telltale_ws_connections", "open WebSocket connections"),
			accepted:       r.Counter("telltale_ws_accepted_total", "WebSocket connections accepted"),
			framesOut:      r.Counter("telltale_ws_frames_out_total", "frames written to clients"),
			bytesOut:       r.Counter("telltale_ws_bytes_out_total", "bytes of frames written to clients, before compression"),
			batches:        r.Counter("telltale_ws_batches_total", "batch frames written"),
			eventsOut:      r.Counter("telltale_ws_events_out_total", "events written inside batch frames"),
			resyncs:        r.Counter("telltale_ws_resyncs_total", "resync frames queued"),
			dropped:        r.Counter("telltale_ws_events_dropped_total", "events dropped for a resyncing or slow client"),
			slowCloses:     r.Counter("telltale_ws_slow_closes_total", "connections closed as slow consumers"),
			idleCloses:     r.Counter("telltale_ws_idle_closes_total", "connections closed for silence"),
			badFrames:      r.Counter("telltale_ws_bad_frames_total", "client frames refused"),
			replayedStore:  r.Counter("telltale_ws_replayed_from_store_total", "events read from the store to resume clients"),
			aheadWaits:     r.Counter("telltale_ws_resume_ahead_waits_total", "resumes whose cursor was ahead of this node's stream, waited for (AheadWait)"),
			aheadTimeouts:  r.Counter("telltale_ws_resume_ahead_timeouts_total", "of those, waits that ran out (a resync)"),
			denied:         r.Counter("telltale_ws_denied_total", "subscriptions refused by the token's permissions"),
			unauthorized:   r.Counter("telltale_ws_unauthorized_total", "connections closed for a missing, invalid or expired token"),
			expired:        r.Counter("telltale_ws_token_expired_total", "connections closed when their token expired"),
			rateLimited:    r.Counter("telltale_ws_rate_limited_total", "upgrades refused by the per-address connection rate limit"),
			drainRefused:   r.Counter("telltale_ws_drain_refused_total", "upgrades refused with 503 while the node drains (a load balancer retries them on another node)"),
			full:           r.Counter("telltale_ws_full_total", "connections closed because the server was at MaxConns"),
			badOrigin:      r.Counter("telltale_ws_bad_origin_total", "upgrades refused for a cross-site Origin"),
			revokedCloses:  r.Counter("telltale_ws_revoked_total", "connections closed because their token or operator was revoked"),
			deflateBusy:    r.Counter("telltale_ws_deflate_busy_total", "snapshots and catch-up frames sent uncompressed because every deflate slot was busy"),
			deflateShared:  r.Counter("telltale_ws_deflate_shared_total", "snapshots sent compressed by another connection's compression of the same frame"),
			panics:         r.Counter("telltale_ws_panics_total", "connections ended by a panic in their handling (logged with its stack)"),
			slowWrites:     r.Counter("telltale_ws_slow_writes_total", "writes that waited for a socket on the connection's own goroutine (a full socket, compression, TLS)"),
			authed:         r.Gauge("telltale_ws_authenticated", "open WebSocket connections whose hello was verified (what MaxConns caps)"),
			unauth:         r.Gauge("telltale_ws_unauthenticated", "WebSocket sockets upgraded or being upgraded that have not sent a verified hello yet"),
			unauthRefused:  r.Counter("telltale_ws_unauth_refused_total", "upgrades refused with 503: the client address, or every address, had its fill of sockets without a verified hello"),
			unauthEvicted:  r.Counter("telltale_ws_unauth_evicted_total", "sockets without a verified hello closed to make room for another client address's"),
			helloTimeouts:  r.Counter("telltale_ws_hello_timeouts_total", "sockets closed for sending no hello within the handshake timeout"),
			reportsTaken:   r.Counter(metrics.Labeled("telltale_sla_reports_total", "result", "taken"), "freshness reports from pages over WebSockets, by result: taken by the sink, or refused (over their caps, rate limited, before hello, no sink, refused by the sink)"),
			reportsRefused: r.Counter(metrics.Labeled("telltale_sla_reports_total", "result", "refused"), ""),
			slaLimited:     r.Counter("telltale_ws_sla_rate_limited_total", "sync and report frames refused by the per-connection rate limit (Config.SLARate)"),
		},
		epoch: time.Now(),
	}
	g.unauth = newUnauthBudget(cfg.MaxUnauth, cfg.MaxUnauthPerAddr)
	g.unauth.gauge = g.m.unauth
	for range runtime.GOMAXPROCS(0) {
		g.flushers = append(g.flushers, newFlusher(g))
	}
	g.poll = epoll.New(cfg.Logger)
	return g
}

// now is the gateway's monotonic clock, in nanoseconds: pacing must not jump
// with the wall clock.
func (g *Gateway) now() int64 { return int64(time.Since(g.epoch)) }

// ServeHTTP upgrades the request and serves the connection until it ends.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if g.draining {
		g.mu.Unlock()
		g.refuseDraining(w)
		return
	}
	g.handlers.Add(1)
	g.mu.Unlock()
	handed := false // the connection's goroutine took over g.handlers
	defer func() {
		if !handed {
			g.handlers.Done()
		}
	}()

	if ok, wait := g.limiter.Allow(iplimit.ClientIP(r.RemoteAddr)); !ok {
		g.m.rateLimited.Inc()
		g.cfg.Logger.Info("websocket rate limited", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		http.Error(w, "too many new connections from your address: retry later", http.StatusTooManyRequests)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !g.originAllowed(r, origin) {
		g.m.badOrigin.Inc()
		g.cfg.Logger.Warn("websocket from a foreign origin refused", "remote", r.RemoteAddr, "origin", origin)
		http.Error(w, "cross-site WebSocket refused: origin "+origin+" is not allowed", http.StatusForbidden)
		return
	}

	// A place among the sockets that have not authenticated yet, given up
	// when the hello is verified (promote) or the connection ends (forget).
	place, victim, ok := g.unauth.admit(iplimit.ClientIP(r.RemoteAddr))
	if !ok {
		g.m.unauthRefused.Inc()
		g.cfg.Logger.Info("websocket refused: too many sockets without a hello", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", strconv.Itoa(int(g.cfg.HandshakeTimeout/time.Second)+1))
		http.Error(w, "too many connections waiting to sign in: retry later", http.StatusServiceUnavailable)
		return
	}
	g.evict(victim)
	owned := false // the connection holds place, and gives it up
	defer func() {
		if !owned {
			g.unauth.leave(place)
		}
	}()

	// With deflate, no context takeover either way: a connection holds no
	// deflate state between frames (a pooled writer per compressed frame),
	// so idle connections cost nothing more. Live batches are encoded once
	// for every subscriber and sent under the threshold as they are. The
	// origin was checked above.
	a, err := wsframe.Accept(w, r, wsframe.AcceptOptions{Deflate: g.cfg.CompressAbove > 0, ReadBuffer: readBuffer})
	if err != nil {
		g.cfg.Logger.Debug("websocket accept", "remote", r.RemoteAddr, "err", err)
		return // Accept has written the HTTP error
	}
	hw := newHeldWriter(a.Conn)
	rd := &wsframe.Reader{R: a.R, MaxMessage: g.cfg.MaxFrameBytes, Deflate: a.Deflate}
	// Already full of authenticated connections: say so at once rather
	// than after the hello (promote checks again, exactly).
	if g.authed.Load() >= int64(g.cfg.MaxConns) {
		g.unauth.leave(place)
		g.refuseFull(r.RemoteAddr)
		closeAtOnce(a.Conn, hw, rd, closeFull)
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{g: g, nc: a.Conn, id: newID(), remote: r.RemoteAddr, ctx: ctx, cancel: cancel, place: place}
	c.in, c.rd, c.readOver = a.R, rd, make(chan struct{})
	c.subs = make(map[string]func())
	c.out, c.net = newOutbox(g.cfg.QueueBytes, &g.m), hw
	c.fl = g.flushers[g.nextFlusher.Add(1)%uint32(len(g.flushers))]
	if !g.unauth.attach(place, c) { // evicted while upgrading
		cancel()
		a.Conn.Close()
		return
	}
	owned = true
	g.open.Add(1)
	c.deflate = a.Deflate
	c.lastRead.Store(time.Now().UnixNano())
	// Everything teardown undoes is in place before the connection can be
	// closed, by Shutdown or a peer already gone: its timer, and the first
	// goroutine counted among its readers, so that teardown waits for it.
	// From here on teardown releases g.handlers.
	c.startWriting()
	c.startTimer()
	c.readers.Add(1)
	handed = true
	g.m.accepted.Inc()
	g.m.conns.Inc()
	g.mu.Lock()
	g.conns[c] = struct{}{}
	if g.closing { // Shutdown ran while this connection was being accepted
		c.close(closeRestart)
	}
	g.mu.Unlock()
	// The connection starts on a goroutine of its own and this handler
	// returns: net/http lets go of the request, its headers, its buffers and
	// its connection state, which a connection storm would otherwise hold
	// through every handshake. After the handshake an idle connection waits
	// in the poller, without a goroutine.
	go func() {
		defer c.readers.Done()
		if c.start() {
			c.readLoop()
		}
	}()
}

// forget is a connection's last step (conn.teardown).
func (g *Gateway) forget(c *conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	if c.authed.Load() {
		g.authed.Add(-1)
		g.m.authed.Add(-1)
	} else {
		g.unauth.leave(c.place)
	}
	g.m.conns.Add(-1)
	g.open.Add(-1)
	g.handlers.Done()
}

// promote moves a connection whose hello was verified from the
// unauthenticated budget to MaxConns. false: it was evicted meanwhile (its
// socket is closed), or MaxConns is reached (it is being closed with
// wire.CloseFull).
func (g *Gateway) promote(c *conn) bool {
	if !g.unauth.leave(c.place) {
		return false
	}
	// Counted before the check, so that connections verified at the same
	// moment cannot all pass it.
	if g.authed.Add(1) > int64(g.cfg.MaxConns) {
		g.authed.Add(-1)
		g.refuseFull(c.remote)
		c.close(closeFull)
		return false
	}
	c.authed.Store(true)
	c.life.CompareAndSwap(handshake, open)
	g.m.authed.Inc()
	return true
}

func (g *Gateway) refuseFull(remote string) {
	g.m.full.Inc()
	g.cfg.Logger.Warn("websocket refused: at MaxConns", "remote", remote, "max", g.cfg.MaxConns)
}

// evict closes the socket that lost its place in the unauthenticated budget
// to another address's (unauthBudget.admit): at once, without a close
// handshake, so that its file is free again now. One still being upgraded
// is closed by its own handler (unauthBudget.attach).
func (g *Gateway) evict(p *pending) {
	if p == nil {
		return
	}
	g.m.unauthEvicted.Inc()
	if c := g.unauth.holder(p); c != nil {
		g.cfg.Logger.Info("websocket without a hello evicted for another address's", "conn", c.id, "remote", c.remote)
		c.nc.Close()
	}
}

// closeAtOnce is the close handshake of a connection refused on its
// handler's goroutine, before it is a conn: the close frame, then the
// client's frames read until its close frame (or closeWait), so that what
// it sent meanwhile cannot reset the connection before it reads ours.
func closeAtOnce(nc net.Conn, hw *heldWriter, rd *wsframe.Reader, cl Close) {
	defer nc.Close()
	if _, err := hw.writeClose(int(cl.Code), cl.Reason, closeWait); err != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(closeWait))
	for {
		if m, err := rd.Next(); err != nil || m.Op == wsframe.OpClose {
			return
		}
	}
}

// readBuffer is a connection's read buffer: clients send only small frames,
// and an idle connection keeps it for as long as it is open (net/http's two
// 4 KB buffers become garbage at the upgrade).
const readBuffer = 256

// Shutdown tells every client the server is restarting (close code
// wire.CloseRestart: reconnect with jitter), refuses new connections and waits
// for the connection handlers to return or ctx to end.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	for c := range g.conns {
		g.restart(c)
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.New("websocket connections still open at shutdown deadline")
	}
	// Every connection is over: a flusher still running writes to closed
	// sockets, fails at once and ends.
	for _, f := range g.flushers {
		f.stop()
	}
	g.flushing.Wait()
	g.poll.Wait() // the last connection out stopped it
	return nil
}

// maxFetches is how many resume history reads run at once, gateway-wide:
// fewer than a PostgreSQL pool's connections, so ingest and the follower
// always find one.
const maxFetches = 4

// Sweep closes the connections whose principal Config.Revoked now covers:
// an unauthorized error frame, then close 4012, both written by each
// connection's write side; Sweep starts no goroutine and waits for no
// socket.
func (g *Gateway) Sweep() {
	if g.cfg.Revoked == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		if who := c.principal(); who != nil && g.cfg.Revoked(who) {
			g.m.revokedCloses.Inc()
			g.cfg.Logger.Info("revoked connection closed", "conn", c.id, "tenant", who.Tenant, "sub", who.Subject)
			c.signOut(closeRevoked)
		}
	}
}

// originAllowed applies the same rule websocket.Accept would (same host, or
// a host matching OriginPatterns), so that a refusal is counted and logged.
func (g *Gateway) originAllowed(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range g.cfg.OriginPatterns {
		target := u.Host
		if strings.Contains(p, "://") { // a pattern with a scheme matches scheme://host
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

// window is how long a connection waits after a write before the next one,
// gathering what arrives meanwhile into it.
func (g *Gateway) window() time.Duration {
	if g.cfg.FrameBudget < 0 {
		return 0
	}
	w := time.Duration(g.open.Load()) * time.Second / time.Duration(g.cfg.FrameBudget)
	return min(w, g.cfg.MaxWriteDelay)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

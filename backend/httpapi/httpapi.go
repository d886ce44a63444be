// Package httpapi serves a stream's state and history over plain HTTP, for
// tools and for clients that cannot keep a WebSocket open:
//
//	GET /api/v1/streams/{stream}/snapshot            a snapshot frame
//	GET /api/v1/streams/{stream}/events?epoch=E&after=S[&limit=N][&wait=25s]
//	                                                 a batch frame of the events after S;
//	                                                 with wait, held until there are some
//	                                                 or the wait (at most 30s) is over
//	GET /api/v1/streams/{stream}/window?from=MS&to=MS&width=PX[&series=a,b]
//	                                                 a snapshot frame holding only the
//	                                                 stored points in [from, to],
//	                                                 decimated to width pixel columns
//
// Bodies are wire frames (msgpack, application/msgpack). Every request
// carries an operator token (Authorization: Bearer) and goes through the same
// access rule as the WebSocket, auth.Principal.Allow; a denial is a 403, an
// unknown or expired token a 401, each logged and counted, never an empty
// answer.
//
// A long-poll (wait) sleeps on a hub.Watch wake-up, never reading the store in
// a loop; waiting requests are bounded per tenant and in all (429 past it),
// end with the request, answer at once at Close, and verify the token again
// before answering, so a revocation is not outrun by a held request. With
// several nodes on one store, a cursor ahead of this node's stream is held
// (Config.AheadWait) until the node's follower reaches it.
package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

// Config configures the API; every field but Logger and Metrics is required.
type Config struct {
	Verify  func(token string) (*auth.Principal, error)
	Hub     *hub.Hub
	History store.History // stored events: the embedded store or PostgreSQL
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// Derived resolves derived streams (aggregates: agg.*, m4.*), which
	// follow their source stream's access rule, and starts computing one a
	// request names. Nil means such names are ordinary stream names.
	Derived Derived
	// MaxWaiters bounds long-polls held at once; zero means 10,000.
	MaxWaiters int
	// MaxWaitersPerTenant bounds one tenant's held long-polls; zero means 1,000.
	MaxWaitersPerTenant int
	// AheadWait, when positive, is how long an events request whose cursor
	// is ahead of this node's stream (several nodes on one PostgreSQL:
	// another node served the client further than this node's follower has
	// read) is held for the hub to reach the cursor, then answered with
	// exactly the events after it. Past it, or when zero (one node), such a
	// cursor gets the 409 that sends the client to the snapshot. The wait
	// counts as a held long-poll (the same bounds) and ends with the request.
	AheadWait time.Duration
}

// Derived is the aggregate engine as the API sees it (aggregate.Engine).
type Derived interface {
	// Source returns the stream a derived stream is computed from; derived
	// is false for other names, err set for a derived name the tenant
	// defines nothing for.
	Source(tenant, stream string) (source string, derived bool, err error)
	// Want starts computing a derived stream; an error wrapping
	// store.ErrStreamQuota is the tenant's cap of aggregates.
	Want(tenant, stream string) error
}

// MaxWait is the longest a long-poll is held.
const MaxWait = 30 * time.Second

// MaxEvents is the most events one events request returns.
const MaxEvents = 5000

// API serves the stream endpoints.
type API struct {
	a   *api
	mux *http.ServeMux
}

func (x *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { x.mux.ServeHTTP(w, r) }

// Close answers every held long-poll at once and makes later ones answer
// without waiting: call it when the server shuts down, so that graceful
// shutdown does not wait out the polls. It is idempotent.
func (x *API) Close() { x.a.closeOnce.Do(func() { close(x.a.closed) }) }

// New returns the API's handler; mount it on /api/v1/streams/.
func New(cfg Config) *API {
	if cfg.MaxWaiters <= 0 {
		cfg.MaxWaiters = 10_000
	}
	if cfg.MaxWaitersPerTenant <= 0 {
		cfg.MaxWaitersPerTenant = 1_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	a := &api{cfg: cfg, windows: make(chan struct{}, maxWindowReads),
		closed:       make(chan struct{}),
		waiting:      make(map[string]int),
		denied:       cfg.Metrics.Counter("telltale_http_denied_total", "stream API requests refused by the token's permissions"),
		windowsBusy:  cfg.Metrics.Counter("telltale_http_window_busy_total", "history window requests answered 503 after waiting for a reader"),
		unauthorized: cfg.Metrics.Counter("telltale_http_unauthorized_total", "API requests without a valid operator token (stream and dashboard API)"),
		waiters:      cfg.Metrics.Gauge("telltale_http_waiting_polls", "long-polls held now"),
		aheadWaits:   cfg.Metrics.Counter("telltale_http_ahead_waits_total", "events requests whose cursor was ahead of this node's stream, held for it (AheadWait)"),
		busy:         cfg.Metrics.Counter("telltale_http_polls_refused_total", "long-polls refused over the waiting bound"),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/streams/{stream}/snapshot", a.snapshot)
	mux.HandleFunc("GET /api/v1/streams/{stream}/events", a.events)
	mux.HandleFunc("GET /api/v1/streams/{stream}/window", a.window)
	return &API{a: a, mux: mux}
}

// maxWindowReads is how many window requests read history at once.
const maxWindowReads = 2

type api struct {
	cfg                  Config
	windows              chan struct{} // semaphore: window requests reading
	windowsBusy          *metrics.Value
	closed               chan struct{} // closed by Close: stop holding polls
	closeOnce            sync.Once
	denied, unauthorized *metrics.Value
	waiters, busy        *metrics.Value
	aheadWaits           *metrics.Value

	mu         sync.Mutex
	waitingAll int
	waiting    map[string]int // tenant → held long-polls
}

// Operator is the door of every API request that needs an operator token
// (the stream API's and the dashboards'): the principal of the request's
// verified token (Authorization: Bearer, through Config.Verify), or a 401
// with a JSON problem when the token is missing, invalid, expired or
// revoked, logged and counted. ok false means it has answered.
func (x *API) Operator(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	return x.a.operator(w, r)
}

func (a *api) operator(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	who, err := a.cfg.Verify(strings.TrimSpace(tok))
	if err != nil {
		a.unauthorized.Inc()
		a.cfg.Logger.Info("API: bad token", "path", truncate(r.URL.Path), "remote", r.RemoteAddr, "err", err)
		problem(w, http.StatusUnauthorized, "a valid operator token is required: "+err.Error())
		return nil, false
	}
	return who, true
}

// allow is the stream API's door: the token's principal (operator), and
// the access rule for the stream of the path. ok false means it has
// answered.
func (a *api) allow(w http.ResponseWriter, r *http.Request) (*auth.Principal, string, bool) {
	who, ok := a.operator(w, r)
	if !ok {
		return nil, "", false
	}
	stream := r.PathValue("stream")
	// A derived stream (an aggregate) follows its source's rule.
	src, derived := stream, false
	if a.cfg.Derived != nil && wire.ValidStream(stream) == nil {
		var err error
		if src, derived, err = a.cfg.Derived.Source(who.Tenant, stream); err != nil {
			problem(w, http.StatusNotFound, err.Error())
			return nil, "", false
		}
		if !derived {
			src = stream
		}
	}
	if err := who.Allow(who.Tenant, src); err != nil {
		a.denied.Inc()
		a.cfg.Logger.Warn("stream API: denied", "tenant", who.Tenant, "sub", who.Subject, "stream", truncate(stream), "err", err)
		problem(w, http.StatusForbidden, err.Error())
		return nil, "", false
	}
	if derived {
		if err := a.cfg.Derived.Want(who.Tenant, stream); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, store.ErrStreamQuota) {
				status = http.StatusForbidden
			}
			problem(w, status, err.Error())
			return nil, "", false
		}
	}
	return who, stream, true
}

func (a *api) snapshot(w http.ResponseWriter, r *http.Request) {
	who, stream, ok := a.allow(w, r)
	if !ok {
		return
	}
	b, err := a.cfg.Hub.Snapshot(who.Tenant, stream)
	if err != nil {
		a.cfg.Logger.Error("stream API: snapshot", "tenant", who.Tenant, "stream", stream, "err", err)
		problem(w, http.StatusInternalServerError, "snapshot failed")
		return
	}
	frame(w, r, b)
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
	who, stream, ok := a.allow(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	epoch, err1 := strconv.ParseUint(q.Get("epoch"), 10, 64)
	after, err2 := strconv.ParseUint(q.Get("after"), 10, 64)
	limit := MaxEvents
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			problem(w, http.StatusBadRequest, "limit must be a positive integer")
			return
		}
		limit = min(n, MaxEvents)
	}
	if err := errors.Join(err1, err2); err != nil {
		problem(w, http.StatusBadRequest, "epoch and after are required unsigned integers (a cursor)")
		return
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			problem(w, http.StatusBadRequest, "wait must be a duration like 25s")
			return
		}
		wait = min(d, MaxWait)
	}
	cur, held := a.cfg.Hub.Cursor(who.Tenant, stream)
	if a.cfg.AheadWait > 0 && epoch != 0 && (!held || (cur.Epoch == epoch && after > cur.Seq)) {
		// Ahead of this node: wait for its follower to reach the cursor
		// (or to show the stream in another epoch, which the answer below
		// turns into a 409), at most AheadWait.
		a.aheadWaits.Inc()
		if !a.hold(w, r, who.Tenant, stream, a.cfg.AheadWait, func(c wire.Cursor) bool {
			return c.Epoch != 0 && (c.Epoch != epoch || c.Seq >= after)
		}, false) {
			return
		}
		if who, stream, ok = a.allow(w, r); !ok {
			return
		}
		cur, held = a.cfg.Hub.Cursor(who.Tenant, stream)
	}
	if wait > 0 && (!held || (cur.Epoch == epoch && after == cur.Seq)) {
		if !a.hold(w, r, who.Tenant, stream, wait, func(c wire.Cursor) bool {
			return c.Epoch != epoch || c.Seq != after
		}, true) {
			return
		}
		// The token may have been revoked or expired while held.
		if who, stream, ok = a.allow(w, r); !ok {
			return
		}
		cur, held = a.cfg.Hub.Cursor(who.Tenant, stream)
	}
	if !held && epoch == 0 && after == 0 {
		// Nothing was ever published: the empty snapshot's (0, 0) has
		// nothing after it yet.
		frame(w, r, wire.EncodeBatchHead(stream, time.Now().UnixNano(), 0, nil))
		return
	}
	if !held || cur.Epoch != epoch || after > cur.Seq {
		// The cursor does not continue this stream: start over.
		problem(w, http.StatusConflict, "the cursor does not continue this stream: fetch its snapshot")
		return
	}
	evs, err := a.cfg.History.Read(r.Context(), who.Tenant, stream, after, limit)
	if err != nil {
		a.cfg.Logger.Error("stream API: history", "tenant", who.Tenant, "stream", stream, "err", err)
		problem(w, http.StatusServiceUnavailable, "history is not readable now; retry")
		return
	}
	if after < cur.Seq && (len(evs) == 0 || evs[0].Seq != after+1) {
		problem(w, http.StatusConflict, "the events after the cursor are no longer kept: fetch the snapshot")
		return
	}
	raw := make([][]byte, len(evs))
	for i := range evs {
		if raw[i], err = wire.EncodeEvent(&evs[i]); err != nil {
			// The hub took it without its payload and resynced its
			// subscribers; a cursor before it starts over the same way.
			a.cfg.Logger.Error("stream API: event does not encode", "tenant", who.Tenant, "stream", stream, "seq", evs[i].Seq, "err", err)
			problem(w, http.StatusConflict, "an event after the cursor cannot be sent: fetch the snapshot")
			return
		}
	}
	// Sent lets the client measure lag as over the WebSocket; the head lets
	// it show how far a catch-up has come. The store may hold more than this
	// node's hub has taken yet (a follower mid-batch): the head is never
	// behind the last event sent.
	head := cur.Seq
	if n := len(evs); n > 0 {
		head = max(head, evs[n-1].Seq)
	}
	frame(w, r, wire.EncodeBatchHead(stream, time.Now().UnixNano(), head, raw))
}

// hold waits until the stream's cursor is done (a move from the request's
// cursor, or reaching it; with anyWake, any wake-up of the stream), the wait is over, the request ends or the API
// closes. false means it answered (the waiting bound was reached).
func (a *api) hold(w http.ResponseWriter, r *http.Request, tenant, stream string, wait time.Duration, done func(wire.Cursor) bool, anyWake bool) bool {
	a.mu.Lock()
	if a.waitingAll >= a.cfg.MaxWaiters || a.waiting[tenant] >= a.cfg.MaxWaitersPerTenant {
		a.mu.Unlock()
		a.busy.Inc()
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusTooManyRequests, "too many waiting requests: retry later")
		return false
	}
	a.waitingAll++
	a.waiting[tenant]++
	a.mu.Unlock()
	a.waiters.Add(1)
	defer func() {
		a.mu.Lock()
		a.waitingAll--
		if a.waiting[tenant]--; a.waiting[tenant] == 0 {
			delete(a.waiting, tenant)
		}
		a.mu.Unlock()
		a.waiters.Add(-1)
	}()
	moved := make(chan struct{}, 1)
	cur, cancel, err := a.cfg.Hub.Watch(tenant, stream, func() {
		select {
		case moved <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return true // a bad name: the answer that follows says so
	}
	defer cancel()
	if done(cur) {
		return true // moved between the first look and the watch
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-moved:
			if c, _ := a.cfg.Hub.Cursor(tenant, stream); anyWake || done(c) {
				return true
			}
		case <-t.C:
			return true
		case <-r.Context().Done():
			return true
		case <-a.closed:
			return true
		}
	}
}

// gzipAbove is the smallest answer sent gzipped to a client that accepts
// it: snapshots, catch-up and history windows, which msgpack's repeated keys
// and slowly moving numbers make 3–4x smaller. A browser's fetch inflates
// them natively; smaller answers are not worth the CPU.
const gzipAbove = 8 << 10

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipSlots bounds the answers being compressed at once: each holds a
// 1.2 MB deflate writer while it compresses. An answer compresses into
// memory and is written after, so a slow client never holds a writer; with
// every slot busy it goes uncompressed.
var gzipSlots = make(chan struct{}, 8)

func frame(w http.ResponseWriter, r *http.Request, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/msgpack")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	if len(b) >= gzipAbove && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		if z, ok := gzipped(b); ok {
			h.Set("Content-Encoding", "gzip")
			b = z
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// gzipped compresses b if a slot is free.
func gzipped(b []byte) ([]byte, bool) {
	select {
	case gzipSlots <- struct{}{}:
	default:
		return nil, false
	}
	defer func() { <-gzipSlots }()
	var out bytes.Buffer
	out.Grow(len(b) / 3)
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&out)
	_, err := zw.Write(b)
	if err == nil {
		err = zw.Close()
	}
	zw.Reset(io.Discard) // the pool keeps no reference to this answer
	gzipWriters.Put(zw)
	return out.Bytes(), err == nil
}

// acceptsGzip reads Accept-Encoding (RFC 9110 12.5.3): gzip is acceptable
// when listed, or covered by *, with a weight above zero; an explicit gzip
// entry outranks *.
func acceptsGzip(values []string) bool {
	gzip, star := -1.0, -1.0 // weights; -1 means not listed
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			w := 1.0
			for _, p := range strings.Split(params, ";") {
				k, q, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					var err error
					if w, err = strconv.ParseFloat(strings.TrimSpace(q), 64); err != nil {
						w = 0
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzip = max(gzip, w)
			case "*":
				star = max(star, w)
			}
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}

func problem(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func truncate(s string) string {
	if len(s) > wire.MaxStreamName {
		return s[:wire.MaxStreamName]
	}
	return s
}

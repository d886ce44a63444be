// Package httpapi serves a stream's state and history over plain HTTP, for
// tools and for clients that cannot keep a WebSocket open:
//
//	GET /api/v1/streams/{stream}/snapshot            a snapshot frame
//	GET /api/v1/streams/{stream}/events?epoch=E&after=S[&limit=N]
//	                                                 a batch frame of the events after S
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
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/wire"
)

// History reads stored events (the embedded store or PostgreSQL).
type History interface {
	Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error)
}

// Config configures the API; every field but Logger and Metrics is required.
type Config struct {
	Verify  func(token string) (*auth.Principal, error)
	Hub     *hub.Hub
	History History
	Logger  *slog.Logger
	Metrics *metrics.Registry
}

// MaxEvents is the most events one events request returns.
const MaxEvents = 5000

// New returns the API's handler; mount it on /api/v1/streams/.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	a := &api{cfg: cfg, windows: make(chan struct{}, maxWindowReads),
		denied:       cfg.Metrics.Counter("telltale_http_denied_total", "stream API requests refused by the token's permissions"),
		unauthorized: cfg.Metrics.Counter("telltale_http_unauthorized_total", "stream API requests without a valid token"),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/streams/{stream}/snapshot", a.snapshot)
	mux.HandleFunc("GET /api/v1/streams/{stream}/events", a.events)
	mux.HandleFunc("GET /api/v1/streams/{stream}/window", a.window)
	return mux
}

// maxWindowReads is how many window requests read history at once.
const maxWindowReads = 2

type api struct {
	cfg                  Config
	windows              chan struct{} // semaphore: window requests reading
	denied, unauthorized *metrics.Value
}

// allow is the API's door: the token's principal, and the access rule for
// the stream of the path. ok false means it has answered.
func (a *api) allow(w http.ResponseWriter, r *http.Request) (*auth.Principal, string, bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	who, err := a.cfg.Verify(strings.TrimSpace(tok))
	if err != nil {
		a.unauthorized.Inc()
		a.cfg.Logger.Info("stream API: bad token", "remote", r.RemoteAddr, "err", err)
		problem(w, http.StatusUnauthorized, "a valid operator token is required: "+err.Error())
		return nil, "", false
	}
	stream := r.PathValue("stream")
	if err := who.Allow(who.Tenant, stream); err != nil {
		a.denied.Inc()
		a.cfg.Logger.Warn("stream API: denied", "tenant", who.Tenant, "sub", who.Subject, "stream", truncate(stream), "err", err)
		problem(w, http.StatusForbidden, err.Error())
		return nil, "", false
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
	frame(w, b)
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
	cur, held := a.cfg.Hub.Cursor(who.Tenant, stream)
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
			problem(w, http.StatusInternalServerError, "encode failed")
			return
		}
	}
	frame(w, wire.EncodeBatch(stream, 0, raw))
}

func frame(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/msgpack")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
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

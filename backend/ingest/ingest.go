// Package ingest is POST /api/v1/ingest: producers send batches of events as
// JSON or msgpack, authenticated by a per-tenant ingest key, and get back the
// seq each event was given. A batch is validated whole before anything is
// written and stored in one transaction, so a rejected batch stores nothing.
//
// It must never take the tenant from the body: the key decides it.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Store writes a whole batch or nothing, and sets each event's Seq and Epoch.
type Store interface {
	AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error
}

// Keys maps an ingest key to its tenant. ok is false for an unknown or
// revoked key; err is a failure to look it up (the database is down), which
// is not the producer's fault.
type Keys interface {
	Tenant(ctx context.Context, key string) (tenant string, ok bool, err error)
}

// Config configures a Handler. Zero values are the documented defaults.
type Config struct {
	Store    Store // required
	Keys     Keys  // required
	Logger   *slog.Logger
	Metrics  *metrics.Registry
	MaxBytes int64 // request body; zero means 4 MiB
	// TenantRate is each tenant's ingest budget in body bytes per second;
	// zero means 4 MiB/s, negative means none. TenantBurst is how many bytes
	// a tenant may send at once; zero means twice MaxBytes, and it is never
	// less than MaxBytes (a largest body always fits an idle budget).
	TenantRate  float64
	TenantBurst int64
	// TenantRates overrides TenantRate and TenantBurst for some tenants
	// (rate.go); a tenant's own rate applies even when TenantRate is
	// negative.
	TenantRates map[string]Rate
	// TenantHold is how long a request past its tenant's rate may wait
	// for the budget, before its body is read, instead of 429 at once
	// (rate.go): the rate then paces a producer evenly. Zero means 1s;
	// negative means none. At most 4 requests of a tenant wait at once.
	TenantHold time.Duration
	MaxEvents  int // events per request; zero means 10000
	// TenantDecoders is how many of one tenant's bodies are decoded at once
	// (decode_budget.go); zero means 1, negative means no bound.
	TenantDecoders int
	// Limits checks each stream's caps before storing (limits.go); nil
	// checks against the default caps as if every stream were empty.
	Limits Limiter
}

// Handler serves the ingest endpoint.
type Handler struct {
	cfg                         Config
	accepted, rejected, refused *metrics.Value
	rateLimited, rateHeld       *metrics.Value
	rates                       *rates
	decoders                    *decoders
}

// New returns a handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 4 << 20
	}
	if cfg.TenantRate == 0 {
		cfg.TenantRate = 4 << 20
	}
	if cfg.TenantBurst <= 0 {
		cfg.TenantBurst = 2 * cfg.MaxBytes
	}
	cfg.TenantBurst = max(cfg.TenantBurst, cfg.MaxBytes)
	if cfg.TenantHold == 0 {
		cfg.TenantHold = time.Second
	}
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = 10000
	}
	if cfg.TenantDecoders == 0 {
		cfg.TenantDecoders = 1
	}
	return &Handler{
		cfg:         cfg,
		accepted:    cfg.Metrics.Counter("telltale_ingest_events_total", "events accepted by HTTP ingest"),
		rejected:    cfg.Metrics.Counter("telltale_ingest_rejected_total", "ingest requests rejected for their content"),
		refused:     cfg.Metrics.Counter("telltale_ingest_unauthorized_total", "ingest requests without a valid key"),
		rateLimited: cfg.Metrics.Counter("telltale_ingest_rate_limited_total", "ingest requests refused (429) past their tenant's ingest rate"),
		rateHeld:    cfg.Metrics.Counter("telltale_ingest_rate_held_total", "ingest requests held (paced) for their tenant's ingest rate"),
		decoders: &decoders{per: cfg.TenantDecoders, wait: decodeWait, tenants: make(map[string]*decodeSlots),
			waits: cfg.Metrics.Counter("telltale_ingest_decode_waits_total", "ingest requests that waited for another of their tenant's bodies to be decoded first")},
		rates: &rates{rate: cfg.TenantRate, burst: float64(cfg.TenantBurst), hold: cfg.TenantHold, tenants: cfg.TenantRates, minBurst: float64(cfg.MaxBytes),
			now: time.Now, sleep: sleepCtx, buckets: make(map[string]*bytesBucket)},
	}
}

// Event is one event of a request body.
type Event struct {
	Stream string             `json:"stream" msgpack:"stream"`
	Time   int64              `json:"time,omitempty" msgpack:"time,omitempty"` // Unix ms; zero means now
	Values map[string]float64 `json:"values,omitempty" msgpack:"values,omitempty"`
	Row    *wire.Row          `json:"row,omitempty" msgpack:"row,omitempty"`
	Points *wire.Points       `json:"points,omitempty" msgpack:"points,omitempty"`
}

// Request is the body of POST /api/v1/ingest.
type Request struct {
	Events []Event `json:"events" msgpack:"events"`
}

// Assigned is where one event landed.
type Assigned struct {
	Stream string `json:"stream"`
	Epoch  uint64 `json:"epoch"`
	Seq    uint64 `json:"seq"`
}

// Response answers an accepted batch, in the order of the request's events.
type Response struct {
	Accepted int        `json:"accepted"`
	Events   []Assigned `json:"events"`
}

type problem struct {
	status int
	msg    string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	tenant, p := h.authenticate(r)
	if p != nil {
		h.refused.Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="telltale-ingest"`)
		writeError(w, p.status, p.msg)
		return
	}
	req, p := h.decode(w, r, tenant)
	if p == nil {
		p = h.validate(req)
	}
	if p != nil {
		h.rejected.Inc()
		writeError(w, p.status, p.msg)
		return
	}
	// The access rule every path goes through: the key's tenant, and each
	// stream of the batch (names were checked above; this is the same rule
	// the WebSocket and the stream API apply).
	who := &auth.Principal{Subject: "ingest key", Tenant: tenant}
	for i, e := range req.Events {
		if err := who.Allow(tenant, e.Stream); err != nil {
			h.refused.Inc()
			writeError(w, http.StatusForbidden, fmt.Sprintf("events[%d]: %v", i, err))
			return
		}
	}
	streams := make(map[string][]wire.Event)
	for _, e := range req.Events {
		streams[e.Stream] = append(streams[e.Stream], wire.Event{Time: e.Time, Values: e.Values, Row: e.Row, Points: e.Points})
	}
	if !h.checkLimits(w, tenant, streams) {
		return
	}
	// Not the request's context: a producer that gives up mid-commit must not
	// turn a stored batch into an unknown one. The store's own bound applies.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := h.cfg.Store.AppendAll(ctx, tenant, streams); errors.Is(err, store.ErrStreamQuota) {
		h.rejected.Inc()
		h.cfg.Logger.Warn("ingest over the stream quota", "tenant", tenant, "err", err)
		writeError(w, http.StatusForbidden, err.Error()+"; nothing of the batch was stored")
		return
	} else if err != nil {
		h.cfg.Logger.Error("ingest", "tenant", tenant, "events", len(req.Events), "err", err)
		writeError(w, http.StatusServiceUnavailable, "the batch could not be stored and was not kept; retry")
		return
	}
	resp := Response{Accepted: len(req.Events), Events: make([]Assigned, len(req.Events))}
	next := make(map[string]int)
	for i, e := range req.Events {
		ev := streams[e.Stream][next[e.Stream]]
		next[e.Stream]++
		resp.Events[i] = Assigned{Stream: e.Stream, Epoch: ev.Epoch, Seq: ev.Seq}
	}
	h.accepted.Add(int64(len(req.Events)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (h *Handler) authenticate(r *http.Request) (string, *problem) {
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		return "", &problem{http.StatusUnauthorized, "send the ingest key as Authorization: Bearer <key>"}
	}
	tenant, ok, err := h.cfg.Keys.Tenant(r.Context(), strings.TrimSpace(key))
	if err != nil {
		h.cfg.Logger.Error("ingest key lookup", "err", err)
		return "", &problem{http.StatusServiceUnavailable, "cannot check the ingest key right now; retry"}
	}
	if !ok {
		return "", &problem{http.StatusUnauthorized, "unknown or revoked ingest key"}
	}
	return tenant, nil
}

// spend takes n body bytes of tenant's ingest rate, or answers 429 with
// Retry-After.
func (h *Handler) spend(w http.ResponseWriter, r *http.Request, tenant string, n int64) *problem {
	ok, hold, done, wait := h.rates.take(tenant, n)
	if ok && hold > 0 {
		h.rateHeld.Inc()
		err := h.rates.sleep(r.Context(), hold)
		done()
		if err != nil {
			return &problem{http.StatusServiceUnavailable, "request ended while held for the ingest rate"}
		}
	}
	if ok {
		return nil
	}
	h.rateLimited.Inc()
	rate, burst := h.rates.limit(tenant)
	w.Header().Set("Retry-After", strconv.Itoa(int(max(1, (wait+time.Second-1)/time.Second))))
	return &problem{http.StatusTooManyRequests, fmt.Sprintf("tenant %s is over its ingest rate of %.0f bytes/s (burst %.0f): retry in %v; nothing of the batch was stored", tenant, rate, burst, wait.Round(time.Millisecond))}
}

func (h *Handler) decode(w http.ResponseWriter, r *http.Request, tenant string) (*Request, *problem) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct = ""
	}
	// The tenant's rate is spent before the body is parsed, and before it
	// is read when its length is declared: a producer past its rate costs
	// the server a header, not a read and a decode.
	spent := false
	if r.ContentLength > 0 && r.ContentLength <= h.cfg.MaxBytes {
		if p := h.spend(w, r, tenant, r.ContentLength); p != nil {
			return nil, p
		}
		spent = true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over %d bytes: split the batch", h.cfg.MaxBytes)}
		}
		return nil, &problem{http.StatusBadRequest, "reading body: " + err.Error()}
	}
	if !spent {
		if p := h.spend(w, r, tenant, int64(len(body))); p != nil {
			return nil, p
		}
	}
	// One of a tenant's bodies is decoded at a time (decode_budget.go).
	release, ok := h.decoders.acquire(r.Context(), tenant)
	if !ok {
		return nil, &problem{http.StatusServiceUnavailable, "request ended while waiting for the tenant's earlier bodies to be decoded; nothing was stored"}
	}
	defer release()
	var req Request
	switch ct {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, &problem{http.StatusBadRequest, "malformed JSON: " + err.Error()}
		}
		if dec.More() {
			return nil, &problem{http.StatusBadRequest, "malformed JSON: more than one value in the body"}
		}
	case "application/msgpack", "application/x-msgpack", "application/vnd.msgpack":
		var m msgRequest
		if err := unmarshalMsgpack(body, &m); err != nil {
			if ve := (*valueError)(nil); errors.As(err, &ve) {
				return nil, &problem{http.StatusBadRequest, err.Error()} // well formed, not carried
			}
			return nil, &problem{http.StatusBadRequest, "malformed msgpack: " + err.Error()}
		}
		req.Events = m.Events
	default:
		return nil, &problem{http.StatusUnsupportedMediaType, "Content-Type must be application/json or application/msgpack"}
	}
	return &req, nil
}

// unmarshalMsgpack decodes a msgpack body into v after wire.CheckStructure,
// so hostile lengths cannot make it allocate more than the input justifies:
// msgpack/v5 (v5.4.1) allocates a slice of the claimed length before it reads
// a single element (decode_slice.go tests the alloc-limit flag with "!= 1",
// so the limit never applies), and five bytes claiming a 2^32-element array
// would make it allocate gigabytes. Unknown fields are errors: a producer's
// typo must not silently drop data.
//
// The library, not wire's hand-written reader: ingest bodies are not frames,
// and only the server, not the browser build, pays for linking it.
func unmarshalMsgpack(b []byte, v any) error {
	if err := wire.CheckStructure(b); err != nil {
		return err
	}
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields(true)
	return d.Decode(v)
}

func (h *Handler) validate(req *Request) *problem {
	if len(req.Events) == 0 {
		return &problem{http.StatusBadRequest, `no events: send {"events": [...]}`}
	}
	if len(req.Events) > h.cfg.MaxEvents {
		return &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("%d events: at most %d per request", len(req.Events), h.cfg.MaxEvents)}
	}
	for i := range req.Events {
		if err := checkEvent(&req.Events[i]); err != nil {
			return &problem{http.StatusBadRequest, fmt.Sprintf("events[%d]: %v", i, err)}
		}
	}
	return nil
}

// maxTime bounds event and point times (Unix ms): 2^43 ms is the year 2248,
// well inside what PostgreSQL's timestamptz holds.
const maxTime = 1 << 43

func checkEvent(e *Event) error {
	if err := wire.ValidStream(e.Stream); err != nil {
		return fmt.Errorf("stream %.64q: %w", e.Stream, err)
	}
	if aggregate.Derived(e.Stream) {
		// The aggregate engine alone writes them: a producer's event would
		// be taken for a computed value.
		return fmt.Errorf("stream %.64q: names starting agg. or m4. are the server's derived streams (aggregates); producers may not write them", e.Stream)
	}
	if dashboard.Reserved(e.Stream) {
		return fmt.Errorf("stream %.64q: names starting %s are the server's own streams; producers may not write them", e.Stream, dashboard.ReservedPrefix)
	}
	if e.Time < 0 || e.Time >= maxTime {
		return errors.New("time must be Unix milliseconds between 1970 and 2248")
	}
	if e.Values == nil && e.Row == nil && e.Points == nil {
		return errors.New("carries nothing: give values, row or points")
	}
	for k, v := range e.Values {
		if k == "" || len(k) > 128 || strings.IndexByte(k, 0) >= 0 {
			return fmt.Errorf("values: key %.64q must be 1–128 bytes without NUL", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("values.%s is not a finite number", k)
		}
	}
	if r := e.Row; r != nil {
		if r.Key == "" || len(r.Key) > 256 || strings.IndexByte(r.Key, 0) >= 0 {
			return errors.New("row.key must be 1–256 bytes without NUL")
		}
		if err := checkValue(r.Fields, "row.fields", 0); err != nil {
			return err
		}
		switch r.Op {
		case wire.RowUpsert, wire.RowInsert, wire.RowUpdate, wire.RowDelete:
		default:
			return fmt.Errorf("row.op %.32q: want insert, update, delete or nothing", r.Op)
		}
	}
	if p := e.Points; p != nil {
		if len(p.TS) == 0 {
			return errors.New("points.ts is empty")
		}
		if p.TS[0] <= -maxTime || p.TS[len(p.TS)-1] >= maxTime {
			return errors.New("points.ts must be Unix milliseconds before 2248")
		}
		for i := 1; i < len(p.TS); i++ {
			if p.TS[i] < p.TS[i-1] {
				return fmt.Errorf("points.ts is not ascending at %d", i)
			}
		}
		seen := make(map[string]bool, len(p.Cols))
		for j, c := range p.Cols {
			if c.Name == "" || seen[c.Name] || strings.IndexByte(c.Name, 0) >= 0 {
				return fmt.Errorf("points.cols[%d]: name %.64q is empty or repeated", j, c.Name)
			}
			seen[c.Name] = true
			if len(c.Vals) != len(p.TS) {
				return fmt.Errorf("points.cols[%d] (%s) has %d values for %d timestamps", j, c.Name, len(c.Vals), len(p.TS))
			}
			for k, v := range c.Vals {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("points.cols[%d] (%s) value %d is not a finite number", j, c.Name, k)
				}
			}
		}
	}
	return nil
}

// checkValue walks a row's fields: nil, booleans, numbers, strings, and maps
// with string keys and arrays of these, which is what the wire carries
// (wire.appendAny) and what PostgreSQL's jsonb keeps as JSON; strings
// without NUL (jsonb refuses \u0000), finite numbers (JSON has no NaN),
// nesting at most 16 deep. The msgpack decoder (decode_msgpack.go) refuses
// the rest as it reads; this is the rule for every body.
func checkValue(v any, path string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%s nests deeper than 16 levels", path)
	}
	switch x := v.(type) {
	case string:
		if strings.IndexByte(x, 0) >= 0 {
			return fmt.Errorf("%s contains a NUL character", path)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s is not a finite number", path)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%s is not a finite number", path)
		}
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 {
				return fmt.Errorf("%s has a key with a NUL character", path)
			}
			if err := checkValue(e, path+"."+k, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkValue(e, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	default:
		// Only what the wire carries (wire.appendAny) and every store keeps
		// as it came (PostgreSQL's jsonb): anything else would be accepted
		// here and then fail to reach any subscriber.
		return fmt.Errorf("%s: %s", path, notCarried(v))
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// StaticKeys is a fixed key → tenant map, for the embedded store.
type StaticKeys map[string]string

// Tenant implements Keys.
func (k StaticKeys) Tenant(_ context.Context, key string) (string, bool, error) {
	t, ok := k[key]
	return t, ok, nil
}

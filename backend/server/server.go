// Package server assembles Telltale's HTTP surface: the go-app PWA (with
// precompressed app.wasm and local icons), the WebSocket gateway, the
// dashboard API, health and metrics.
//
// Who may ask what: the app shell (/, /d/{id}, its scripts and assets) and
// /healthz answer anyone; /metrics answers only with Config.MetricsToken as
// a bearer token, and not at all without one (main serves it on a listener
// of its own, -metrics-addr); POST /api/v1/ingest takes an ingest key; every other
// /api/ path needs a verified operator token (the WebSocket in its hello,
// the rest in Authorization: Bearer, through Config.Operator).
//
// It must never hold business logic: it routes to the pieces that do.
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/httpapi"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/realip"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
)

// Config configures a Server. Zero values are the documented defaults.
type Config struct {
	WebDir  string // folder served under /web/; zero means "static"
	Version string // the build's version: go-app's cache key; required
	Store   string // what /healthz reports as the store, e.g. "memory"
	// Health reports whether the store is current; nil means always. When it
	// is not, /healthz answers 503 "degraded" with the reason.
	Health func() (ok bool, reason string)
	// Leader reports whether this node leads its cluster (does what is
	// done once: derived streams, alerts, retention), as /healthz's
	// "leader" says; nil leaves it out.
	Leader func() bool
	// Warming reports how many streams the store is still folding into the
	// hub after a start, of how many; nil means none. While left > 0,
	// /healthz answers 503 "warming" (a load balancer sends the node no new
	// clients; those that come anyway are served, each stream once warm).
	Warming func() (left, total int)
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// MetricsToken, when set, serves /metrics (the registry, Go runtime and
	// process metrics) on this server to requests with it as a bearer
	// token; empty means /metrics is not served here (404).
	MetricsToken string
	Gateway      *wsgate.Gateway
	// Ingest serves POST /api/v1/ingest; nil leaves the endpoint out.
	Ingest http.Handler
	// Revoke serves POST /api/v1/revoke (auth.RevokeHandler); nil leaves it out.
	Revoke http.Handler
	// Auth serves /auth/ (package sso: sign-in with the organisation's
	// identity provider); nil answers it 404 in JSON, which tells the page
	// there is no sign-in to offer.
	Auth http.Handler
	// Streams serves /api/v1/streams/ (package httpapi); nil leaves it out.
	// If it has a Close method, shutdown calls it first, so that held
	// long-polls answer at once instead of holding up the shutdown.
	Streams http.Handler
	// NoWebSocket refuses every WebSocket upgrade with 503: a test mode for
	// networks that block WebSockets, where clients fall back to HTTP polling.
	NoWebSocket bool
	// Dashboards are the built-in dashboards, served by the API to
	// operators (Operator), read-only; the first one is "default". They
	// are the server's: every tenant's operators see the same ones (their
	// data stays each tenant's own). A tenant's stored dashboard of the
	// same id shadows one.
	Dashboards []dashboard.Dashboard
	// Stored keeps each tenant's own dashboards, which the API lists
	// before the built-ins and lets the tenant's admins write (PUT,
	// DELETE); nil serves the built-ins only.
	Stored dashstore.Store
	// DashboardsChanged is called after a PUT or DELETE changed tenant's
	// stored dashboards, before the answer: the aggregates the tenant's
	// dashboards declare are recomputed there, so that a page reading the
	// new spec finds its derived streams. Nil means nothing to do.
	DashboardsChanged func(ctx context.Context, tenant string)
	// WarmM4 starts computing a derived stream of tenant (the aggregate
	// engine's Want): a lite page's spec request names its width
	// (dashboard.QueryM4Px) and its m4 streams start then, ahead of its
	// subscription. Nil means they start when the page subscribes.
	WarmM4 func(tenant, stream string) error
	// Operator verifies the operator token of the dashboard API's requests
	// and answers 401 when there is none or it is refused: the stream API's
	// own door (httpapi.API.Operator), so one verifier (auth.Guard.Verify)
	// and one answer hold for every path. Required with Dashboards.
	Operator func(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool)
	// SLA serves GET /api/v1/sla and POST /api/v1/sla/report (issue 18's
	// freshness reports, package backend/sla) to operators (Operator); nil
	// leaves them out.
	SLA SLA
	// ShutdownTimeout bounds graceful shutdown; zero means 10s.
	ShutdownTimeout time.Duration
	// The HTTP server's timeouts (http.Server's); zero means the default.
	//
	// HeaderTimeout bounds reading a request's headers (and a TLS
	// handshake), from its first byte: a client that trickles them
	// (slowloris) is cut there. Zero means 10s.
	HeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a slow
	// upload); zero means 60s, an ingest body of a few MB over a slow link.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request's handling and answer, from the end of
	// its headers; zero means 60s. The stream API's requests, which a
	// long-poll holds up to httpapi.MaxWait, get that much more (read and
	// write, per request: http.ResponseController); app.wasm's download
	// gets the time its bytes take on a slow link (webFiles); a WebSocket
	// upgrade is hijacked, which clears both, and the gateway keeps its own
	// deadlines.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has sent no new
	// request for that long; zero means 75s: past the 60s idle timeouts
	// of the usual proxies and load balancers in front (nginx's upstream
	// keep-alive, AWS ALB), so that the server never closes a connection a
	// proxy is about to reuse, and well past the ~25s between an HTTP
	// fallback client's polls.
	IdleTimeout time.Duration
	// TLSCert and TLSKey are PEM files; with both, Serve speaks HTTPS (the
	// PWA's service worker and WebSockets need it beyond localhost) and
	// responses carry HSTS.
	TLSCert, TLSKey string
	// TrustedProxies are the reverse proxies in front (-trusted-proxies):
	// a request from one of them is handled as coming from the client its
	// X-Forwarded-For names (RemoteAddr is the client's address), so that
	// the gateway's per-address limits and every log see each client. Nil
	// trusts none: RemoteAddr stays the TCP peer.
	TrustedProxies *realip.Proxies
}

// Server serves HTTP until its context ends.
type Server struct {
	cfg     Config
	handler http.Handler
	started time.Time
	conns   *connStates
	// draining is set by Drain: /healthz answers 503 "draining" from then
	// on, and HTTP keep-alive ends with each answer.
	draining atomic.Bool
	httpSrv  atomic.Pointer[http.Server] // Serve's, for Drain
}

// Drain takes the node out of its load balancer's rotation before it stops:
// /healthz answers 503 "draining" at once (the balancer's health check
// marks the node down and sends it no new clients), new WebSocket upgrades
// are refused with 503 (a balancer without health checks, nginx, retries
// them on another node: wsgate.Gateway.Drain), and keep-alive HTTP
// connections close after their next answer, so that a balancer's pooled
// connections move to other nodes. Everything else is still served as
// before: live connections stay open until CloseSpread or Serve's context
// ends, when the gateway closes them with 4010 (reconnect with jitter), by
// which time the balancer sends their reconnects elsewhere.
func (s *Server) Drain() {
	// Upgrades refused first: a /healthz that says draining means it.
	s.cfg.Gateway.Drain()
	s.draining.Store(true)
	if srv := s.httpSrv.Load(); srv != nil {
		srv.SetKeepAlivesEnabled(false)
	}
}

// CloseSpread closes the live connections with 4010, spread evenly over
// wsgate.SpreadWindow of their count and max, and returns how many it
// closed and over what window, once the last close has started (or ctx
// ended).
func (s *Server) CloseSpread(ctx context.Context, max time.Duration) (int, time.Duration) {
	w := wsgate.SpreadWindow(s.cfg.Gateway.Conns(), max)
	return s.cfg.Gateway.CloseSpread(ctx, w), w
}

// New checks the configuration and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.WebDir == "" {
		cfg.WebDir = "static"
	}
	if cfg.Version == "" {
		return nil, errors.New("server: Version is required (the build sets it)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	for _, t := range []struct {
		d   *time.Duration
		def time.Duration
	}{{&cfg.HeaderTimeout, 10 * time.Second}, {&cfg.ReadTimeout, time.Minute}, {&cfg.WriteTimeout, time.Minute}, {&cfg.IdleTimeout, 75 * time.Second}} {
		if *t.d <= 0 {
			*t.d = t.def
		}
	}
	if cfg.Gateway == nil {
		return nil, errors.New("server: Gateway is required")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("server: HTTPS needs both a certificate and a key file")
	}
	if cfg.Operator == nil {
		if len(cfg.Dashboards) > 0 || cfg.Stored != nil {
			return nil, errors.New("server: Operator is required to serve Dashboards (they are for operators only)")
		}
		cfg.Operator = func(w http.ResponseWriter, _ *http.Request) (*auth.Principal, bool) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this server verifies no operator tokens"})
			return nil, false
		}
	}
	for i := range cfg.Dashboards {
		// A spec built in Go names its aggregates' derived streams here,
		// as Parse does for a file's.
		if err := cfg.Dashboards[i].Resolve(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if err := cfg.Dashboards[i].Validate(); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	web, err := newWebFiles(cfg.WebDir, cfg.Version)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	web.writeTimeout = cfg.WriteTimeout
	s := &Server{cfg: cfg, started: time.Now(), conns: newConnStates(cfg.Metrics)}

	mux := http.NewServeMux()
	if cfg.NoWebSocket {
		mux.HandleFunc("/api/v1/ws", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "WebSockets are turned off on this server (-websocket=false): use the HTTP stream API"})
		})
	} else {
		mux.Handle("/api/v1/ws", cfg.Gateway)
	}
	if cfg.Ingest != nil {
		mux.Handle("/api/v1/ingest", cfg.Ingest)
	}
	if cfg.Revoke != nil {
		mux.Handle("POST /api/v1/revoke", cfg.Revoke)
	}
	if cfg.Streams != nil {
		mux.Handle("/api/v1/streams/", s.held(cfg.Streams))
	}
	if cfg.Auth != nil {
		mux.Handle("/auth/", cfg.Auth)
	} else {
		mux.HandleFunc("/auth/", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "this server has no identity provider sign-in (see -oidc-issuer)"})
		})
	}
	mux.HandleFunc("GET /api/v1/dashboards", s.listDashboards)
	mux.HandleFunc("GET /api/v1/dashboards/{id}", s.getDashboard)
	mux.HandleFunc("PUT /api/v1/dashboards/{id}", s.putDashboard)
	mux.HandleFunc("DELETE /api/v1/dashboards/{id}", s.deleteDashboard)
	mux.HandleFunc("GET /api/v1/dashboards/{id}/versions", s.dashboardVersions)
	if cfg.SLA != nil {
		mux.HandleFunc("GET /api/v1/sla", s.getSLA)
		mux.HandleFunc("POST /api/v1/sla/report", s.postSLAReport)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such API endpoint: " + r.Method + " " + r.URL.Path})
	})
	mux.HandleFunc("GET /healthz", s.health)
	if cfg.MetricsToken != "" {
		mux.Handle("GET /metrics", BearerOnly(cfg.MetricsToken, metrics.Handler(cfg.Metrics)))
	} else {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are not served on this port: see -metrics-addr and -metrics-token", http.StatusNotFound)
		})
	}
	pwa, err := streamingAppJS(pwaHandler(web, cfg.Version))
	if err != nil {
		return nil, err
	}
	mux.Handle("/", pwa)
	s.handler = securityHeaders(cfg.TrustedProxies.Handler(mux), cfg.TLSCert != "")
	return s, nil
}

func pwaHandler(web *webFiles, version string) *app.Handler {
	return &app.Handler{
		Name:        "Telltale",
		ShortName:   "Telltale",
		Title:       "Telltale — live operations",
		Description: "Live operations dashboards: sub-second data, honest freshness.",
		Lang:        "en",
		// Local icons: go-app's defaults live on a remote host, and the
		// service worker fails to cache anything it cannot fetch.
		Icon: app.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-maskable-512.png",
			SVG:      "/web/icon.svg",
		},
		BackgroundColor: "#0b0f14",
		ThemeColor:      "#0b0f14",
		LoadingLabel:    "Loading Telltale…", // no {progress}: app.js no longer counts the download (streamingAppJS)
		Styles:          []string{"/web/uplot/uPlot.min.css", "/web/telltale.css"},
		Scripts:         []string{"/web/uplot/uPlot.iife.min.js", "/web/lkg.js"},
		// Styles, Scripts, icons and app.wasm are precached by go-app's
		// service worker under Version; the SVG icon is the page's favicon.
		CacheableResources:      []string{"/web/icon.svg"},
		Version:                 version,
		Resources:               web,
		WasmContentLengthHeader: wasmLengthHeader,
		ServiceWorkerTemplate:   appWorker,
		RawHeaders:              []string{wasmPreload},
	}
}

// workerCacheMatch is the line of go-app's service worker that looks a
// request up in its cache.
const workerCacheMatch = "const cachedResponse = await caches.match(request);"

// appWorker is go-app's service worker, except that opening a dashboard's
// page (/d/{id}) is answered with the cached app shell of "/" (the same
// page: the app reads the id from the URL), so a dashboard's URL opens
// offline as "/" does. Without it the browser shows its own offline error.
// TestWorkerServesDashboardPagesFromCache fails if go-app's worker changes
// so that the line is not found.
var appWorker = strings.Replace(app.DefaultAppWorkerJS, workerCacheMatch,
	`const cachedResponse = (await caches.match(request)) ||
    (request.mode === "navigate" && new URL(request.url).pathname.startsWith("/d/") ? await caches.match("/") : undefined);`, 1)

// Handler returns the routes, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx ends, then shuts down gracefully: WebSocket
// clients are told to reconnect, in-flight requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ConnState:         s.conns.track,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	s.httpSrv.Store(srv)
	if s.draining.Load() {
		srv.SetKeepAlivesEnabled(false)
	}
	errc := make(chan error, 1)
	if s.cfg.TLSCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		go func() { errc <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey) }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if c, ok := s.cfg.Streams.(interface{ Close() }); ok {
		c.Close()
	}
	gerr := s.cfg.Gateway.Shutdown(sctx)
	herr := srv.Shutdown(sctx)
	<-errc
	return errors.Join(gerr, herr)
}

// held gives the stream API's requests, which a long-poll holds up to
// httpapi.MaxWait, that much more time to read and answer than the
// server's ReadTimeout and WriteTimeout. The read deadline matters too:
// net/http reads behind a handler to notice a client gone, and that read
// failing at the deadline would end the request's context mid-poll.
func (s *Server) held(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		// Errors only mean a ResponseWriter without deadlines (tests).
		_ = rc.SetReadDeadline(now.Add(httpapi.MaxWait + s.cfg.ReadTimeout))
		_ = rc.SetWriteDeadline(now.Add(httpapi.MaxWait + s.cfg.WriteTimeout))
		next.ServeHTTP(w, r)
	})
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	body := map[string]any{
		"status":   "ok",
		"version":  s.cfg.Version,
		"store":    s.cfg.Store,
		"uptime_s": int64(time.Since(s.started).Seconds()),
	}
	if s.cfg.Leader != nil {
		body["leader"] = s.cfg.Leader()
	}
	status := http.StatusOK
	if s.cfg.Health != nil {
		if ok, reason := s.cfg.Health(); !ok {
			status = http.StatusServiceUnavailable
			body["status"], body["reason"] = "degraded", reason
		}
	}
	if s.cfg.Warming != nil {
		if left, total := s.cfg.Warming(); left > 0 {
			body["warming"] = left
			if status == http.StatusOK {
				status = http.StatusServiceUnavailable
				body["status"] = "warming"
				body["reason"] = fmt.Sprintf("warming: %d of %d streams", left, total)
			}
		}
	}
	if s.draining.Load() {
		// Whatever else is wrong, the node is on its way out.
		status = http.StatusServiceUnavailable
		body["status"], body["reason"] = "draining", "draining: the node is stopping; its clients reconnect elsewhere"
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// contentPolicy lets the page run its own scripts and WebAssembly and talk
// to its own origin, and nothing else: no inline script, no other origin,
// no framing.
const contentPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", contentPolicy)
		h.Set("X-Frame-Options", "DENY")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// BearerOnly serves h only to requests with Authorization: Bearer token
// (compared in constant time); others get 401.
func BearerOnly(token string, h http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the metrics token as a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

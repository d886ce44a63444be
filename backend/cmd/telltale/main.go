// Command telltale serves live operations dashboards: the PWA, the WebSocket
// gateway and the HTTP API, on PostgreSQL when DATABASE_URL is set and on the
// embedded in-memory store otherwise, with a demo feed by default.
//
//	telltale [flags]        serve
//	telltale help [command] list the commands and flags, or a command's
//	telltale version        print the build's version
//	telltale migrate        apply the schema migrations to DATABASE_URL
//	telltale ingest-key -tenant T [-label L]
//	                        mint an ingest key for T in DATABASE_URL
//	telltale token -tenant T -sub S [-ttl 8h] [-streams a,b.*] [-url U]
//	                        mint an operator's sign-in token
//	telltale revoke -tenant T [-sub S] [-token-id J]
//	                        revoke an operator or a token in DATABASE_URL
//	telltale dashboards apply -tenant T -f FILE|DIR [-dry-run]
//	                        save dashboard files (YAML, JSON) into T in DATABASE_URL
//
// Flags and TELLTALE_* environment variables are read here and nowhere else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/app/ui"
	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/httpapi"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/backend/server"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// version is set by the build: -ldflags "-X main.version=...". It is go-app's
// cache key, so a deploy updates installed PWAs and a restart does not.
var version = "dev"

// gcPercent is the server's GOGC unless the environment sets one. Its heap is
// mostly state that lives as long as its connections (5 KB each), and the
// fan-out allocates little per delivery (an event is encoded once, frames
// are built in reused buffers), so a tighter goal than Go's 100 costs little
// CPU and keeps the RSS near live memory. Measured (bench/cmd/fanout): at
// 10,000 idle connections 15–23 → 9–12 KB each; at 5,000 clients × 50
// events/s and 1,000 × 4 streams × 200/s the same server CPU.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "telltale:", err)
		os.Exit(exitCode(err))
	}
}

// config is everything the flags and environment decide.
type config struct {
	showVersion bool // -version: print it and exit
	addr        string
	appVersion  string
	debugAddr   string
	metricsAddr string // -metrics-addr: /metrics on a listener of its own
	metricsTok  string // -metrics-token: /metrics on the main port to this bearer token
	metricsTop  int    // tenants with a label of their own in the stage histograms
	webDir      string
	demo        bool
	ingestRate  float64 // body bytes per second per tenant; negative: none
	ingestBurst int64
	ingestHold  time.Duration // longest wait for the rate instead of 429; negative: none
	decoders    int           // a tenant's ingest bodies decoded at once per node; negative: no bound
	logLevel    slog.Level
	dbURL       string
	retention   pgstore.Retention
	ingestKeys  ingest.StaticKeys // embedded store only
	keys        keySource
	tlsCert     string
	tlsKey      string
	origins     []string
	maxStreams  int
	maxAggs     int // aggregates one tenant computes at once
	points      int
	caps        capFlags
	limits      livestate.Limits            // per-stream caps (limits.go)
	tenantCaps  map[string]livestate.Limits // per-tenant overrides of limits
	tenantRates map[string]ingest.Rate      // per-tenant overrides of ingestRate, ingestBurst
	warmBytes   int                         // PostgreSQL warm-up: body bytes per stream
	warmTime    time.Duration               // PostgreSQL warm-up: time for every stream
	connRate    float64
	connBurst   int
	maxConns    int
	edge        edgeLimits
	alerts      alertFlags // alerts.go
	websocket   bool
	slaKeep     time.Duration
	dashboards  []dashboard.Dashboard
	dashDir     string    // -dashboards-dir: DIR/{tenant}/ files, at start and on SIGHUP
	oidc        oidcFlags // oidc.go
}

// parse reads the server's flags and environment. Asked for help, it prints
// the usage on stdout and returns flag.ErrHelp.
func parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	// A bad boolean in the environment is reported after the flags are
	// parsed, so that -h still works and a flag can override it.
	demoDefault, demoErr := strconv.ParseBool(env("TELLTALE_DEMO", "true"))
	wsDefault, wsErr := strconv.ParseBool(env("TELLTALE_WEBSOCKET", "true"))
	fs := flag.NewFlagSet("telltale", flag.ContinueOnError)
	fs.Usage = serverUsage(fs)
	var c config
	showVersion := fs.Bool("version", false, "print the build's version and exit (the same as telltale version)")
	fs.StringVar(&c.addr, "addr", env("TELLTALE_ADDR", ":8080"), "listen address (env TELLTALE_ADDR); port 0 picks a free port")
	fs.StringVar(&c.debugAddr, "debug-addr", env("TELLTALE_DEBUG_ADDR", ""), "serve Go's /debug/pprof profiles on this separate address, e.g. 127.0.0.1:6060 (env TELLTALE_DEBUG_ADDR); empty means off")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("TELLTALE_METRICS_ADDR", ""), "serve Prometheus /metrics (counters, stage latency histograms, Go runtime and process metrics) on this separate address, e.g. 127.0.0.1:9090 (env TELLTALE_METRICS_ADDR); empty means not on a listener of its own")
	fs.StringVar(&c.metricsTok, "metrics-token", env("TELLTALE_METRICS_TOKEN", ""), "also serve /metrics on the main port, to requests with Authorization: Bearer and this token (env TELLTALE_METRICS_TOKEN); empty means the main port has no /metrics")
	fs.IntVar(&c.metricsTop, "metrics-top-tenants", envInt(env("TELLTALE_METRICS_TOP_TENANTS", "20")), "tenants, the busiest by events, whose stage latency histograms carry their name; the rest are tenant=\"other\" (env TELLTALE_METRICS_TOP_TENANTS)")
	fs.StringVar(&c.appVersion, "app-version", env("TELLTALE_APP_VERSION", version), "the version pages see, their service worker's cache key: installed pages offer a reload when it changes (env TELLTALE_APP_VERSION); defaults to the build's, so set it only when the web folder changes without a new build")
	fs.StringVar(&c.webDir, "web", env("TELLTALE_WEB_DIR", "static"), "web folder with app.wasm, icons and uPlot (env TELLTALE_WEB_DIR)")
	fs.BoolVar(&c.demo, "demo", demoDefault, "run the built-in demo feed (env TELLTALE_DEMO)")
	fs.BoolVar(&c.websocket, "websocket", wsDefault, "accept WebSocket upgrades; false refuses them (503), a test mode for networks that block WebSockets: pages fall back to HTTP long-polling (env TELLTALE_WEBSOCKET)")
	level := fs.String("log-level", env("TELLTALE_LOG_LEVEL", "info"), "debug, info, warn or error (env TELLTALE_LOG_LEVEL)")
	fs.StringVar(&c.dashDir, "dashboards-dir", env("TELLTALE_DASHBOARDS_DIR", ""), "`directory` whose DIR/TENANT/*.yaml, *.yml and *.json are applied to each tenant's dashboards at start and on SIGHUP, all or nothing per tenant (env TELLTALE_DASHBOARDS_DIR; docs/DASHBOARDS.md)")
	dashFile := fs.String("dashboards", env("TELLTALE_DASHBOARDS", ""), "JSON `file` of dashboard specs (one or an array; docs/dashboard.schema.json); the first is the default (env TELLTALE_DASHBOARDS); empty means the demo's dashboard and the three of examples/")
	// The back-quoted word of a usage string names the flag's value.
	fs.Float64Var(&c.ingestRate, "ingest-rate", envFloat(env("TELLTALE_INGEST_RATE", "4194304")), "HTTP ingest: body bytes per second each tenant may send; past it, 429 with Retry-After; negative turns the limit off (env TELLTALE_INGEST_RATE)")
	fs.Int64Var(&c.ingestBurst, "ingest-burst", int64(envInt(env("TELLTALE_INGEST_BURST", "8388608"))), "HTTP ingest: body bytes a tenant may send at once; at least the 4 MiB a request may hold (env TELLTALE_INGEST_BURST)")
	fs.DurationVar(&c.ingestHold, "ingest-hold", envDuration(env("TELLTALE_INGEST_HOLD", "1s")), "HTTP ingest: how long a request past its tenant's rate waits for it, unread, before 429 (at most 4 of a tenant's at once), so producers are paced evenly; negative: 429 at once (env TELLTALE_INGEST_HOLD)")
	keys := fs.String("ingest-keys", env("TELLTALE_INGEST_KEYS", ""), "embedded store: ingest keys as `tenant:key,…` (env TELLTALE_INGEST_KEYS); with PostgreSQL, mint keys with the ingest-key command")
	keepEvents := fs.Int64("keep-events", 0, "PostgreSQL retention: keep at least this many events per stream; 0 means 100000 (env TELLTALE_KEEP_EVENTS)")
	keepFor := fs.Duration("keep-for", 0, "PostgreSQL retention: keep at least this much history per stream; 0 means 24h (env TELLTALE_KEEP_FOR)")
	c.keys.flags(fs, env)
	fs.StringVar(&c.tlsCert, "tls-cert", env("TELLTALE_TLS_CERT", ""), "PEM certificate file: serve HTTPS (env TELLTALE_TLS_CERT); needs -tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", env("TELLTALE_TLS_KEY", ""), "PEM private key file for -tls-cert (env TELLTALE_TLS_KEY)")
	fs.IntVar(&c.decoders, "ingest-decoders", envInt(env("TELLTALE_INGEST_DECODERS", "1")), "HTTP ingest: how many of one tenant's bodies this server decodes at once, so one tenant's decoding takes at most that many cores; negative: no bound (env TELLTALE_INGEST_DECODERS)")
	fs.IntVar(&c.points, "points", envInt(env("TELLTALE_POINTS", "3000")), "samples per series a stream's snapshot holds (env TELLTALE_POINTS)")
	c.caps.flags(fs, env)
	fs.IntVar(&c.warmBytes, "warm-stream-bytes", envInt(env("TELLTALE_WARM_STREAM_BYTES", "8388608")), "PostgreSQL start: event body bytes one stream may fold into memory before it is served; a stream whose last 5,000 events are larger starts from its newest events that fit (env TELLTALE_WARM_STREAM_BYTES)")
	fs.DurationVar(&c.warmTime, "warm-time", envDuration(env("TELLTALE_WARM_TIME", "10s")), "PostgreSQL start: time for warming every stream; streams left after it fold at most 64 KiB each (env TELLTALE_WARM_TIME)")
	fs.IntVar(&c.maxAggs, "max-aggregates", envInt(env("TELLTALE_MAX_AGGREGATES", "100")), "most aggregates (dashboard aggregates and m4 series pages ask for) one tenant computes at once; past it a page asking for another gets an error frame or a 403 (env TELLTALE_MAX_AGGREGATES)")
	fs.IntVar(&c.maxStreams, "max-streams", envInt(env("TELLTALE_MAX_STREAMS", "1000")), "most streams one tenant may create (env TELLTALE_MAX_STREAMS)")
	fs.Float64Var(&c.connRate, "conn-rate", envFloat(env("TELLTALE_CONN_RATE", "5")), "new WebSocket connections per second per client address after the burst; negative turns the limit off (env TELLTALE_CONN_RATE)")
	fs.IntVar(&c.connBurst, "conn-burst", envInt(env("TELLTALE_CONN_BURST", "50")), "new WebSocket connections at once per client address (env TELLTALE_CONN_BURST)")
	fs.IntVar(&c.maxConns, "max-conns", envInt(env("TELLTALE_MAX_CONNS", "20000")), "most open authenticated WebSocket connections (env TELLTALE_MAX_CONNS)")
	c.edge.flags(fs, env)
	c.alerts.flags(fs, env)
	c.oidc.flags(fs, env)
	fs.DurationVar(&c.slaKeep, "sla-keep", envDuration(env("TELLTALE_SLA_KEEP", "720h")), "how long the pages' freshness reports are kept, as minute rollups (GET /api/v1/sla), in PostgreSQL or in memory (env TELLTALE_SLA_KEEP)")
	origins := fs.String("allowed-origins", env("TELLTALE_ALLOWED_ORIGINS", ""), "comma-separated extra hosts (patterns like *.example.com) whose pages may open WebSockets; the server's own host is always allowed (env TELLTALE_ALLOWED_ORIGINS)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return config{}, err
	}
	if *showVersion {
		return config{showVersion: true}, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if demoErr != nil && !set["demo"] {
		return config{}, fmt.Errorf("TELLTALE_DEMO: %w", demoErr)
	}
	if wsErr != nil && !set["websocket"] {
		return config{}, fmt.Errorf("TELLTALE_WEBSOCKET: %w", wsErr)
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("-log-level: %w", err)
	}
	if strings.TrimSpace(c.appVersion) == "" {
		return config{}, errors.New("-app-version: want a version, or leave it unset for the build's")
	}
	if c.decoders == 0 {
		return config{}, errors.New("-ingest-decoders must be non-zero (negative: no bound)")
	}
	if c.ingestRate == 0 || c.ingestBurst <= 0 || c.ingestHold == 0 {
		return config{}, errors.New("-ingest-rate and -ingest-hold must be non-zero (negative: off), -ingest-burst positive")
	}
	if c.points <= 0 || c.points > 1_000_000 {
		return config{}, errors.New("-points: want 1 to 1,000,000")
	}
	limits, tenants, err := c.caps.resolve()
	if err != nil {
		return config{}, err
	}
	c.limits, c.tenantCaps, c.tenantRates = limits, tenants.caps, tenants.rates
	if c.maxStreams <= 0 {
		return config{}, errors.New("-max-streams: want a positive number")
	}
	if c.metricsTop <= 0 || c.metricsTop > 1000 {
		return config{}, errors.New("-metrics-top-tenants: want 1 to 1,000")
	}
	if c.metricsTok != "" && len(c.metricsTok) < 16 {
		return config{}, errors.New("-metrics-token: want 16 characters or more")
	}
	if c.maxAggs <= 0 {
		return config{}, errors.New("-max-aggregates: want a positive number")
	}
	if c.warmBytes <= 0 || c.warmTime <= 0 {
		return config{}, errors.New("-warm-stream-bytes and -warm-time: want positive values")
	}
	if c.connRate == 0 || c.connBurst <= 0 || c.maxConns <= 0 {
		return config{}, errors.New("-conn-rate must be non-zero (negative: off), -conn-burst and -max-conns positive")
	}
	if c.slaKeep <= 0 {
		return config{}, errors.New("-sla-keep: want a positive duration, e.g. 720h")
	}
	if err := c.edge.check(); err != nil {
		return config{}, err
	}
	if err := c.alerts.check(getenv); err != nil {
		return config{}, err
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.origins = append(c.origins, o)
		}
	}
	c.dashboards = demo.Dashboards()
	if *dashFile != "" {
		b, err := os.ReadFile(*dashFile)
		if err != nil {
			return config{}, fmt.Errorf("-dashboards: %w", err)
		}
		if c.dashboards, err = dashboard.Parse(b); err != nil {
			var at *dashboard.Error
			if errors.As(err, &at) && at.Line > 0 { // file:line:col: what, as compilers say it
				return config{}, fmt.Errorf("-dashboards %s:%w", *dashFile, err)
			}
			return config{}, fmt.Errorf("-dashboards %s: %w", *dashFile, err)
		}
	}
	c.retention = pgstore.Retention{KeepEvents: *keepEvents, KeepFor: *keepFor}
	c.ingestKeys = ingest.StaticKeys{}
	for _, pair := range strings.Split(*keys, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		tenant, key, ok := strings.Cut(pair, ":")
		if !ok || wire.ValidStream(tenant) != nil || len(key) < 16 {
			return config{}, errors.New("-ingest-keys: want tenant:key pairs, tenant names like stream names, keys of 16 characters or more")
		}
		c.ingestKeys[key] = tenant
	}
	if c.retention.KeepEvents == 0 && getenv("TELLTALE_KEEP_EVENTS") != "" {
		if c.retention.KeepEvents, err = strconv.ParseInt(getenv("TELLTALE_KEEP_EVENTS"), 10, 64); err != nil {
			return config{}, fmt.Errorf("TELLTALE_KEEP_EVENTS: %w", err)
		}
	}
	if c.retention.KeepFor == 0 && getenv("TELLTALE_KEEP_FOR") != "" {
		if c.retention.KeepFor, err = time.ParseDuration(getenv("TELLTALE_KEEP_FOR")); err != nil {
			return config{}, fmt.Errorf("TELLTALE_KEEP_FOR: %w", err)
		}
	}
	c.dbURL = getenv("DATABASE_URL")
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the usage was asked for, and printed
	}
	return err
}

// runCommand runs the subcommand args name, or serves when args start with
// a flag or are empty.
func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] == "help" {
			if len(args) > 1 { // telltale help token: the command's own help
				return runCommand(ctx, []string{args[1], "-h"}, getenv, stdout, stderr)
			}
			_, err := parse([]string{"-h"}, getenv, stdout, stderr)
			return err
		}
		c, err := findCommand(args[0])
		if err != nil {
			return err
		}
		return c.run(ctx, args[1:], getenv, stdout, stderr)
	}
	cfg, err := parse(args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if cfg.showVersion {
		printVersion(stdout)
		return nil
	}
	return serve(ctx, cfg, getenv, stdout, stderr)
}

// serve runs the server until ctx ends or a component fails.
func serve(ctx context.Context, cfg config, getenv func(string) string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	reg := metrics.New()
	stages := metrics.NewStages(reg, cfg.metricsTop)
	// The engine reads source events off the hub's tap; it is made with the
	// store below, before anything publishes.
	var (
		eng    *aggregate.Engine
		boards *boards // each tenant's dashboards' aggregates, for the engine
	)
	h := hub.New(hub.Config{Logger: log, Metrics: reg, Stages: stages, Limits: livestate.Limits{Points: cfg.points}.Over(cfg.limits), TenantLimits: cfg.tenantCaps,
		Tap: func(tenant string, evs []wire.Event) {
			boards.Tap(tenant, evs)
			eng.Tap(tenant, evs)
		}})
	// The engine and boards are made with the store below, before anything
	// publishes.
	newEngine := func(st aggregate.Store, ds dashstore.Store) *aggregate.Engine {
		boards = newBoards(ds, cfg.dashboards, func() { eng.Reload() }, log)
		return aggregate.NewEngine(aggregate.EngineConfig{Store: st, Logger: log, Metrics: reg, MaxPerTenant: cfg.maxAggs,
			Specs:   boards.Specs,
			Current: func(tenant, stream string) (*wire.State, error) { return hubState(h, tenant, stream) },
			Watched: h.Watched})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     []error
		store    demo.Publisher
		storeTag string
		health   func() (bool, string)
		warming  func() (int, int)
		ingester *ingest.Handler
		history  wsgate.History // where resuming clients' gaps are read
		revoked  auth.Revocations
		stored   dashstore.Store // each tenant's own dashboards
		slaStore sla.Store       // the freshness rollups of closed minutes
	)
	// goRun runs a component for the server's lifetime; its failure stops all.
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				errMu.Unlock()
				cancel()
			}
		}()
	}
	if cfg.dbURL != "" {
		pool, err := pgxpool.New(ctx, cfg.dbURL)
		if err != nil {
			return fmt.Errorf("DATABASE_URL: %w", err)
		}
		defer pool.Close()
		if _, err := pgstore.Migrate(ctx, pool); err != nil {
			return err
		}
		pg := pgstore.New(pgstore.Config{Pool: pool, Sink: h.Publish, Logger: log, Metrics: reg,
			WarmBytes: cfg.warmBytes, WarmTime: cfg.warmTime,
			Hold: func(tenant, stream string) pgstore.Held { return h.Hold(tenant, stream) }})
		if err := pg.SetStreamQuota(ctx, cfg.maxStreams); err != nil {
			return err
		}
		store, storeTag, health, history, revoked, stored = pg, "postgres", pg.Health, pg, pg, pg
		slaStore = sla.NewPGStore(pool)
		eng = newEngine(pg, pg)
		warming = pg.Warming
		ingester = ingest.New(ingest.Config{Store: pg, Keys: pg, Logger: log, Metrics: reg, Limits: h, TenantRate: cfg.ingestRate, TenantBurst: cfg.ingestBurst, TenantRates: cfg.tenantRates, TenantHold: cfg.ingestHold, TenantDecoders: cfg.decoders})
		goRun("postgres follower", pg.Run)
		// Listen once the hub holds every existing stream for warming: a
		// client reconnecting after a restart waits for its stream's recent
		// events and resumes instead of resyncing, while warm streams are
		// served at once (/healthz says warming until all are).
		select {
		case <-pg.Held():
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append([]error{ctx.Err()}, errs...)...)
		}
		goRun("retention", func(ctx context.Context) error { return pg.RunRetention(ctx, cfg.retention) })
	} else {
		mem := memstore.New(memstore.Config{Sink: h.Publish, MaxStreamsPerTenant: cfg.maxStreams})
		store, storeTag, history, revoked, stored = mem, "memory", mem, mem, mem
		slaStore = sla.NewMemoryStore()
		eng = newEngine(mem, mem)
		ingester = ingest.New(ingest.Config{Store: mem, Keys: cfg.ingestKeys, Logger: log, Metrics: reg, Limits: h, TenantRate: cfg.ingestRate, TenantBurst: cfg.ingestBurst, TenantRates: cfg.tenantRates, TenantHold: cfg.ingestHold, TenantDecoders: cfg.decoders})
	}

	if cfg.dashDir != "" { // at start, and on SIGHUP (dashboards.go)
		reload, err := startProvisioning(ctx, store, cfg.dashDir, log)
		if err != nil {
			return err
		}
		goRun("dashboards-dir", reload)
	}

	// After the store's follower: what the engine writes at shutdown is its
	// last word (goRun's components stop together; Run flushes on its own
	// time).
	// The tenants' stored dashboards' aggregates are known before serving.
	if err := boards.Load(ctx); err != nil {
		cancel()
		wg.Wait()
		return err
	}
	goRun("dashboards", boards.Run)
	goRun("aggregates", eng.Run)
	// The pages' freshness reports: merged in memory, closed minutes saved
	// every 10 s, old ones pruned; the open minutes are saved at shutdown.
	slas := sla.New(sla.Config{Store: slaStore, Logger: log, Metrics: reg, Stages: stages, Keep: cfg.slaKeep})
	goRun("sla", slas.Run)
	// The dashboards' sla targets (alerts.go), judged from those reports
	// and the hub's streams.
	alerts(cfg.alerts, h, boards, store, slas, log, reg)(ctx, goRun)

	keys, keysFrom, err := cfg.keys.load(getenv)
	if err != nil {
		return err
	}
	// One guard verifies every operator token (WebSocket hello and refresh,
	// stream API, revoke API) against the keys and the revocation list, read
	// once before serving and every 2 s after.
	guard := auth.NewGuard(keys, revoked)
	if err := guard.Load(ctx); err != nil {
		return fmt.Errorf("read revocations: %w", err)
	}
	gate := wsgate.New(wsgate.Config{Hub: h, Logger: log, Metrics: reg, Stages: stages, History: history, OriginPatterns: cfg.origins,
		ConnRate: cfg.connRate, ConnBurst: cfg.connBurst, MaxConns: cfg.maxConns,
		MaxUnauth: cfg.edge.maxUnauth, MaxUnauthPerAddr: cfg.edge.maxUnauthPerAddr, HandshakeTimeout: cfg.edge.helloTimeout,
		Authenticate: func(_ context.Context, token string) (*auth.Principal, error) { return guard.Verify(token) },
		Revoked:      guard.Revoked,
		Derived:      eng,
		Reports:      slas, // the pages' freshness reports over the socket
	})
	goRun("revocations", func(ctx context.Context) error { return guard.Run(ctx, 2*time.Second, log, gate.Sweep) })
	signIn, err := cfg.oidc.handler(keys, guard, revoked, log) // oidc.go
	if err != nil {
		return err
	}
	ui.Register(ui.Bridges{})
	streams := httpapi.New(httpapi.Config{Verify: guard.Verify, Hub: h, History: history, Logger: log, Metrics: reg, Derived: eng})
	srv, err := server.New(server.Config{
		WebDir:       cfg.webDir,
		Version:      cfg.appVersion,
		Store:        storeTag,
		Health:       health,
		Warming:      warming,
		Logger:       log,
		Metrics:      reg,
		MetricsToken: cfg.metricsTok,
		Gateway:      gate,
		Ingest:       ingester,
		Revoke:       auth.RevokeHandler(guard, revoked, log),
		Auth:         signIn,
		NoWebSocket:  !cfg.websocket,
		Streams:      streams,
		Operator:     streams.Operator,
		Dashboards:   cfg.dashboards,
		Stored:       stored,
		SLA:          slas,
		WarmM4:       eng.Want, // a lite page's m4 streams, from its spec's request
		DashboardsChanged: func(ctx context.Context, tenant string) {
			if err := boards.Refresh(ctx, tenant); err != nil {
				log.Warn("dashboards changed: re-reading them failed; trying again", "tenant", tenant, "err", err)
				boards.Notify(tenant)
			}
		},
		TLSCert: cfg.tlsCert,
		TLSKey:  cfg.tlsKey,
		// The door's timeouts (edge.go).
		HeaderTimeout: cfg.edge.headerTimeout, ReadTimeout: cfg.edge.readTimeout,
		WriteTimeout: cfg.edge.writeTimeout, IdleTimeout: cfg.edge.idleTimeout,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.debugAddr != "" {
		dln, err := net.Listen("tcp", cfg.debugAddr)
		if err != nil {
			return fmt.Errorf("-debug-addr: %w", err)
		}
		fmt.Fprintf(stdout, "telltale: profiles at http://%s/debug/pprof/\n", dln.Addr())
		goRun("debug listener", func(ctx context.Context) error { return serveDebug(ctx, dln) })
	}
	if cfg.metricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		fmt.Fprintf(stdout, "telltale: metrics at http://%s/metrics\n", mln.Addr())
		goRun("metrics listener", func(ctx context.Context) error { return serveMetrics(ctx, mln, reg) })
	}
	what := map[string]string{"memory": "embedded store", "postgres": "PostgreSQL"}[storeTag]
	if cfg.demo {
		what += ", demo feed"
		// Two demo tenants, so that isolation can be seen: each sign-in URL
		// shows only its tenant's data.
		for _, tenant := range demoTenants {
			goRun("demo feed "+tenant, func(ctx context.Context) error { return demo.Run(ctx, store, demo.Config{Tenant: tenant}) })
		}
	}
	base := "http://" + browsable(ln.Addr()) + "/"
	if cfg.tlsCert != "" {
		base = "https://" + browsable(ln.Addr()) + "/"
	}
	fmt.Fprintf(stdout, "telltale %s: serving %s (%s)\n", version, base, what)
	// Sign-in links carry bearer tokens: print them only with the
	// development secret, never with a production key (stdout ends up in
	// logs).
	if cfg.demo && keys.CanMint() && cfg.keys.dev() {
		for _, tenant := range demoTenants {
			tok, err := keys.Mint(tenant, "demo-operator", 7*24*time.Hour, nil, "viewer")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "telltale: open %s (tenant %s; tokens signed with the %s)\n", signInURL(base, tok), tenant, keysFrom)
		}
	}

	err = srv.Serve(ctx, ln)
	cancel()
	wg.Wait()
	log.Info("stopped")
	errMu.Lock()
	defer errMu.Unlock()
	return errors.Join(append([]error{err}, errs...)...)
}

// envInt reads an integer default for a flag; a bad value becomes 0, which
// the flag's check refuses.
func envInt(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// envDuration reads a duration default for a flag; a bad value becomes 0,
// which the flag's check refuses.
func envDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

func envFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// demoTenants are the tenants the demo feed publishes for.
var demoTenants = []string{"demo", "demo2"}

// ingestKey mints an ingest key for a tenant in PostgreSQL and prints it once.
func ingestKey(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ingest-key", "-tenant T [-label L]", "Mints an ingest key for a tenant in DATABASE_URL and prints it once; clients send it\nas Authorization: Bearer <key> to /api/v1/ingest.")
	tenant := fs.String("tenant", "", "tenant the key publishes for (required)")
	label := fs.String("label", "", "a note on who uses the key")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := wire.ValidStream(*tenant); err != nil {
		return fmt.Errorf("ingest-key: -tenant: %w", err)
	}
	st, done, err := adminStore(ctx, dbURL, "ingest-key", "pass keys with -ingest-keys")
	if err != nil {
		return err
	}
	defer done()
	key, err := st.NewIngestKey(ctx, *tenant, *label)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "ingest key for tenant %s: shown once, keep it secret; send it as Authorization: Bearer <key>\n", *tenant)
	return nil
}

// adminStore opens DATABASE_URL, migrated, for a subcommand that writes to
// it; embedded says what to do instead with the embedded store.
func adminStore(ctx context.Context, dbURL, cmd, embedded string) (*pgstore.Store, func(), error) {
	if dbURL == "" {
		return nil, nil, fmt.Errorf("%s: set DATABASE_URL (with the embedded store, %s)", cmd, embedded)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pgstore.New(pgstore.Config{Pool: pool}), pool.Close, nil
}

// revokeCmd revokes an operator's tokens or one token in PostgreSQL; every
// server closes the connections it covers within seconds.
func revokeCmd(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("revoke", "-tenant T [-sub S] [-token-id J]", "Revokes an operator's tokens, or one token, in DATABASE_URL; every server closes\nthe connections they cover within seconds.")
	tenant := fs.String("tenant", "", "tenant (required)")
	sub := fs.String("sub", "", "revoke every token of this operator issued until now")
	jti := fs.String("token-id", "", "revoke the token with this jti")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := wire.ValidStream(*tenant); err != nil {
		return fmt.Errorf("revoke: -tenant: %w", err)
	}
	if *sub == "" && *jti == "" {
		return errors.New("revoke: give -sub, -token-id or both")
	}
	st, done, err := adminStore(ctx, dbURL, "revoke", "POST /api/v1/revoke with an admin token")
	if err != nil {
		return err
	}
	defer done()
	now := time.Now()
	r := auth.Revocation{Tenant: *tenant, Subject: *sub, TokenID: *jti, At: now, Until: now.Add(auth.MaxTTL)}
	if err := st.Revoke(ctx, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked in tenant %s: sub %q token %q; open connections close within seconds\n", *tenant, *sub, *jti)
	return nil
}

// migrate applies the schema migrations and says what it did.
func migrate(ctx context.Context, args []string, dbURL string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "", "Creates or upgrades the telltale schema in the database DATABASE_URL names, then\nexits. The server does the same at start.")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if dbURL == "" {
		return errors.New("migrate: set DATABASE_URL to the database to migrate")
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	applied, err := pgstore.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "telltale migrate: schema is up to date")
		return nil
	}
	fmt.Fprintf(stdout, "telltale migrate: applied %v\n", applied)
	return nil
}

// browsable turns a listen address into one a browser can open: ":8080"
// listens everywhere, but the URL to print is localhost.
func browsable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}

// serveMetrics serves /metrics on its own listener, apart from the public
// one, as Prometheus exporters do: the main port does not answer it
// (unless -metrics-token).
func serveMetrics(ctx context.Context, ln net.Listener, reg *metrics.Registry) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	return serveOn(ctx, ln, mux)
}

// serveDebug serves net/http/pprof on its own listener, apart from the public
// one, so profiles are never exposed where dashboards are.
func serveDebug(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveOn(ctx, ln, mux)
}

// serveOn serves h on ln until ctx ends.
func serveOn(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

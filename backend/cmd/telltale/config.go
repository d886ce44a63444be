package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

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
	dashDir     string // -dashboards-dir: DIR/{tenant}/ files, at start and on SIGHUP
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

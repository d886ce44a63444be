package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
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
	leaderRetry time.Duration // PostgreSQL: how often a node tries the leader lock (cluster.go)
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
	ioURing     bool
	edge        edgeLimits
	alerts      alertFlags // alerts.go
	websocket   bool
	slaKeep     time.Duration
	dashboards  []dashboard.Dashboard
	dashDir     string        // -dashboards-dir: DIR/{tenant}/ files, at start and on SIGHUP
	oidc        oidcFlags     // oidc.go
	drainDelay  time.Duration // drain.go: SIGTERM's time with /healthz at 503 before closing
	drainSpread time.Duration // drain.go: the most a drain spreads its closes over
}

// parse reads the server's flags and environment: each flag's value is the
// command line's, else its environment variable's (envName), else the
// default. Asked for help, it prints the usage on stdout and returns
// flag.ErrHelp.
func parse(args []string, getenv func(string) string, stdout, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("telltale", flag.ContinueOnError)
	fs.Usage = serverUsage(fs)
	var c config
	showVersion := fs.Bool("version", false, "print the build's version and exit (the same as telltale version)")
	fs.StringVar(&c.addr, "addr", ":8080", "listen address; port 0 picks a free port")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "serve Go's /debug/pprof profiles on this separate address, e.g. 127.0.0.1:6060; empty means off")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics (counters, stage latency histograms, Go runtime and process metrics) on this separate address, e.g. 127.0.0.1:9090; empty means not on a listener of its own")
	fs.StringVar(&c.metricsTok, "metrics-token", "", "also serve /metrics on the main port, to requests with Authorization: Bearer and this token; empty means the main port has no /metrics")
	fs.IntVar(&c.metricsTop, "metrics-top-tenants", 20, "tenants, the busiest by events, whose stage latency histograms carry their name; the rest are tenant=\"other\"")
	fs.StringVar(&c.appVersion, "app-version", version, "the version pages see, their service worker's cache key: installed pages offer a reload when it changes; defaults to the build's, so set it only when the web folder changes without a new build")
	fs.StringVar(&c.webDir, "web", "static", "web folder with app.wasm, icons and uPlot")
	fs.BoolVar(&c.demo, "demo", true, "run the built-in demo feed")
	fs.BoolVar(&c.websocket, "websocket", true, "accept WebSocket upgrades; false refuses them (503), a test mode for networks that block WebSockets: pages fall back to HTTP long-polling")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	// The back-quoted word of a usage string names the flag's value.
	fs.StringVar(&c.dashDir, "dashboards-dir", "", "`directory` whose DIR/TENANT/*.yaml, *.yml and *.json are applied to each tenant's dashboards at start and on SIGHUP, all or nothing per tenant (docs/DASHBOARDS.md)")
	dashFile := fs.String("dashboards", "", "JSON `file` of dashboard specs (one or an array; docs/dashboard.schema.json); the first is the default; empty means the demo's dashboard and the three of examples/")
	fs.Float64Var(&c.ingestRate, "ingest-rate", 4194304, "HTTP ingest: body bytes per second each tenant may send; past it, 429 with Retry-After; negative turns the limit off")
	fs.Int64Var(&c.ingestBurst, "ingest-burst", 8388608, "HTTP ingest: body bytes a tenant may send at once; at least the 4 MiB a request may hold")
	fs.DurationVar(&c.ingestHold, "ingest-hold", time.Second, "HTTP ingest: how long a request past its tenant's rate waits for it, unread, before 429 (at most 4 of a tenant's at once), so producers are paced evenly; negative: 429 at once")
	keys := fs.String("ingest-keys", "", "embedded store: ingest keys as `tenant:key,…`; with PostgreSQL, mint keys with the ingest-key command")
	fs.DurationVar(&c.leaderRetry, "leader-retry", 2*time.Second, "PostgreSQL, several nodes: how often a node that does not lead tries the leader lock, and the leader checks its lock connection; a dead leader is replaced within about this (the leader computes derived streams, judges alerts, sends webhooks, trims old events and runs the demo feed)")
	fs.Int64Var(&c.retention.KeepEvents, "keep-events", 0, "PostgreSQL retention: keep at least this many events per stream; 0 means 100000")
	fs.DurationVar(&c.retention.KeepFor, "keep-for", 0, "PostgreSQL retention: keep at least this much history per stream; 0 means 24h")
	c.keys.flags(fs)
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate file: serve HTTPS; needs -tls-key")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file for -tls-cert")
	fs.IntVar(&c.decoders, "ingest-decoders", 1, "HTTP ingest: how many of one tenant's bodies this server decodes at once, so one tenant's decoding takes at most that many cores; negative: no bound")
	fs.IntVar(&c.points, "points", 3000, "samples per series a stream's snapshot holds")
	c.caps.flags(fs)
	fs.IntVar(&c.warmBytes, "warm-stream-bytes", 8388608, "PostgreSQL start: event body bytes one stream may fold into memory before it is served; a stream whose last 5,000 events are larger starts from its newest events that fit")
	fs.DurationVar(&c.warmTime, "warm-time", 10*time.Second, "PostgreSQL start: time for warming every stream; streams left after it fold at most 64 KiB each")
	fs.IntVar(&c.maxAggs, "max-aggregates", 100, "most aggregates (dashboard aggregates and m4 series pages ask for) one tenant computes at once; past it a page asking for another gets an error frame or a 403")
	fs.IntVar(&c.maxStreams, "max-streams", 1000, "most streams one tenant may create")
	fs.Float64Var(&c.connRate, "conn-rate", 5, "new WebSocket connections per second per client address after the burst; negative turns the limit off")
	fs.IntVar(&c.connBurst, "conn-burst", 50, "new WebSocket connections at once per client address")
	fs.IntVar(&c.maxConns, "max-conns", 20000, "most open authenticated WebSocket connections")
	fs.BoolVar(&c.ioURing, "io-uring", true, "Linux: write the frames of up to 64 WebSockets in one io_uring system call; false: a write(2) each, as when the kernel has no io_uring or refuses it")
	c.edge.flags(fs)
	c.alerts.flags(fs)
	c.oidc.flags(fs)
	drainFlag(fs, &c.drainDelay, &c.drainSpread)
	fs.DurationVar(&c.slaKeep, "sla-keep", 720*time.Hour, "how long the pages' freshness reports are kept, as minute rollups (GET /api/v1/sla), in PostgreSQL or in memory")
	origins := fs.String("allowed-origins", "", "comma-separated extra hosts (patterns like *.example.com) whose pages may open WebSockets; the server's own host is always allowed")
	env := bindEnv(fs, getenv, func(name string) bool { return name != "version" })
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return config{}, err
	}
	if *showVersion {
		return config{showVersion: true}, nil
	}
	if err := env.err(); err != nil {
		return config{}, err
	}
	name := env.name
	c.keys.source = name
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("%s: %w", name("log-level"), err)
	}
	checks := []struct {
		ok         bool
		flag, want string
	}{
		{strings.TrimSpace(c.appVersion) != "", "app-version", "want a version, or leave it unset for the build's"},
		{c.decoders != 0, "ingest-decoders", "want a non-zero number (negative: no bound)"},
		{c.ingestRate != 0, "ingest-rate", "want a non-zero rate (negative: off)"},
		{c.ingestHold != 0, "ingest-hold", "want a non-zero duration (negative: off)"},
		{c.ingestBurst > 0, "ingest-burst", "want a positive number"},
		{c.points > 0 && c.points <= 1_000_000, "points", "want 1 to 1,000,000"},
		{c.maxStreams > 0, "max-streams", "want a positive number"},
		{c.metricsTop > 0 && c.metricsTop <= 1000, "metrics-top-tenants", "want 1 to 1,000"},
		{c.metricsTok == "" || len(c.metricsTok) >= 16, "metrics-token", "want 16 characters or more"},
		{c.maxAggs > 0, "max-aggregates", "want a positive number"},
		{c.warmBytes > 0, "warm-stream-bytes", "want a positive number"},
		{c.warmTime > 0, "warm-time", "want a positive duration"},
		{c.connRate != 0, "conn-rate", "want a non-zero rate (negative: off)"},
		{c.connBurst > 0, "conn-burst", "want a positive number"},
		{c.maxConns > 0, "max-conns", "want a positive number"},
		{c.slaKeep > 0, "sla-keep", "want a positive duration, e.g. 720h"},
		{c.leaderRetry > 0, "leader-retry", "want a positive duration, e.g. 2s"},
		{c.drainDelay >= 0, "drain-delay", "want a duration of 0 or more, e.g. 7s"},
		{c.drainSpread >= 0, "drain-spread", "want a duration of 0 or more, e.g. 2s"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return config{}, fmt.Errorf("%s: %s", name(ch.flag), ch.want)
		}
	}
	limits, tenants, err := c.caps.resolve(name)
	if err != nil {
		return config{}, err
	}
	c.limits, c.tenantCaps, c.tenantRates = limits, tenants.caps, tenants.rates
	if err := c.edge.check(name); err != nil {
		return config{}, err
	}
	if err := c.alerts.check(name); err != nil {
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
			return config{}, fmt.Errorf("%s: %w", name("dashboards"), err)
		}
		if c.dashboards, err = dashboard.Parse(b); err != nil {
			var at *dashboard.Error
			if errors.As(err, &at) && at.Line > 0 { // file:line:col: what, as compilers say it
				return config{}, fmt.Errorf("%s %s:%w", name("dashboards"), *dashFile, err)
			}
			return config{}, fmt.Errorf("%s %s: %w", name("dashboards"), *dashFile, err)
		}
	}
	c.ingestKeys = ingest.StaticKeys{}
	for _, pair := range strings.Split(*keys, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		tenant, key, ok := strings.Cut(pair, ":")
		if !ok || wire.ValidStream(tenant) != nil || len(key) < 16 {
			return config{}, fmt.Errorf("%s: want tenant:key pairs, tenant names like stream names, keys of 16 characters or more", name("ingest-keys"))
		}
		c.ingestKeys[key] = tenant
	}
	c.dbURL = getenv("DATABASE_URL")
	return c, nil
}

// envAliases are the environment variables that set a flag under another
// name than envName's rule gives, kept because deployments use them. The
// README's configuration table lists every flag's variable.
var envAliases = map[string]string{
	"web": "TELLTALE_WEB_DIR", // not TELLTALE_WEB
}

// envName is the environment variable that sets the flag name:
// TELLTALE_ and the name upper-cased with '-' as '_' (-conn-burst:
// TELLTALE_CONN_BURST), unless envAliases names another.
func envName(flag string) string {
	if v, ok := envAliases[flag]; ok {
		return v
	}
	return "TELLTALE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envFlags are the flags an environment variable set, found by bindEnv.
type envFlags struct {
	fs   *flag.FlagSet
	from map[string]string // flag name → the variable that set it
	bad  map[string]error  // flag name → its variable's bad value
}

// bindEnv sets each flag of fs that bound accepts from its environment
// variable, in one pass after the flags are defined and before they are
// parsed, so that the command line wins over the environment and the
// environment over the defaults; an empty variable counts as unset. Each
// such flag's help names its variable. The help's defaults stay the
// built-in ones: the environment never shows in it (it holds secrets).
//
// A bad value is kept for envFlags.err, which reports it after parsing
// unless the command line set the flag: -h works whatever the environment
// holds, and a flag mends a bad variable.
func bindEnv(fs *flag.FlagSet, getenv func(string) string, bound func(flag string) bool) *envFlags {
	e := &envFlags{fs: fs, from: map[string]string{}, bad: map[string]error{}}
	fs.VisitAll(func(f *flag.Flag) {
		if !bound(f.Name) {
			return
		}
		name := envName(f.Name)
		f.Usage += " (env " + name + ")"
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			e.bad[f.Name] = fmt.Errorf("%s: invalid value %q: %w", name, v, err)
			return
		}
		e.from[f.Name] = name
	})
	return e
}

// err is the first bad variable, in the flags' order, whose flag the
// command line did not set. Call it after parsing.
func (e *envFlags) err() error {
	set := map[string]bool{}
	e.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var first error
	e.fs.VisitAll(func(f *flag.Flag) {
		if err := e.bad[f.Name]; err != nil && !set[f.Name] && first == nil {
			first = err
		}
	})
	return first
}

// name is how a mistake in the flag's value names it: the variable when the
// value came from the environment, else -flag. Call it after parsing.
func (e *envFlags) name(fname string) string {
	if v, ok := e.from[fname]; ok {
		set := false
		e.fs.Visit(func(f *flag.Flag) { set = set || f.Name == fname })
		if !set {
			return v
		}
	}
	return "-" + fname
}

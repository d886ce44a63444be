package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/telltale/telltale/app/ui"
	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/httpapi"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/server"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// demoTenants are the tenants the demo feed publishes for.
var demoTenants = []string{"demo", "demo2"}

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
	// With several nodes on one PostgreSQL (cluster.go) the engine
	// computes while its node leads, writing on the leader's lock
	// connection; the others forward their pages' wants to it.
	newEngine := func(st aggregate.Store, ds dashstore.Store, cl *cluster, fw *wants) *aggregate.Engine {
		boards = newBoards(ds, cfg.dashboards, func() { eng.Reload() }, log)
		ecfg := aggregate.EngineConfig{Store: leaderStore{Store: st, write: cl.appendAll(st)}, Logger: log, Metrics: reg, MaxPerTenant: cfg.maxAggs,
			Specs:     boards.Specs,
			Current:   func(tenant, stream string) (*wire.State, error) { return hubState(h, tenant, stream) },
			Watched:   h.Watched,
			IdleAfter: aggIdleAfter}
		if cl.elected() {
			ecfg.Elected, ecfg.Forward, ecfg.Wanted = true, fw.Forward, wanted(h, boards, aggIdleAfter, log)
			ecfg.Live, ecfg.Record = live(h, boards, aggIdleAfter, log), fw.Forward
		}
		return aggregate.NewEngine(ecfg)
	}

	// The server's components run in one group for its lifetime: the first
	// to fail stops them all (ctx is the group's), and stop ends and waits
	// for every one started, whichever way serve returns.
	// They outlive the caller's ctx by the drain (drain.go): SIGTERM leaves
	// them running for -drain-delay with /healthz at 503, then stops them.
	outer := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(outer))
	g, ctx := errgroup.WithContext(ctx)
	drain := newDrainer(cfg.drainDelay, cfg.drainSpread, log)
	g.Go(func() error { return drain.run(ctx, outer, cancel) })
	stop := func() error {
		cancel()
		return g.Wait()
	}
	defer stop() // on an early return, that return's error says why
	var (
		health  func() (bool, string)
		warming func() (int, int)
	)
	// goRun runs a component in the group; its failure, named, stops all.
	goRun := func(name string, fn func(context.Context) error) {
		g.Go(func() error {
			if err := fn(ctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	// One store (store.go): PostgreSQL or the embedded one.
	st, err := openStore(ctx, cfg, h, log, reg)
	if err != nil {
		return err
	}
	// Closed once the components that use it have stopped.
	defer func() {
		_ = stop()
		st.close()
	}()
	// What must be done once per cluster runs on the leader (cluster.go).
	cl := newCluster(st, cfg.dbURL, cfg.leaderRetry, log, reg)
	fw := newWants(st.Append, h, log)
	eng = newEngine(st, st, cl, fw)
	ingester := ingest.New(ingest.Config{Store: st, Keys: st.keys, Logger: log, Metrics: reg, Limits: h, TenantRate: cfg.ingestRate, TenantBurst: cfg.ingestBurst, TenantRates: cfg.tenantRates, TenantHold: cfg.ingestHold, TenantDecoders: cfg.decoders})
	if st.follow != nil {
		health, warming = st.follow.Health, st.follow.Warming
		goRun(st.kind+" follower", st.follow.Run)
		// Listen once the hub holds every existing stream for warming: a
		// client reconnecting after a restart waits for its stream's recent
		// events and resumes instead of resyncing, while warm streams are
		// served at once (/healthz says warming until all are).
		select {
		case <-st.follow.Held():
		case <-ctx.Done():
			return errors.Join(ctx.Err(), stop())
		}
	}

	if cfg.dashDir != "" { // at start, and on SIGHUP (dashboards.go)
		reload, err := startProvisioning(ctx, st, cfg.dashDir, log)
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
		return err // the deferred stop waits for what started
	}
	goRun("dashboards", boards.Run)
	// The pages' freshness reports: merged in memory, closed minutes saved
	// every 10 s, old ones pruned; the open minutes are saved at shutdown.
	// Every node saves its own pages' (rows of one minute add up when read;
	// compaction and pruning are safe on several nodes at once).
	slas := sla.New(sla.Config{Store: st.sla, Logger: log, Metrics: reg, Stages: stages, Keep: cfg.slaKeep})
	goRun("sla", slas.Run)
	if cl.elected() {
		goRun("wants", fw.Run) // this node's pages' derived streams, asked of the leader
	}
	// Once per cluster, on the leader (docs/ARCHITECTURE.md, "Several
	// nodes: what runs once"); each term starts them afresh from the
	// store.
	cl.run(ctx, goRun, func(ctx context.Context, goRun func(string, func(context.Context) error)) {
		goRun("aggregates", eng.Run)
		// The dashboards' sla targets (alerts.go), judged from the pages'
		// reports and the hub's streams; alerts are written as the leader.
		alerts(cfg.alerts, h, boards, alertStore{cl.appender(st), st}, cl, slas, log, reg)(ctx, goRun)
		if st.retain != nil {
			goRun("retention", st.retain)
		}
		if cfg.demo {
			// Two demo tenants, so that isolation can be seen: each
			// sign-in URL shows only its tenant's data.
			for _, tenant := range demoTenants {
				goRun("demo feed "+tenant, func(ctx context.Context) error { return demo.Run(ctx, st, demo.Config{Tenant: tenant}) })
			}
		}
	})

	keys, keysFrom, err := cfg.keys.load(getenv)
	if err != nil {
		return err
	}
	// One guard verifies every operator token (WebSocket hello and refresh,
	// stream API, revoke API) against the keys and the revocation list, read
	// once before serving and every 2 s after.
	guard := auth.NewGuard(keys, st)
	if err := guard.Load(ctx); err != nil {
		return fmt.Errorf("read revocations: %w", err)
	}
	// Other nodes may follow the same store (PostgreSQL) and have served a
	// client further than this node's follower has read: its resume waits
	// for the follower rather than starting over from a snapshot.
	var aheadWait time.Duration
	if st.follow != nil {
		aheadWait = aheadWaitShared
	}
	gate := wsgate.New(wsgate.Config{Hub: h, Logger: log, Metrics: reg, Stages: stages, History: st, OriginPatterns: cfg.origins, AheadWait: aheadWait,
		ConnRate: cfg.connRate, ConnBurst: cfg.connBurst, MaxConns: cfg.maxConns, NoIOURing: !cfg.ioURing,
		MaxUnauth: cfg.edge.maxUnauth, MaxUnauthPerAddr: cfg.edge.maxUnauthPerAddr, HandshakeTimeout: cfg.edge.helloTimeout,
		Authenticate: func(_ context.Context, token string) (*auth.Principal, error) { return guard.Verify(token) },
		Revoked:      guard.Revoked,
		Derived:      eng,
		Reports:      slas, // the pages' freshness reports over the socket
	})
	goRun("revocations", func(ctx context.Context) error { return guard.Run(ctx, 2*time.Second, log, gate.Sweep) })
	signIn, err := cfg.oidc.handler(keys, guard, st, log) // oidc.go
	if err != nil {
		return err
	}
	ui.Register(ui.Bridges{})
	streams := httpapi.New(httpapi.Config{Verify: guard.Verify, Hub: h, History: st, Logger: log, Metrics: reg, Derived: eng, AheadWait: aheadWait})
	srv, err := server.New(server.Config{
		WebDir:       cfg.webDir,
		Version:      cfg.appVersion,
		Store:        st.kind,
		Health:       health,
		Leader:       cl.Leading,
		Warming:      warming,
		Logger:       log,
		Metrics:      reg,
		MetricsToken: cfg.metricsTok,
		Gateway:      gate,
		Ingest:       ingester,
		Revoke:       auth.RevokeHandler(guard, st, log),
		Auth:         signIn,
		NoWebSocket:  !cfg.websocket,
		Streams:      streams,
		Operator:     streams.Operator,
		Dashboards:   cfg.dashboards,
		Stored:       st,
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
		TrustedProxies: cfg.edge.proxies,
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
	what := map[string]string{"memory": "embedded store", "postgres": "PostgreSQL"}[st.kind]
	if cfg.demo {
		what += ", demo feed"
		if cl.elected() {
			what += " on the leader"
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

	drain.serving(srv)
	err = srv.Serve(ctx, ln)
	werr := stop()
	log.Info("stopped")
	return errors.Join(err, werr)
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

// aheadWaitShared is how long a resume whose cursor is ahead of this node's
// stream waits for the follower to reach it. Nodes follow the table a few
// to a few hundred milliseconds apart (bench/results/2026-12-07-nodes.md);
// past it, the client gets a snapshot.
const aheadWaitShared = 5 * time.Second

// Command telltale serves live operations dashboards: the PWA, the WebSocket
// gateway and the HTTP API, on the embedded in-memory store with a demo feed.
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
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/telltale/telltale/app/ui"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/server"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
)

// version is set by the build: -ldflags "-X main.version=...". It is go-app's
// cache key, so a deploy updates installed PWAs and a restart does not.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "telltale:", err)
		os.Exit(1)
	}
}

// config is everything the flags and environment decide.
type config struct {
	addr     string
	webDir   string
	demo     bool
	logLevel slog.Level
	dbURL    string
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	demoDefault, err := strconv.ParseBool(env("TELLTALE_DEMO", "true"))
	if err != nil {
		return config{}, fmt.Errorf("TELLTALE_DEMO: %w", err)
	}
	fs := flag.NewFlagSet("telltale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.addr, "addr", env("TELLTALE_ADDR", ":8080"), "listen address (env TELLTALE_ADDR); port 0 picks a free port")
	fs.StringVar(&c.webDir, "web", env("TELLTALE_WEB_DIR", "static"), "web folder with app.wasm, icons and uPlot (env TELLTALE_WEB_DIR)")
	fs.BoolVar(&c.demo, "demo", demoDefault, "run the built-in demo feed (env TELLTALE_DEMO)")
	level := fs.String("log-level", env("TELLTALE_LOG_LEVEL", "info"), "debug, info, warn or error (env TELLTALE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("-log-level: %w", err)
	}
	c.dbURL = getenv("DATABASE_URL")
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.dbURL != "" {
		// Refuse rather than quietly run on memory: an operator who set a
		// database expects durability.
		return errors.New("DATABASE_URL is set, but this build has only the embedded store; unset DATABASE_URL to run on it")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	reg := metrics.New()
	h := hub.New(hub.Config{Logger: log, Metrics: reg})
	store := memstore.New(memstore.Config{Sink: h.Publish})
	gate := wsgate.New(wsgate.Config{Hub: h, Logger: log, Metrics: reg})

	ui.Register(ui.Bridges{})
	srv, err := server.New(server.Config{
		WebDir:     cfg.webDir,
		Version:    version,
		Store:      "memory",
		Logger:     log,
		Metrics:    reg,
		Gateway:    gate,
		Dashboards: []dashboard.Dashboard{demo.Dashboard()},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "telltale %s: serving http://%s/ (embedded store%s)\n", version, browsable(ln.Addr()), map[bool]string{true: ", demo feed"}[cfg.demo])

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var demoErr error
	if cfg.demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if demoErr = demo.Run(ctx, store, demo.Config{}); demoErr != nil {
				cancel()
			}
		}()
	}
	err = srv.Serve(ctx, ln)
	cancel()
	wg.Wait()
	log.Info("stopped")
	return errors.Join(err, demoErr)
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

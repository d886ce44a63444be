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
//	telltale healthcheck [-url U]
//	                        exit 0 if this node's /healthz answers 200
//
// Flags and TELLTALE_* environment variables are read in this package and
// nowhere else. Its files: main.go starts the binary and picks the command;
// config.go turns the server's flags and environment into a config;
// serve.go builds the server's pieces from it and runs them; commands.go
// holds the commands' table, flag parsing and usage, and the PostgreSQL
// admin commands (migrate, ingest-key, revoke); healthcheck.go the
// container's health check; tokens.go the token keys and
// command; dashboards.go the dashboard files; aggregates.go, alerts.go,
// limits.go and edge.go the wiring and flags of one part each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
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
	ctx, stop := signals() // drain.go: SIGTERM drains, SIGINT does not
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "telltale:", err)
		os.Exit(exitCode(err))
	}
}

// run runs the binary with args (os.Args[1:]) and the environment getenv.
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

package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/telltale/telltale/backend/server"
)

// How the server was asked to stop: the cause of main's context.
var (
	// errTerminated is SIGTERM, a service manager's or a rolling restart's
	// stop: the server drains first (-drain-delay).
	errTerminated = errors.New("terminated (SIGTERM)")
	// errInterrupted is SIGINT (Ctrl-C): a person at a terminal, who wants
	// the server gone now, so it stops without draining.
	errInterrupted = errors.New("interrupted (SIGINT)")
)

// defaultDrainDelay covers HAProxy's default health check (3 failed checks
// 2 s apart mark a server down: 4-6 s after the first 503) with a second to
// spare; with defaultDrainSpread after it, the close and shutdown stay
// inside the 10 s a container runtime waits after SIGTERM (docker stop)
// before it kills.
const defaultDrainDelay = 7 * time.Second

// defaultDrainSpread caps the spreading of a drain's closes: 2,000
// connections or more take 2 s (wsgate.DrainPace each).
const defaultDrainSpread = 2 * time.Second

// drainFlag declares -drain-delay and -drain-spread.
func drainFlag(fs *flag.FlagSet, d, spread *time.Duration) {
	fs.DurationVar(d, "drain-delay", defaultDrainDelay, "on SIGTERM, how long /healthz answers 503 \"draining\" (and new WebSockets are refused with 503) while the server still serves its connections, before it closes them (4010: reconnect with jitter) and exits; at least a load balancer's fall × check interval plus one interval; 0 stops at once. SIGINT never drains")
	fs.DurationVar(spread, "drain-spread", defaultDrainSpread, "after -drain-delay, the live connections' closes are spread evenly over 1 ms per connection, at most this long, so that their reconnects reach the other nodes at a steady rate; 0 closes them all at once")
}

// signals is main's context: it ends at the first SIGTERM or SIGINT, with
// errTerminated or errInterrupted as its cause. The handler is removed
// then, so a second signal ends the process at once (in the middle of a
// drain, say).
func signals() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	go func() {
		defer signal.Stop(ch)
		select {
		case s := <-ch:
			if s == syscall.SIGTERM {
				cancel(errTerminated)
			} else {
				cancel(errInterrupted)
			}
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// drainer stops the server's components when outer ends: at once, unless
// outer ended with errTerminated and the server is serving, when it drains
// first (server.Drain, then delay). The components' context is a child of
// context.WithoutCancel(outer) that stop ends.
type drainer struct {
	delay  time.Duration
	spread time.Duration // after delay, the live connections' closes are spread over up to this
	log    *slog.Logger
	srv    chan *server.Server // the server once it serves; buffered, one
}

func newDrainer(delay, spread time.Duration, log *slog.Logger) *drainer {
	return &drainer{delay: delay, spread: spread, log: log, srv: make(chan *server.Server, 1)}
}

// serving tells the drainer the server to drain from now on.
func (d *drainer) serving(s *server.Server) { d.srv <- s }

// run waits for outer to end, drains if it should, then calls stop; it
// returns early, calling nothing, when ctx (the components') ends first.
func (d *drainer) run(ctx, outer context.Context, stop func()) error {
	var srv *server.Server
	select {
	case <-ctx.Done():
		return nil
	case <-outer.Done():
	case srv = <-d.srv:
		select {
		case <-ctx.Done():
			return nil
		case <-outer.Done():
		}
	}
	if srv == nil {
		select {
		case srv = <-d.srv:
		default:
		}
	}
	if srv != nil && d.delay > 0 && errors.Is(context.Cause(outer), errTerminated) {
		srv.Drain()
		d.log.Info("draining: /healthz answers 503; closing connections after the drain delay", "delay", d.delay, "spread", d.spread)
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
			if d.spread > 0 {
				n, w := srv.CloseSpread(ctx, d.spread)
				d.log.Info("drained: connections closed", "conns", n, "over", w)
			}
		case <-ctx.Done():
			t.Stop()
		}
	}
	stop()
	return nil
}

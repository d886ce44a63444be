package wsgate

import (
	"fmt"
	"net"
	"testing"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
)

// flushGateway is a gateway without an HTTP server, for the tests and
// benchmarks that drive its flushers through loopbackConns: pacing off
// (every connection writes each event at once, one frame per event), its
// own hub, metrics and stages unless cfg has them. Its flushers are stopped
// when the test ends.
func flushGateway(tb testing.TB, cfg Config) *Gateway {
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Hub == nil {
		cfg.Hub = hub.New(hub.Config{Metrics: cfg.Metrics})
	}
	if cfg.Stages == nil {
		cfg.Stages = metrics.NewStages(cfg.Metrics, 0)
	}
	cfg.FrameBudget = -1
	g := New(cfg)
	tb.Cleanup(func() {
		for _, f := range g.flushers {
			f.stop()
		}
		g.flushing.Wait()
	})
	return g
}

// loopbackConns makes n open connections of g, of tenant demo, over
// loopback TCP, each given a flusher in turn, and their peers' ends; tune,
// if not nil, sets up connection i before it starts writing. Everything is
// closed when the test ends, before g's flushers stop.
func loopbackConns(tb testing.TB, g *Gateway, n int, tune func(i int, c *conn, peer net.Conn)) ([]*conn, []net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	conns, peers := make([]*conn, n), make([]net.Conn, n)
	for i := range conns {
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { peer.Close() })
		nc, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { nc.Close() })
		c := &conn{g: g, nc: nc, id: fmt.Sprint("c", i)}
		c.tenant = "demo"
		c.out, c.net = newOutbox(g.cfg.QueueBytes, &g.m), newHeldWriter(nc)
		c.fl = g.flushers[i%len(g.flushers)]
		if tune != nil {
			tune(i, c, peer)
		}
		c.life.Store(open)
		c.startWriting()
		conns[i], peers[i] = c, peer
	}
	return conns, peers
}

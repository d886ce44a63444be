package server

import (
	"net"
	"net/http"
	"sync"

	"github.com/telltale/telltale/backend/metrics"
)

// connStates counts the HTTP server's open connections by state
// (http.Server.ConnState): new (accepted, no request read yet), active
// (serving a request) and idle (keep-alive, between requests). A hijacked
// connection (a WebSocket) leaves them: the gateway counts it.
//
// net/http may report a connection closed twice (Shutdown closing it idle,
// then its own goroutine), so each connection's state is kept to count
// every transition once.
type connStates struct {
	opened *metrics.Value
	gauges map[http.ConnState]*metrics.Value

	mu sync.Mutex
	of map[net.Conn]http.ConnState
}

func newConnStates(r *metrics.Registry) *connStates {
	cs := &connStates{
		opened: r.Counter("telltale_http_connections_total", "HTTP connections accepted"),
		gauges: make(map[http.ConnState]*metrics.Value),
		of:     make(map[net.Conn]http.ConnState),
	}
	for _, st := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle} {
		cs.gauges[st] = r.Gauge(metrics.Labeled("telltale_http_connections", "state", st.String()),
			"open HTTP connections by state: new (no request yet), active (serving one), idle (keep-alive between requests); WebSockets are counted by telltale_ws_connections")
	}
	return cs
}

// track is the http.Server's ConnState hook.
func (cs *connStates) track(c net.Conn, st http.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if prev, ok := cs.of[c]; ok {
		cs.gauges[prev].Add(-1)
	}
	g, counted := cs.gauges[st]
	if !counted { // closed or hijacked
		delete(cs.of, c)
		return
	}
	if st == http.StateNew {
		cs.opened.Inc()
	}
	cs.of[c] = st
	g.Inc()
}

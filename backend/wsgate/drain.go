package wsgate

import (
	"context"
	"net/http"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// DrainPace is the time a drain gives each connection when it spreads
// their closes (SpreadWindow): 1,000 reconnects a second for the other
// nodes to resume, against the whole node's clients at once within the
// clients' 250 ms jitter (10k clients: 4,000 reconnects in each 100 ms).
const DrainPace = time.Millisecond

// SpreadWindow is how long a drain spreads the closes of n connections
// over: n × DrainPace, at most max.
func SpreadWindow(n int, max time.Duration) time.Duration {
	return min(time.Duration(n)*DrainPace, max)
}

// Drain makes the gateway refuse new upgrades with 503 "draining" while
// its connections stay open, until Shutdown. A load balancer that never
// asks /healthz (open-source nginx) still sends a draining node new
// WebSockets, and the clients a drain closes reconnect through it: the 503
// makes it retry each on another node (proxy_next_upstream http_503) and
// leave this one out (max_fails), instead of the node taking a client it is
// about to close again.
func (g *Gateway) Drain() {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
}

// refuseDraining answers an upgrade that came while draining.
func (g *Gateway) refuseDraining(w http.ResponseWriter) {
	g.m.drainRefused.Inc()
	w.Header().Set("Retry-After", "1")
	http.Error(w, "server is draining: reconnect to another node", http.StatusServiceUnavailable)
}

// Conns is how many WebSocket connections are open.
func (g *Gateway) Conns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// CloseSpread closes the connections open now evenly over window (first
// at once, last at window's end) as Shutdown does (an error frame
// restarting, then 4010), so that their reconnects reach the other nodes
// at a steady rate instead of all within the clients' jitter. It returns
// how many it closed, once the last close has started or ctx ended.
// Connections opened meanwhile (none once Drain refuses upgrades) are left
// to Shutdown.
func (g *Gateway) CloseSpread(ctx context.Context, window time.Duration) int {
	g.mu.Lock()
	batch := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		batch = append(batch, c)
	}
	g.mu.Unlock()
	if len(batch) == 0 {
		return 0
	}
	// One tick closes all that are due by then: a timer per connection
	// would wake 10k times in two seconds.
	const tick = 5 * time.Millisecond
	start := time.Now()
	closed := 0
	for closed < len(batch) {
		due := len(batch)
		if window > 0 {
			due = min(len(batch), 1+int(int64(len(batch)-1)*int64(time.Since(start))/int64(window)))
		}
		g.mu.Lock()
		for ; closed < due; closed++ {
			if c := batch[closed]; g.has(c) {
				g.restart(c)
			}
		}
		g.mu.Unlock()
		if closed == len(batch) {
			break
		}
		select {
		case <-ctx.Done():
			return closed
		case <-time.After(tick):
		}
	}
	return closed
}

// has says whether c is still open; g.mu held.
func (g *Gateway) has(c *conn) bool {
	_, ok := g.conns[c]
	return ok
}

// restart closes c because the node is stopping; g.mu held.
func (g *Gateway) restart(c *conn) {
	if c.principal() != nil {
		// Welcomed: a restarting error frame first, which a page
		// reads as a hand-over to another node (no "offline").
		c.leave(wire.CodeRestarting, closeRestart)
	} else {
		c.close(closeRestart)
	}
}

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/internal/poll"
)

// TestClusterBehindNginx: three nodes behind open-source nginx, which has
// no health checks: the rolling restart and kill -9 of clusterRestarts
// (50 native clients, every seq once, in order, no second snapshot, the
// aggregates the table makes). While each node drains, new WebSockets
// come through nginx: none may be accepted by the draining node (it
// answers 503, and nginx retries on another). nginx's access log must show
// no upgrade answered to a client with an error (until the test stops
// every node): each refusal, 503 from a draining node or a refused
// connect, was retried on another node.
func TestClusterBehindNginx(t *testing.T) {
	t.Parallel()
	c := newClusterBehind(t, 3, startNginx)
	type drainStart struct {
		node int
		at   time.Time
	}
	var drains []drainStart
	c.whileDraining = func(t *testing.T, i int) {
		// From when the node says it drains (it refuses upgrades first).
		poll.Until(t, 5*time.Second, func() error {
			res, err := http.Get(c.nodes[i].URL + "/healthz")
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != http.StatusServiceUnavailable {
				return fmt.Errorf("%s: /healthz %s, want 503 draining", c.name(i), res.Status)
			}
			return nil
		})
		drains = append(drains, drainStart{i, time.Now()})
		for range 6 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ws, _, err := websocket.Dial(ctx, "ws://"+c.lb.addr()+"/api/v1/ws", nil)
			cancel()
			if err != nil {
				t.Errorf("a new WebSocket through nginx while %s drains: %v", c.name(i), err)
				continue
			}
			ws.CloseNow()
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx's error log:\n%s", c.lb.(nginxLB).Stderr())
		}
	})
	clusterRestarts(t, c, nil)
	log, err := c.lb.(nginxLB).Log()
	if err != nil {
		t.Fatal(err)
	}
	upgrades, retried, failed := 0, map[string]int{}, 0
	for _, e := range log {
		if e.URI != "/api/v1/ws" {
			continue
		}
		upgrades++
		if e.Status != http.StatusSwitchingProtocols && e.At.Before(c.stopping) {
			failed++
			t.Errorf("nginx answered a client's upgrade %d after trying %v (%v)", e.Status, e.Upstreams, e.Statuses)
		}
		if e.Retried() {
			retried[e.Statuses[0]]++
		}
		if e.Status != http.StatusSwitchingProtocols || len(e.Upstreams) == 0 {
			continue
		}
		for _, d := range drains {
			if e.Upstreams[len(e.Upstreams)-1] == c.addrs[d.node] && !e.Start.Before(d.at) && e.Start.Before(d.at.Add(clusterDrain)) {
				t.Errorf("%s accepted a new WebSocket %v into its drain: nginx should have had a 503 and tried another node", c.name(d.node), e.Start.Sub(d.at))
			}
		}
	}
	t.Logf("nginx: %d upgrades ended, %d answered an error before every node stopped; retried on another node after a first answer of: %v (503: draining; 502: refused)", upgrades, failed, retried)
	if retried["503"] == 0 {
		t.Errorf("no upgrade was retried after a draining node's 503: the drains were never seen by nginx (%v)", retried)
	}
}

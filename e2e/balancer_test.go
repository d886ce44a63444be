//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/haproxy"
	"github.com/telltale/telltale/internal/nginx"
)

// balancer is the load balancer in front of a cluster's nodes.
type balancer interface {
	fmt.Stringer                // its name in failures
	addr() string               // host:port clients reach the nodes through
	url() string                // http://addr
	up(c *cluster, i int) error // nil once it may send node i new clients
	// checks says whether it asks each node's /healthz, so that out
	// tells when it took a draining node out.
	checks() bool
	out(c *cluster, i int) bool
}

// haproxyLB is HAProxy checking /healthz every 100 ms, down after 2 failures.
type haproxyLB struct{ *haproxy.Proxy }

func startHAProxy(t *testing.T, addrs []string) balancer {
	t.Helper()
	var servers []haproxy.Server
	for i, a := range addrs {
		servers = append(servers, haproxy.Server{Name: fmt.Sprintf("n%d", i+1), Addr: a})
	}
	lb, err := haproxy.Start(context.Background(), haproxy.Config{Servers: servers, Inter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	return haproxyLB{lb}
}

func (haproxyLB) String() string { return "HAProxy" }
func (h haproxyLB) addr() string { return h.Addr }
func (h haproxyLB) url() string  { return h.URL }
func (haproxyLB) checks() bool   { return true }

func (h haproxyLB) up(c *cluster, i int) error {
	st, err := h.Stats()
	if err != nil {
		return err
	}
	if s := st[c.name(i)]; s.Status != "UP" {
		return fmt.Errorf("%s is %q (check %s), want UP", c.name(i), s.Status, s.Check)
	}
	return nil
}

func (h haproxyLB) out(c *cluster, i int) bool {
	st, err := h.Stats()
	return err == nil && st[c.name(i)].Down()
}

// nginxLB is open-source nginx: no health checks; a node that refuses a
// connection or answers 503 (draining) is retried on another and left out
// for 1 s (max_fails=1 fail_timeout=1s).
type nginxLB struct{ *nginx.Proxy }

func startNginx(t *testing.T, addrs []string) balancer {
	t.Helper()
	lb, err := nginx.Start(context.Background(), nginx.Config{Servers: addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	return nginxLB{lb}
}

func (nginxLB) String() string             { return "nginx" }
func (n nginxLB) addr() string             { return n.Addr }
func (n nginxLB) url() string              { return n.URL }
func (nginxLB) checks() bool               { return false }
func (nginxLB) out(c *cluster, i int) bool { return false }

// up: nginx has no view to read; it tries a node again once fail_timeout
// has passed, so what matters is that the node answers /healthz 200.
func (nginxLB) up(c *cluster, i int) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	res, err := hc.Get(c.nodes[i].URL + "/healthz")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: /healthz %s, want 200", c.name(i), res.Status)
	}
	return nil
}

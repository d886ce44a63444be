//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/auth"
	ingestapi "github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// clusterDashboard is the pages' dashboard: KPIs of raw streams and of an
// aggregate (revenue today over the sales rows), which the leader computes
// into its derived stream and every node serves with the same seqs.
const clusterDashboard = `{"id": "cluster", "title": "Cluster", "panels": [
	{"id": "rate", "kind": "kpi", "title": "Rate", "stream": "metrics", "field": "n", "width": 4},
	{"id": "marker", "kind": "kpi", "title": "Marker", "stream": "marker", "field": "v", "width": 4},
	{"id": "rev", "kind": "kpi", "title": "Revenue today", "width": 4,
	 "agg": {"source": "sales", "fn": "sum", "field": "total", "window": "today"}}]}`

// clusterRevenue is the definition of the dashboard's aggregate;
// clusterM4 the m4 series (1 s buckets) of the cpu points the clients ask for.
var clusterRevenue = agg.Def{Source: "sales", Fn: "sum", Field: "total", Window: "today"}

const (
	clusterM4      = "m4.1000.cpu"
	clusterM4Width = 1000
)

// clusterDrain is the nodes' -drain-delay: HAProxy (checks every 100 ms,
// down after 2 failures) takes a draining node out within ~300 ms.
const clusterDrain = 1500 * time.Millisecond

// cluster is nodes of the real binary on one PostgreSQL database behind a
// real load balancer (balancer_test.go: HAProxy or nginx).
type cluster struct {
	env   []string
	db    *pgtest.DB
	args  []string
	addrs []string
	nodes []*server
	lb    balancer
	key   string // ingest key of tenant demo
	// stopping is when stopAll stopped every node: clients reconnecting
	// from then on find none.
	stopping time.Time
	// whileDraining, when set, runs as drain's node i has just been sent
	// SIGTERM.
	whileDraining func(t *testing.T, i int)
}

// newCluster is n nodes behind HAProxy.
func newCluster(t *testing.T, n int) *cluster { return newClusterBehind(t, n, startHAProxy) }

// newClusterBehind is n nodes behind the balancer start starts.
func newClusterBehind(t *testing.T, n int, start func(t *testing.T, addrs []string) balancer) *cluster {
	t.Helper()
	db := pgtest.New(t)
	dash := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(dash, []byte(clusterDashboard), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cluster{db: db, env: []string{"DATABASE_URL=" + db.DSN},
		// Every client reaches the nodes from HAProxy's one address: no
		// per-address connection rate here.
		args: []string{"-demo=false", "-dashboards", dash, "-drain-delay", clusterDrain.String(), "-conn-rate", "-1", "-max-unauth-per-addr", "1024",
			// A lost leader's lock is taken over within 200 ms.
			"-leader-retry", "200ms"}}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.addrs = append(c.addrs, ln.Addr().String())
		ln.Close()
		// One after the other: the first migrates the database.
		c.nodes = append(c.nodes, startServerEnvAt(t, c.env, c.addrs[i], c.args...))
	}
	c.lb = start(t, c.addrs)
	for i := range n {
		c.waitUp(t, i)
	}
	c.key = ingestKey(t, c.env, "demo")
	return c
}

func (c *cluster) name(i int) string { return fmt.Sprintf("n%d", i+1) }

// leader waits until exactly one running node's /healthz says it leads
// and returns it; skip lists nodes not running.
func (c *cluster) leader(t *testing.T, skip ...int) int {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	who := -1
	poll.Until(t, 15*time.Second, func() error {
		var leaders []int
		for i, s := range c.nodes {
			if slices.Contains(skip, i) {
				continue
			}
			res, err := hc.Get(s.URL + "/healthz")
			if err != nil {
				return fmt.Errorf("%s: %v", c.name(i), err)
			}
			var h struct {
				Leader *bool `json:"leader"`
			}
			err = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			if err != nil || h.Leader == nil {
				return fmt.Errorf("%s: /healthz has no leader field (%v)", c.name(i), err)
			}
			if *h.Leader {
				leaders = append(leaders, i)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("nodes leading: %v, want exactly one", leaders)
		}
		who = leaders[0]
		return nil
	})
	return who
}

// waitUp waits for the balancer to have node i in rotation.
func (c *cluster) waitUp(t *testing.T, i int) {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error { return c.lb.up(c, i) })
}

// drain stops node i with SIGTERM and fails the test unless it exited 0
// and, behind a balancer that checks /healthz (HAProxy), the balancer
// marked it down while it still ran (its /healthz said draining).
func (c *cluster) drain(t *testing.T, i int) {
	t.Helper()
	s := c.nodes[i]
	s.once.Do(func() {
		sent := time.Now()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		if c.whileDraining != nil {
			c.whileDraining(t, i)
		}
		down := time.Duration(-1)
		checks := c.lb.checks()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		limit := time.NewTimer(20 * time.Second)
		defer limit.Stop()
		for {
			select {
			case err := <-done:
				exited := time.Since(sent)
				if !checks {
					t.Logf("%s exited %v after SIGTERM (%s does not check /healthz)", c.name(i), exited.Round(time.Millisecond), c.lb)
				} else if down < 0 {
					t.Errorf("%s exited %v after SIGTERM before HAProxy marked it down: its clients were sent back to it", c.name(i), exited)
				}
				if err != nil {
					t.Errorf("%s exited with %v after SIGTERM; stderr:\n%s", c.name(i), err, s.stderr)
				}
				if down >= 0 {
					t.Logf("%s: %s marked it down %v after SIGTERM; it exited after %v", c.name(i), c.lb, down.Round(time.Millisecond), exited.Round(time.Millisecond))
				}
				return
			case <-tick.C:
			case <-limit.C:
				_ = s.cmd.Process.Kill()
				t.Fatalf("%s still running 20 s after SIGTERM", c.name(i))
			}
			if checks && down < 0 && c.lb.out(c, i) {
				down = time.Since(sent)
			}
		}
	})
}

// stopAll stops the nodes still running at once, with SIGINT (no drain:
// the test is over), each required to exit 0.
func (c *cluster) stopAll(t *testing.T) {
	t.Helper()
	c.stopping = time.Now()
	var wg sync.WaitGroup
	for i, s := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.once.Do(func() {
				_ = s.cmd.Process.Signal(os.Interrupt)
				if err := s.cmd.Wait(); err != nil {
					t.Errorf("%s exited with %v after SIGINT; stderr:\n%s", c.name(i), err, s.stderr)
				}
			})
		}()
	}
	wg.Wait()
}

// restart starts node i again on its address and waits until HAProxy has
// it back.
func (c *cluster) restart(t *testing.T, i int) {
	t.Helper()
	c.nodes[i] = startServerEnvAt(t, c.env, c.addrs[i], c.args...)
	c.waitUp(t, i)
}

// ingestAt posts events to base's ingest API; it reports whether they were
// acknowledged.
func (c *cluster) ingestAt(hc *http.Client, base string, evs ...ingestapi.Event) bool {
	body, _ := json.Marshal(ingestapi.Request{Events: evs})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// lastSeqs is every stream's last seq in the database.
func (c *cluster) lastSeqs(t *testing.T) map[string]uint64 {
	t.Helper()
	rows, err := c.db.Pool.Query(context.Background(), `SELECT stream, last_seq FROM telltale.streams WHERE tenant = 'demo'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = uint64(n)
	}
	return out
}

// mint is an operator token of tenant demo for sub with role.
func mint(t *testing.T, sub, role string) string {
	t.Helper()
	keys, err := auth.HS256([]byte(e2eSecret))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Mint("demo", sub, time.Hour, nil, role)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// follower is a native client (the runtime the pages use) with a checker
// of every seq it applies.
type follower struct {
	c      *client.Client
	mu     sync.Mutex
	last   map[string]uint64
	snaps  map[string]int
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func follow(t *testing.T, url, tok string, streams ...string) *follower {
	f := &follower{last: map[string]uint64{}, snaps: map[string]int{}, done: make(chan struct{})}
	f.c = client.New(client.Config{URL: url, Token: tok, Streams: streams, Limits: livestate.Limits{Points: 100_000},
		Trace: func(stream string, _, seq uint64, snapshot bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if snapshot {
				f.snaps[stream]++
			} else if seq != f.last[stream]+1 && f.err == nil {
				f.err = fmt.Errorf("%s: applied %d after %d", stream, seq, f.last[stream])
			}
			f.last[stream] = seq
		}})
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { defer close(f.done); _ = f.c.Run(ctx) }()
	t.Cleanup(f.stop)
	return f
}

func (f *follower) stop() {
	f.cancel()
	<-f.done
}

func (f *follower) info() (i client.Info) {
	f.c.Read(func(_ map[string]*livestate.Stream, in client.Info) { i = in })
	return i
}

// TestCluster runs three nodes on one PostgreSQL behind HAProxy, shared by
// its subtests (in order: each leaves the cluster whole for the next, the
// last kills a node).
func TestCluster(t *testing.T) {
	c := newCluster(t, 3)
	b := newBrowser(t)
	t.Run("RevokeClosesEveryNode", func(t *testing.T) { clusterRevoke(t, c) })
	t.Run("IngestOnOneNodePaintedOnAnother", func(t *testing.T) { clusterPaint(t, c, b) })
	t.Run("RollingRestartAndKillLoseNothing", func(t *testing.T) { clusterRestarts(t, c, b) })
}

// clusterRevoke: an admin revokes operator bob on node 1; bob's live
// connections on nodes 2 and 3 close (signed out) within 5 s: every node
// reads the revocations from PostgreSQL.
func clusterRevoke(t *testing.T, c *cluster) {
	bob := mint(t, "bob", "viewer")
	var fs []*follower
	for _, i := range []int{1, 2} {
		fs = append(fs, follow(t, "ws://"+c.addrs[i]+"/api/v1/ws", bob, "metrics"))
	}
	for k, f := range fs {
		poll.Until(t, 15*time.Second, func() error {
			if st := f.info().Status; st != client.Live {
				return fmt.Errorf("bob on %s: %v, want live", c.name(k+1), st)
			}
			return nil
		})
	}
	body := `{"sub": "bob"}`
	req, _ := http.NewRequest(http.MethodPost, c.nodes[0].URL+"/api/v1/revoke", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+mint(t, "alice", "admin"))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("revoke on %s: %s", c.name(0), res.Status)
	}
	revoked := time.Now()
	for k, f := range fs {
		poll.Until(t, 15*time.Second, func() error {
			if st := f.info().Status; st != client.SignedOut {
				return fmt.Errorf("bob on %s: %v %v after the revocation, want signed out", c.name(k+1), st, time.Since(revoked).Round(time.Millisecond))
			}
			return nil
		})
		took := time.Since(revoked)
		t.Logf("bob's connection on %s closed %v after the revocation on %s", c.name(k+1), took.Round(time.Millisecond), c.name(0))
		if timing.Over(t, took, 5*time.Second) {
			t.Fatalf("bob's connection on %s closed %v after the revocation, over 5 s", c.name(k+1), took)
		}
	}
}

// clusterPaint: an event ingested on node 2 is painted by a page connected
// to node 3 within a second (the bound of a live dashboard).
func clusterPaint(t *testing.T, c *cluster, b *rod.Browser) {
	p := b.MustIncognito().MustPage("")
	openLive(t, p, c.nodes[2].URL)
	kpi := `() => { const e = document.getElementById("kpi-marker"); return e ? e.textContent : "" }`
	hc := &http.Client{Timeout: 5 * time.Second}
	for v := 1; v <= 3; v++ {
		want := fmt.Sprint(1000 + v)
		sent := time.Now()
		if !c.ingestAt(hc, c.nodes[1].URL, ingestapi.Event{Stream: "marker", Values: map[string]float64{"v": float64(1000 + v)}}) {
			t.Fatalf("ingest on %s refused", c.name(1))
		}
		poll.Until(t, 10*time.Second, func() error {
			if got := eval(t, p, kpi).Str(); !strings.Contains(strings.ReplaceAll(got, ",", ""), want) {
				return fmt.Errorf("the marker KPI on %s shows %q, want %s", c.name(2), got, want)
			}
			return nil
		})
		took := time.Since(sent)
		t.Logf("ingested on %s, painted on %s after %v (polled every 50 ms)", c.name(1), c.name(2), took.Round(time.Millisecond))
		if timing.Over(t, took, time.Second) {
			t.Fatalf("ingest on %s to paint on %s took %v, over 1 s", c.name(1), c.name(2), took)
		}
	}
}

// clusterRestarts: 50 native clients through the balancer, each on two of
// four raw streams, the dashboard's aggregate (revenue today) and an m4
// series, and (b not nil) a page with an aggregate panel, while a producer
// publishes through the balancer; a rolling restart of the nodes (SIGTERM:
// drained, then started again; the leader among them), then kill -9 of the
// node leading at that moment. HAProxy marks each draining node down
// before it stops; the page's badge never shows worse than "catching up";
// every client ends with every seq of its streams exactly once, in order,
// with no snapshot after its first, and holds the aggregate values the
// events table makes.
func clusterRestarts(t *testing.T, c *cluster, b *rod.Browser) {
	streams := []string{"metrics", "orders", "fleet", "load"}
	revenue := compile(t, clusterRevenue)
	derived := []string{revenue, clusterM4}
	hc := &http.Client{Timeout: 2 * time.Second}
	one := func(n int) []ingestapi.Event {
		evs := make([]ingestapi.Event, len(streams), len(streams)+2)
		for i, s := range streams {
			evs[i] = ingestapi.Event{Stream: s, Values: map[string]float64{"n": float64(n)}}
		}
		// A sale (revenue today) and a cpu point (its m4 series), values
		// that vary so the sums and the buckets' min and max mean something.
		return append(evs,
			ingestapi.Event{Stream: "sales", Row: &wire.Row{Key: fmt.Sprint("s", n), Fields: map[string]any{"total": n%7 + 1}}},
			ingestapi.Event{Stream: "cpu", Points: &wire.Points{TS: []int64{time.Now().UnixMilli()}, Cols: []wire.Column{{Name: "a", Vals: []float64{float64(n * 37 % 101)}}}}})
	}
	// The streams exist before anyone follows them (the page's marker too,
	// when this subtest runs alone: a stream that does not exist is sent a
	// fresh, empty snapshot at each connection). The derived ones too: the
	// leader computes revenue once sales has an event; the m4 series once
	// someone asks for it (one client, through HAProxy, whichever node).
	if !c.ingestAt(hc, c.lb.url(), append(one(0), ingestapi.Event{Stream: "marker", Values: map[string]float64{"v": 0}})...) {
		t.Fatal("first ingest through HAProxy refused")
	}
	tok := token(t, "demo")
	asker := follow(t, "ws://"+c.lb.addr()+"/api/v1/ws", tok, clusterM4)
	poll.Until(t, 20*time.Second, func() error {
		last := c.lastSeqs(t)
		for _, s := range derived {
			if last[s] == 0 {
				return fmt.Errorf("derived stream %s not written yet", s)
			}
		}
		return nil
	})
	asker.stop()
	var fs []*follower
	for k := range 50 {
		fs = append(fs, follow(t, "ws://"+c.lb.addr()+"/api/v1/ws", tok, streams[k%4], streams[(k+1)%4], revenue, clusterM4))
	}
	var p *rod.Page // b nil: no page
	if b != nil {
		p = b.MustIncognito().MustPage("")
		openLive(t, p, c.lb.url())
	}
	for k, f := range fs {
		poll.Until(t, 20*time.Second, func() error {
			if st := f.info().Status; st != client.Live {
				return fmt.Errorf("client %d: %v, want live", k, st)
			}
			return nil
		})
	}
	var before pageStats
	if p != nil {
		before = stats(t, p)
	}

	// The producer: through the balancer, every 20 ms, one event per stream; a
	// refused or failed post is simply not acknowledged.
	var acked, failed atomic.Int64
	pctx, pstop := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			if c.ingestAt(hc, c.lb.url(), one(n)...) {
				acked.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}()
	defer func() { pstop(); <-pdone }()

	// The page's badge, sampled every 50 ms while the nodes restart.
	var (
		smu  sync.Mutex
		seen = map[string]int{}
	)
	sctx, sstop := context.WithCancel(context.Background())
	sdone := make(chan struct{})
	go func() {
		defer close(sdone)
		for p != nil && sctx.Err() == nil {
			if v, err := p.Eval(`() => window.telltaleStats ? JSON.parse(window.telltaleStats()).status : ""`); err == nil {
				smu.Lock()
				seen[v.Value.Str()]++
				smu.Unlock()
			}
			select {
			case <-sctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	flowing := func(n int64) {
		t.Helper()
		from := acked.Load()
		poll.Until(t, 10*time.Second, func() error {
			if got := acked.Load() - from; got < n {
				return fmt.Errorf("%d posts acknowledged, want %d", got, n)
			}
			return nil
		})
	}
	flowing(10) // events flowing before the first restart
	ledDrained := 0
	for i := range c.nodes {
		l := c.leader(t)
		t.Logf("draining %s; %s leads", c.name(i), c.name(l))
		if l == i {
			ledDrained++
		}
		c.drain(t, i)
		c.restart(t, i)
	}
	if ledDrained == 0 {
		t.Errorf("no node was leading when it was drained: the rolling restart never moved the lock")
	}
	sstop()
	<-sdone
	if p != nil {
		t.Logf("the page's status during the rolling restart (samples): %v", seen)
	}
	for st := range seen {
		if st != "live" && st != "catching up" {
			t.Errorf("the page showed %q during the rolling restart; want live or catching up only", st)
		}
	}

	// kill -9 of the leader: its clients reconnect through HAProxy, which
	// retries another node until its check marks the dead one down; another
	// node takes the lock and goes on with the derived streams.
	dead := c.leader(t)
	killed := time.Now()
	c.nodes[dead].kill(t)
	next := c.leader(t, dead)
	t.Logf("killed %s (the leader) with -9; %s led %v later", c.name(dead), c.name(next), time.Since(killed).Round(time.Millisecond))
	flowing(20) // and after it
	pstop()
	<-pdone

	// What the events table makes of the aggregates (the producer has
	// stopped: the table is final), and what every client must end with.
	wantM4 := m4Reference(t, c.db, "demo", "cpu", clusterM4Width)
	var wantRevenue float64
	if err := c.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum((body->'row'->'fields'->>'total')::float8), 0) FROM telltale.events
		WHERE tenant = 'demo' AND stream = 'sales' AND ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`).Scan(&wantRevenue); err != nil {
		t.Fatal(err)
	}
	for k, f := range fs {
		poll.Until(t, 30*time.Second, func() error {
			var err error
			f.c.Read(func(sts map[string]*livestate.Stream, _ client.Info) {
				rev, m4 := sts[revenue], sts[clusterM4]
				if rev == nil || m4 == nil {
					err = fmt.Errorf("client %d lacks a derived stream", k)
					return
				}
				if v := rev.State.Values[agg.Value]; v != wantRevenue {
					err = fmt.Errorf("client %d: revenue today %v, the table sums %v", k, v, wantRevenue)
					return
				}
				var got map[int64]m4Bucket
				if got, err = m4Held(m4, clusterM4Width); err != nil {
					err = fmt.Errorf("client %d: %s: %v", k, clusterM4, err)
					return
				}
				if len(got) != len(wantM4) {
					err = fmt.Errorf("client %d: %d m4 buckets, the table makes %d", k, len(got), len(wantM4))
					return
				}
				for b, w := range wantM4 {
					if got[b] != w {
						err = fmt.Errorf("client %d: m4 bucket %d is %+v, the table makes %+v", k, b, got[b], w)
						return
					}
				}
			})
			return err
		})
	}
	// The derived streams' last emits are in: every stream's head is final.
	final := c.lastSeqs(t)
	t.Logf("producer: %d posts acknowledged, %d refused or failed; streams end at %v; revenue today %v and %d m4 buckets as the table makes them",
		acked.Load(), failed.Load(), final, wantRevenue, len(wantM4))
	for k, f := range fs {
		poll.Until(t, 30*time.Second, func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.err != nil {
				return nil // reported below
			}
			for s := range f.snaps {
				if f.last[s] != final[s] {
					return fmt.Errorf("client %d: %s at %d, want %d", k, s, f.last[s], final[s])
				}
			}
			return nil
		})
		f.mu.Lock()
		err, snaps := f.err, maps.Clone(f.snaps)
		f.mu.Unlock()
		if err != nil {
			t.Fatalf("client %d: %v", k, err)
		}
		want := map[string]int{streams[k%4]: 1, streams[(k+1)%4]: 1, revenue: 1, clusterM4: 1}
		if !maps.Equal(snaps, want) {
			t.Fatalf("client %d: snapshots %v, want %v: one each at the start, none after", k, snaps, want)
		}
	}
	var resumes, reconnects int
	for _, f := range fs {
		i := f.info()
		resumes += i.Resumes
		reconnects += i.Reconnects
	}
	t.Logf("50 clients: %d reconnects, %d streams resumed, every seq once and in order, no second snapshot", reconnects, resumes)
	if p == nil {
		c.stopAll(t)
		return
	}
	poll.Until(t, 30*time.Second, func() error {
		s := stats(t, p)
		for _, st := range []string{"metrics", revenue} {
			if s.Streams[st].Seq != final[st] {
				return fmt.Errorf("page: %s at %d, want %d", st, s.Streams[st].Seq, final[st])
			}
		}
		if kpi := eval(t, p, `() => { const e = document.getElementById("kpi-rev"); return e ? e.textContent : "" }`).Str(); !strings.Contains(strings.ReplaceAll(kpi, ",", ""), fmt.Sprint(wantRevenue)) {
			return fmt.Errorf("page: the revenue panel shows %q, the table sums %v", kpi, wantRevenue)
		}
		return nil
	})
	after := stats(t, p)
	if after.Breaks != 0 || after.Snapshots != before.Snapshots {
		t.Fatalf("page: %d breaks, snapshots %d → %d: a gap in its store", after.Breaks, before.Snapshots, after.Snapshots)
	}
	t.Logf("page: %d reconnects, %d resumes, no break, no second snapshot; its revenue panel live to seq %d", after.Reconnects, after.Resumes, final[revenue])
	c.stopAll(t)
}

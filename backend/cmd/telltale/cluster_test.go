package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/alert"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

const (
	clusterSecret   = "0123456789abcdef0123456789abcdef"
	clusterMetrics  = "metrics-token-0123456789"
	clusterDashJSON = `[{"id": "orders", "title": "Orders", "panels": [
  {"id": "per-second", "kind": "timeseries", "title": "Orders per second by region",
   "agg": {"source": "orders", "fn": "count", "group_by": "region", "window": "1s"}, "series": ["eu", "us", "apac"]}]}]`
)

// clusterNode is one server of a test's cluster on one database.
type clusterNode struct {
	base string // http://127.0.0.1:port/
	stop func()
}

// startNodes starts n servers on db, one after another, retrying the
// leader lock every 100ms, with dashboards (a JSON spec file's content) as
// their built-in dashboards and extra flags.
func startNodes(t *testing.T, db *pgtest.DB, n int, dashboards string, extra ...string) []*clusterNode {
	t.Helper()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboards.json")
	if err := os.WriteFile(file, []byte(dashboards), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": db.DSN, "XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": clusterSecret}
	getenv := func(k string) string { return env[k] }
	var out []*clusterNode
	for range n {
		cfg, err := parse(append([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "error",
			"-leader-retry", "100ms", "-metrics-token", clusterMetrics, "-dashboards", file}, extra...), getenv, io.Discard, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		base, stop := startServer(t, cfg, getenv)
		out = append(out, &clusterNode{base: base, stop: stop})
	}
	return out
}

// leads is what the node's /healthz says of its leadership.
func (n *clusterNode) leads(t *testing.T) bool {
	t.Helper()
	res, err := http.Get(n.base + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	l, ok := body["leader"].(bool)
	if !ok {
		t.Fatalf("/healthz %v has no leader", body)
	}
	return l
}

// metric is a value of the node's /metrics.
func (n *clusterNode) metric(t *testing.T, name string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.base+"metrics", nil)
	req.Header.Set("Authorization", "Bearer "+clusterMetrics)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// theLeader waits until exactly one node leads and returns it.
func theLeader(t *testing.T, nodes []*clusterNode) *clusterNode {
	t.Helper()
	var l *clusterNode
	poll.Until(t, 10*time.Second, func() error {
		var ls []*clusterNode
		for _, n := range nodes {
			if n.leads(t) {
				ls = append(ls, n)
			}
		}
		if len(ls) != 1 {
			return fmt.Errorf("%d nodes lead, want 1", len(ls))
		}
		l = ls[0]
		return nil
	})
	return l
}

// switchProxy forwards TCP connections to a node the test picks, as a load
// balancer does: switching closes the connections to the old one, and the
// clients reconnect to the new.
type switchProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			b, err := net.Dial("tcp", p.target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.switchTo("") })
	return p
}

func (p *switchProxy) switchTo(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func hostOf(base string) string {
	return strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
}

// m4Buckets is an m4 series' buckets: first, min, max, last.
type m4Buckets map[int64][4]float64

// m4FromTable computes series a's m4 buckets of width ms from the events
// table: what one server that never stopped would show.
func m4FromTable(t *testing.T, db *pgtest.DB, tenant, stream string, width int64) m4Buckets {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT body FROM telltale.events WHERE tenant = $1 AND stream = $2 ORDER BY seq`, tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := m4Buckets{}
	for rows.Next() {
		var raw []byte
		var body struct{ Points wire.Points }
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		a := body.Points.Col("a")
		for i, ts := range body.Points.TS {
			b, v := ts-ts%width, a[i]
			cur, ok := out[b]
			if !ok {
				cur = [4]float64{v, v, v, v}
			}
			cur[1], cur[2], cur[3] = math.Min(cur[1], v), math.Max(cur[2], v), v
			out[b] = cur
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// m4Of reads the buckets a client holds: four points per bucket, first, min
// and max in the order they happened, last.
func m4Of(st *livestate.Stream, width int64) (m4Buckets, error) {
	p := livestate.Aligned(&st.State.Points)
	a := p.Col("a")
	vals := map[int64][]float64{}
	for i, ts := range p.TS {
		vals[ts-ts%width] = append(vals[ts-ts%width], a[i])
	}
	out := m4Buckets{}
	for b, vs := range vals {
		if len(vs) != 4 {
			return nil, fmt.Errorf("bucket %d holds %d points, want 4", b, len(vs))
		}
		out[b] = [4]float64{vs[0], math.Min(vs[1], vs[2]), math.Max(vs[1], vs[2]), vs[3]}
	}
	return out, nil
}

// TestClusterComputesDerivedStreamsOnce: two servers on one database. One
// leads (/healthz, telltale_leader) and only it writes derived events; a
// native client follows a dashboard's aggregate and a page's m4 series
// through a switching proxy on the leader while a producer writes. The
// leader's lock connection is ended (pg_terminate_backend, what PostgreSQL
// does when the process dies) and the proxy moves the client to the other
// node: that node leads within a few retries, the old one stops writing at
// once, and the client resumes both derived streams from its cursors with
// no second snapshot and no break in their seqs, its m4 buckets equal to
// what the events table makes. Then a page asking the new follower for an
// m4 series gets it computed by the leader.
func TestClusterComputesDerivedStreamsOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	nodes := startNodes(t, db, 2, clusterDashJSON)
	first := theLeader(t, nodes)
	second := nodes[0]
	if second == first {
		second = nodes[1]
	}
	if first.metric(t, "telltale_leader") != 1 || second.metric(t, "telltale_leader") != 0 {
		t.Fatal("telltale_leader does not say who leads")
	}

	const (
		width = 1000
		m4    = "m4.1000.cpu"
	)
	perSecond, err := agg.Compile(agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{m4, perSecond.Stream()}

	// The producer writes to the table directly, as any node's ingest would.
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	regions := []string{"eu", "us", "apac"}
	stopProducing, produced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now().UnixMilli()
			err := pub.AppendAll(ctx, "acme", map[string][]wire.Event{
				"cpu":    {{Points: &wire.Points{TS: []int64{now}, Cols: []wire.Column{{Name: "a", Vals: []float64{float64(i % 97)}}}}}},
				"orders": {{Row: &wire.Row{Key: fmt.Sprint("o", i), Fields: map[string]any{"region": regions[i%3]}}}},
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stopProducing:
		default:
			close(stopProducing)
		}
		<-produced
	}()

	keys, _ := auth.HS256([]byte(clusterSecret))
	tok, err := keys.Mint("acme", "alice", time.Hour, []string{"cpu", "orders"}, "")
	if err != nil {
		t.Fatal(err)
	}
	proxy := newSwitchProxy(t, hostOf(first.base))
	var (
		mu        sync.Mutex
		last      = map[string]uint64{}
		breaks    = map[string]int{}
		snapshots = map[string]int{}
	)
	c := client.New(client.Config{URL: "ws://" + proxy.ln.Addr().String() + "/api/v1/ws", Streams: streams, Token: tok,
		Limits: livestate.Limits{Points: 100_000}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Trace: func(stream string, _, seq uint64, snapshot bool) {
			mu.Lock()
			defer mu.Unlock()
			if snapshot {
				snapshots[stream]++
			} else if seq != last[stream]+1 {
				breaks[stream]++
			}
			last[stream] = seq
		}})
	cctx, cancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = c.Run(cctx) }()
	defer func() { cancel(); <-ran }()
	seqAtLeast := func(stream string, n uint64) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if last[stream] < n {
				return fmt.Errorf("client at seq %d of %s, want %d", last[stream], stream, n)
			}
			return nil
		}
	}
	for _, s := range streams {
		poll.Until(t, 20*time.Second, seqAtLeast(s, 4))
	}
	// Only the leader computes and writes.
	if n := second.metric(t, "telltale_agg_emitted_events_total"); n != 0 {
		t.Fatalf("the follower wrote %v derived events, want 0", n)
	}
	if n := second.metric(t, "telltale_agg_active"); n != 0 {
		t.Fatalf("the follower computes %v aggregates, want 0", n)
	}
	if n := first.metric(t, "telltale_agg_emitted_events_total"); n == 0 {
		t.Fatal("the leader wrote no derived events")
	}

	// The leader's session ends; the client's connection to it too.
	var pid int
	if err := db.Pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := map[string]uint64{}
	for s, q := range last {
		before[s] = q
	}
	mu.Unlock()
	killed := time.Now()
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	proxy.switchTo(hostOf(second.base))
	poll.Until(t, 10*time.Second, func() error {
		if first.leads(t) || !second.leads(t) {
			return errors.New("the other node does not lead yet")
		}
		return nil
	})
	t.Logf("the other node led %v after the leader's session ended (-leader-retry 100ms)", time.Since(killed))
	stoppedAt := first.metric(t, "telltale_agg_emitted_events_total")
	for _, s := range streams {
		poll.Until(t, 20*time.Second, seqAtLeast(s, before[s]+4))
	}
	close(stopProducing)
	<-produced

	want := m4FromTable(t, db, "acme", "cpu", width)
	poll.Until(t, 20*time.Second, func() error {
		var err error
		c.Read(func(streams map[string]*livestate.Stream, _ client.Info) {
			st := streams[m4]
			if st == nil {
				err = fmt.Errorf("the client holds no %s", m4)
				return
			}
			var got m4Buckets
			if got, err = m4Of(st, width); err != nil {
				return
			}
			if len(got) != len(want) {
				err = fmt.Errorf("the client holds %d buckets, the table makes %d", len(got), len(want))
				return
			}
			for b, w := range want {
				if got[b] != w {
					err = fmt.Errorf("bucket %d: the client holds %v, the table makes %v", b, got[b], w)
					return
				}
			}
		})
		return err
	})
	mu.Lock()
	for _, s := range streams {
		if snapshots[s] != 1 || breaks[s] != 0 {
			t.Errorf("%s: %d snapshots and %d breaks in its seqs, want 1 and 0 (resumed on the other node from the cursor)", s, snapshots[s], breaks[s])
		}
	}
	mu.Unlock()
	if n := first.metric(t, "telltale_agg_emitted_events_total"); n != stoppedAt {
		t.Fatalf("the old leader wrote %v derived events after it stopped leading", n-stoppedAt)
	}
	if n := first.metric(t, "telltale_agg_active"); n != 0 {
		t.Fatalf("the old leader computes %v aggregates, want 0", n)
	}

	// A page on the follower asks for an m4 series: the leader computes it.
	firstData := func(n *clusterNode, stream string) time.Duration {
		t.Helper()
		start := time.Now()
		poll.Until(t, 10*time.Second, func() error {
			code, body := apiCall(t, n.base, http.MethodGet, "api/v1/streams/"+stream+"/snapshot", tok, "")
			if code != http.StatusOK {
				return fmt.Errorf("got %d %s", code, body)
			}
			f, err := wire.Decode([]byte(body))
			if err != nil {
				return err
			}
			if s := f.(wire.Snapshot); len(s.State.Points.TS) == 0 {
				return fmt.Errorf("%s has no data yet", stream)
			}
			return nil
		})
		return time.Since(start)
	}
	onLeader := firstData(second, "m4.500.cpu")
	onFollower := firstData(first, "m4.2000.cpu")
	t.Logf("first data of a page's m4 series: %v on the leader, %v on a follower (through %s)", onLeader, onFollower, "telltale.wants")
	if timing.Over(t, onFollower, 3*time.Second) {
		t.Fatalf("a follower's page waited %v for its m4 series, want under 3s", onFollower)
	}
}

// TestClusterSharesDashboardsAndRevocations: two servers on one database.
// A dashboard saved on one reaches the other's aggregate definitions (its
// derived stream is known there) through the tenant's changes stream, and
// an operator revoked on one is signed out of a connection to the other
// within 5 s (the revocation list is read every 2 s).
func TestClusterSharesDashboardsAndRevocations(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	nodes := startNodes(t, db, 2, clusterDashJSON)
	a, b := nodes[0], nodes[1]
	keys, _ := auth.HS256([]byte(clusterSecret))
	mint := func(sub, role string) string {
		tok, err := keys.Mint("acme", sub, time.Hour, nil, role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := mint("alice", "admin")

	d := aggBoard(t, "sales", agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "last 7m"})
	derived := "api/v1/streams/" + d.Panels[0].Stream + "/snapshot"
	if code, body := apiCall(t, b.base, http.MethodGet, derived, admin, ""); code != http.StatusNotFound {
		t.Fatalf("before the PUT: got %d %s, want 404 (no dashboard declares it)", code, body)
	}
	saved := time.Now()
	if code, body := apiCall(t, a.base, http.MethodPut, "api/v1/dashboards/sales", admin, `{"title": "Sales", "panels": [{"id": "p", "kind": "kpi", "title": "p",
		"agg": {"source": "orders", "fn": "sum", "field": "total", "window": "last 7m"}}]}`); code != http.StatusCreated {
		t.Fatalf("PUT: got %d %s, want 201", code, body)
	}
	poll.Until(t, 10*time.Second, func() error {
		if code, body := apiCall(t, b.base, http.MethodGet, derived, admin, ""); code != http.StatusOK {
			return fmt.Errorf("the other node: got %d %s, want the derived stream", code, body)
		}
		return nil
	})
	took := time.Since(saved)
	t.Logf("a dashboard saved on one node was known to the other %v later", took)
	if timing.Over(t, took, 2*time.Second) {
		t.Fatalf("the other node knew the dashboard %v later, want under 2s", took)
	}

	bob := mint("bob", "")
	c := client.New(client.Config{URL: "ws://" + hostOf(b.base) + "/api/v1/ws", Streams: []string{"orders"}, Token: bob})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = c.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	status := func() client.Status {
		var s client.Status
		c.Read(func(_ map[string]*livestate.Stream, info client.Info) { s = info.Status })
		return s
	}
	poll.Until(t, 10*time.Second, func() error {
		if s := status(); s != client.Live {
			return fmt.Errorf("bob's client is %v, want live", s)
		}
		return nil
	})
	revoked := time.Now()
	if code, body := apiCall(t, a.base, http.MethodPost, "api/v1/revoke", admin, `{"sub": "bob"}`); code != http.StatusOK {
		t.Fatalf("revoke: got %d %s", code, body)
	}
	poll.Until(t, 10*time.Second, func() error {
		if s := status(); s != client.SignedOut {
			return fmt.Errorf("bob's client on the other node is %v, want signed out", s)
		}
		return nil
	})
	took = time.Since(revoked)
	t.Logf("an operator revoked on one node was signed out of the other %v later", took)
	if timing.Over(t, took, 5*time.Second) {
		t.Fatalf("signed out %v after the revocation, want within 5s", took)
	}
}

// TestClusterAlertsOnce: two servers on one database, both configured with
// the same webhook; a panel's stream goes silent past its sla, then speaks
// again. The receiver gets one firing and one resolve, not one per node:
// only the leader judges the targets and sends.
func TestClusterAlertsOnce(t *testing.T) {
	t.Parallel()
	const hookSecret = "hook-secret-0123456789"
	var mu sync.Mutex
	var got []alert.Message
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m alert.Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	messages := func() []alert.Message {
		mu.Lock()
		defer mu.Unlock()
		return append([]alert.Message(nil), got...)
	}
	db := pgtest.New(t)
	nodes := startNodes(t, db, 2, `{"id":"desk","title":"Desk","panels":[{"id":"quiet","kind":"kpi","title":"Quiet one","stream":"quiet","field":"x","sla":{"fresh_within":"1s"}}]}`,
		"-alert-every", "200ms", "-alert-webhook", hook.URL, "-alert-webhook-secret", hookSecret)
	theLeader(t, nodes)
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	speak := func() {
		t.Helper()
		if err := pub.Append(context.Background(), "acme", "quiet", []wire.Event{{Values: map[string]float64{"x": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	speak()
	poll.Until(t, 20*time.Second, func() error {
		if m := messages(); len(m) == 0 {
			return errors.New("no webhook message yet")
		}
		return nil
	})
	// Speaking again, and on: one resolve, two evaluations later.
	ctx, stop := context.WithCancel(context.Background())
	spoke := make(chan struct{})
	go func() {
		defer close(spoke)
		for ctx.Err() == nil {
			speak()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); <-spoke }()
	poll.Until(t, 20*time.Second, func() error {
		for _, m := range messages() {
			if m.State == "resolved" {
				return nil
			}
		}
		return errors.New("no resolve yet")
	})
	ms := messages()
	if len(ms) != 2 || ms[0].State != "firing" || ms[1].State != "resolved" || ms[0].ID != "desk/quiet/silent" || ms[1].ID != ms[0].ID {
		t.Fatalf("webhook messages %+v, want one firing and one resolve of desk/quiet/silent (not one per node)", ms)
	}
}

// TestClusterNewLeaderGoesOnWithDefinedAggregates: a dashboard's aggregate
// computed by one leader is computed by the next as soon as it leads, not
// at its source's next event (a sliding or calendar window moves with time
// alone). The source speaks once; the leader stops (a rolling restart).
func TestClusterNewLeaderGoesOnWithDefinedAggregates(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	nodes := startNodes(t, db, 2, clusterDashJSON)
	first := theLeader(t, nodes)
	other := nodes[0]
	if other == first {
		other = nodes[1]
	}
	pub := pgstore.New(pgstore.Config{Pool: db.Pool})
	if err := pub.Append(context.Background(), "acme", "orders", []wire.Event{{Row: &wire.Row{Key: "o1", Fields: map[string]any{"region": "eu"}}}}); err != nil {
		t.Fatal(err)
	}
	perSecond, err := agg.Compile(agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	// The other node holds the derived stream the leader wrote: it has read
	// every event of the table. (Asking it for the stream would forward a
	// want to the leader: that is not what this test is about.)
	poll.Until(t, 10*time.Second, func() error {
		var all, derived int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE stream = $1) FROM telltale.events`,
			perSecond.Stream()).Scan(&all, &derived); err != nil {
			return err
		}
		if derived == 0 {
			return errors.New("no derived event yet")
		}
		if read := other.metric(t, "telltale_pg_events_read_total"); read < float64(all) {
			return fmt.Errorf("the other node read %v of the table's %d events", read, all)
		}
		return nil
	})
	if n := other.metric(t, "telltale_agg_active"); n != 0 {
		t.Fatalf("the follower computes %v aggregates, want 0", n)
	}
	first.stop()
	poll.Until(t, 10*time.Second, func() error {
		if !other.leads(t) {
			return errors.New("the other node does not lead yet")
		}
		if n := other.metric(t, "telltale_agg_active"); n < 1 {
			return fmt.Errorf("the new leader computes %v aggregates, want the dashboard's", n)
		}
		return nil
	})
}

// TestClusterRefusesAggregatesPastTheCapOnEveryNode: a page on a node that
// does not lead, asking for an aggregate past the tenant's -max-aggregates,
// used to get an empty stream (only the leader logged its refusal). The
// node counts what the leader computes, through the store, and refuses it
// as the leader does (403 here; CodeQuota over the WebSocket, the same
// Engine.Want); a stream the leader computes is still served there.
func TestClusterRefusesAggregatesPastTheCapOnEveryNode(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	nodes := startNodes(t, db, 2, clusterDashJSON, "-max-aggregates", "1") // no orders: its aggregate never starts
	leader := theLeader(t, nodes)
	other := nodes[0]
	if other == leader {
		other = nodes[1]
	}
	keys, _ := auth.HS256([]byte(clusterSecret))
	tok, err := keys.Mint("acme", "alice", time.Hour, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func(n *clusterNode, stream string) (int, string) {
		return apiCall(t, n.base, http.MethodGet, "api/v1/streams/"+stream+"/snapshot", tok, "")
	}
	// The leader's page takes the tenant's one aggregate.
	if code, body := snapshot(leader, "m4.1000.cpu"); code != http.StatusOK {
		t.Fatalf("leader: m4.1000.cpu: %d %s, want 200", code, body)
	}
	if code, body := snapshot(leader, "m4.1000.mem"); code != http.StatusForbidden {
		t.Fatalf("leader: m4.1000.mem past the cap: %d %s, want 403", code, body)
	}
	// The other node learns it through the store (a row of telltale.wants,
	// milliseconds): each try names a new stream, as a refused one is not
	// forwarded and an early accepted one becomes one the leader was asked.
	i := 0
	poll.Until(t, 10*time.Second, func() error {
		i++
		stream := fmt.Sprintf("m4.1000.disk%d", i)
		if code, body := snapshot(other, stream); code != http.StatusForbidden {
			return fmt.Errorf("other node: %s past the cap: %d %s, want 403", stream, code, body)
		}
		return nil
	})
	poll.Until(t, 10*time.Second, func() error {
		if code, body := snapshot(other, "m4.1000.cpu"); code != http.StatusOK {
			return fmt.Errorf("other node: m4.1000.cpu, which the leader computes: %d %s, want 200", code, body)
		}
		return nil
	})
}

// Command nodes measures several telltale nodes on one PostgreSQL (issue 20):
// one node against three (-nodes 1,3), the same clients in total, events
// published at a fixed rate through SQL (telltale.publish_batch, one
// transaction per stream per 10 ms tick, as a producer writing into
// PostgreSQL does), so every node reads every event from the table.
//
// Each node count is a run of its own on a fresh database: the real binary
// (-bin) started N times with the same token key and DATABASE_URL (each
// node under a login role of its own, so PostgreSQL's statistics tell the
// nodes apart), -clients native clients of the project's client runtime,
// client i following client stream i mod -streams and connected straight to
// node i mod N (no load balancer: a client whose node refuses moves to the
// next live one). Phases:
//
//   - idle: clients connected, nothing published, -idle long;
//   - load: -rate events/s on each of the -streams client streams (stamped
//     at publish, for publish→receive) and -bulk-rate events/s in total over
//     -bulk-streams streams no client follows (every node still follows
//     them: PostgreSQL's load), -duration long;
//   - kill (-kill): with events still flowing, kill -9 of node 1; its
//     clients reconnect to the others (one node: the node is restarted) and
//     the time until each has applied an event published after the kill is
//     its resume time; then every client must hold every seq once, in order.
//
// Reported per phase, per node and in total: publish→receive p50/p99;
// PostgreSQL queries/s by class (the follower's reads and scans, publishes,
// other) and rows the follower read per second, from pg_stat_statements;
// transactions/s and tuples returned from pg_stat_database; PostgreSQL's CPU
// (the cluster's processes) and each node's backends' CPU (/proc);
// connections and LISTEN connections per node; wake-ups per node and reads
// per wake-up; read amplification (rows the followers read / events
// published: every node reads every event once, so N); server CPU per node
// (/proc); resume times after the kill; lost, duplicated, reordered events
// and extra snapshots. With -notify-cost, single-row commits with and
// without a NOTIFY in each transaction (-notify-workers connections while
// -notify-listeners connections LISTEN), in alternating pairs.
//
// By default the run starts a PostgreSQL cluster of its own (initdb and
// pg_ctl of the installed postgresql, pg_stat_statements preloaded,
// PostgreSQL's default durability) and removes it after; -pg-admin uses an
// existing server instead (a database and roles of the run's own, dropped
// after; per-statement figures only if it preloads pg_stat_statements).
//
//	go build -o bin/telltale ./backend/cmd/telltale
//	go run ./bench/cmd/nodes -nodes 1,3 -clients 1500 -json
//
// Flags: -bin, -nodes (none: only the NOTIFY cost), -clients, -streams,
// -rate, -bulk-streams, -bulk-rate, -payload, -idle, -duration, -kill,
// -resume-timeout, -publish-conns, -tick (the publisher's period),
// -server-flags (extra flags for every node), -pg-admin, -notify-cost,
// -notify-workers, -notify-listeners, -notify-pairs, -json (one JSON
// object on the last line); `go run ./bench/cmd/nodes -h` describes each.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/livestate"
)

const ticksPerSecond = proc.TicksPerSecond

type options struct {
	bin                    string
	clients, streams       int
	rate                   float64
	bulkStreams            int
	bulkRate               float64
	payload                int
	idle, duration         time.Duration
	kill                   bool
	resumeTimeout          time.Duration
	publishConns           int
	tick                   time.Duration
	serverFlags            []string
	notifyCost             time.Duration
	notifyWorkers          int
	notifyListeners        int
	notifyPairs            int
	nodeCounts             []int
	externalPG             string
	clientStreams, bulkSet []string
}

// report is the whole output.
type report struct {
	Clients      int          `json:"clients"`
	Streams      int          `json:"client_streams"`
	RatePerS     float64      `json:"rate_per_client_stream"`
	BulkStreams  int          `json:"bulk_streams"`
	BulkRate     float64      `json:"bulk_rate"`
	PG           string       `json:"pg"` // own cluster or the server's address
	Statements   bool         `json:"pg_stat_statements"`
	Runs         []run        `json:"runs"`
	NotifyCost   []notifyCost `json:"notify_cost,omitempty"`
	NotifyOffTPS float64      `json:"notify_off_tps,omitempty"` // medians of the pairs
	NotifyOnTPS  float64      `json:"notify_on_tps,omitempty"`
}

// run is one node count.
type run struct {
	Nodes  int           `json:"nodes"`
	Phases []phaseResult `json:"phases"`
	Kill   *killResult   `json:"kill,omitempty"`
	// Over the whole run, every client: nothing lost, duplicated or
	// reordered, and no snapshot but the first.
	Deliveries     int64 `json:"deliveries"`
	Lost           int64 `json:"lost"`
	Dup            int64 `json:"dup"`
	Reordered      int64 `json:"reordered"`
	ExtraSnapshots int64 `json:"extra_snapshots"`
	// ExtraBeforeKill is the extra snapshots taken before the kill;
	// Resyncs counts the clients' last resync reasons ("stream: reason").
	ExtraBeforeKill int64          `json:"extra_snapshots_before_kill"`
	Resyncs         map[string]int `json:"resync_reasons,omitempty"`
	PublishErrors   int64          `json:"publish_errors"`
}

// phaseResult is one phase of one run.
type phaseResult struct {
	Phase   string  `json:"phase"` // idle, load
	Seconds float64 `json:"seconds"`
	// Published is events committed per second (client and bulk streams).
	PublishedPerS float64 `json:"published_per_s"`
	DeliveriesN   int     `json:"latencies"`
	P50ms         float64 `json:"p50_ms"`
	P95ms         float64 `json:"p95_ms"`
	P99ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	pgTotals
	PublisherPerS float64 `json:"pg_publish_calls_per_s"`
	// ReadAmplification is rows the followers read / events published.
	ReadAmplification float64      `json:"read_amplification,omitempty"`
	ServerCPU         float64      `json:"server_cpu_pct"` // every node, % of a core
	MachineCPU        float64      `json:"machine_cpu_pct"`
	GeneratorCPU      float64      `json:"generator_cpu_pct"` // this process: clients and publisher
	PerNode           []nodeResult `json:"per_node"`
}

// pgTotals is PostgreSQL over a phase, every role.
type pgTotals struct {
	QueriesPerS   float64 `json:"pg_queries_per_s"` // every statement of the nodes and the publisher
	XactsPerS     float64 `json:"pg_xacts_per_s"`   // pg_stat_database, the whole database
	RowsReadPerS  float64 `json:"pg_rows_read_per_s"`
	TupReturnedPS float64 `json:"pg_tup_returned_per_s"`
	CPU           float64 `json:"pg_cpu_pct"` // the cluster's processes, % of a core
}

// nodeResult is one node over a phase.
type nodeResult struct {
	Node        int     `json:"node"`
	Clients     int     `json:"clients"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	ServerCPU   float64 `json:"server_cpu_pct"`
	RSSMB       float64 `json:"server_rss_mb"`
	QueriesPerS float64 `json:"pg_queries_per_s"`
	ReadsPerS   float64 `json:"pg_reads_per_s"`
	RowsPerS    float64 `json:"pg_rows_read_per_s"`
	ScansPerS   float64 `json:"pg_scans_per_s"`
	LooksPerS   float64 `json:"pg_looks_per_s"` // lingering looks, each at every stream due
	// ReadExecUs and LookExecUs are the mean execution time of one
	// follower read and one look (pg_stat_statements' total_exec_time).
	ReadExecUs  float64 `json:"pg_read_exec_us,omitempty"`
	LookExecUs  float64 `json:"pg_look_exec_us,omitempty"`
	OtherPerS   float64 `json:"pg_other_per_s"`
	BackendCPU  float64 `json:"pg_backend_cpu_pct"`
	Conns       int     `json:"pg_connections"`
	ListenConns int     `json:"pg_listen_connections"`
	WakesPerS   float64 `json:"wakeups_per_s"`
	// ReadsPerWake is the follower's reads per wake-up received: about
	// one per stream woken plus its lingering looks, whatever the number
	// of subscribers.
	ReadsPerWake float64 `json:"reads_per_wakeup,omitempty"`
	// QueriesPerWake adds the lingering looks: the follower's queries
	// per wake-up.
	QueriesPerWake  float64 `json:"follower_queries_per_wakeup,omitempty"`
	EventsReadPerS  float64 `json:"events_followed_per_s"` // telltale_pg_events_read_total
	UncachedPerS    float64 `json:"events_decoded_per_s"`  // telltale_pg_follow_uncached_total
	BackendUsPerRow float64 `json:"pg_backend_us_per_row,omitempty"`
}

// killResult is the kill phase.
type killResult struct {
	Killed   int `json:"killed_node"`
	Affected int `json:"clients_affected"`
	Resumed  int `json:"clients_resumed"`
	// From the kill to each affected client's first event published after
	// it; AllMs is the last of them (every client resumed).
	P50ms     float64 `json:"resume_p50_ms"`
	P99ms     float64 `json:"resume_p99_ms"`
	AllMs     float64 `json:"resume_all_ms"`
	Restarted bool    `json:"restarted,omitempty"` // one node: the node was started again
	After     []int   `json:"clients_per_node_after"`
}

func main() {
	if err := runMain(); err != nil {
		fmt.Fprintln(os.Stderr, "nodes:", err)
		os.Exit(1)
	}
}

func runMain() error {
	var o options
	nodes := flag.String("nodes", "1,3", "node counts to compare, comma-separated; each is a run of its own on a fresh database; none: only -notify-cost")
	flag.StringVar(&o.bin, "bin", "bin/telltale", "the server binary (go build -o bin/telltale ./backend/cmd/telltale)")
	flag.IntVar(&o.clients, "clients", 1500, "clients in total, spread over the nodes (client i on node i mod N)")
	flag.IntVar(&o.streams, "streams", 5, "client streams; client i follows stream i mod -streams")
	flag.Float64Var(&o.rate, "rate", 20, "events/s published on each client stream while loaded")
	flag.IntVar(&o.bulkStreams, "bulk-streams", 8, "streams no client follows, published while loaded (every node follows them)")
	flag.Float64Var(&o.bulkRate, "bulk-rate", 10000, "events/s in total over the bulk streams while loaded")
	flag.IntVar(&o.payload, "payload", 0, "extra bytes per event (a row field)")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "length of the idle phase")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of the load phase")
	flag.BoolVar(&o.kill, "kill", true, "kill -9 node 1 under load and measure the clients' resume")
	flag.DurationVar(&o.resumeTimeout, "resume-timeout", 60*time.Second, "longest wait for every client to resume after the kill")
	flag.IntVar(&o.publishConns, "publish-conns", 16, "the publisher's PostgreSQL connections")
	flag.DurationVar(&o.tick, "tick", 10*time.Millisecond, "the publisher publishes what each stream is owed this often")
	pgAdmin := flag.String("pg-admin", "", "an existing PostgreSQL server (superuser DSN) instead of a cluster of the run's own")
	serverFlags := flag.String("server-flags", "", "extra flags for every node, space-separated")
	flag.DurationVar(&o.notifyCost, "notify-cost", 5*time.Second, "length of each NOTIFY cost measurement (0: none)")
	flag.IntVar(&o.notifyWorkers, "notify-workers", 8, "NOTIFY cost: connections committing one-row inserts")
	flag.IntVar(&o.notifyListeners, "notify-listeners", 3, "NOTIFY cost: connections LISTENing (nodes)")
	flag.IntVar(&o.notifyPairs, "notify-pairs", 2, "NOTIFY cost: off/on pairs")
	asJSON := flag.Bool("json", false, "print the report as one JSON object on the last line")
	flag.Parse()
	var err error
	if o.nodeCounts, err = parseCounts(*nodes); err != nil {
		return err
	}
	if o.clients < 0 || o.streams < 1 || o.bulkStreams < 0 || o.rate < 0 || o.bulkRate < 0 {
		return fmt.Errorf("want -clients ≥ 0, -streams ≥ 1, -bulk-streams ≥ 0 and rates ≥ 0")
	}
	o.serverFlags = strings.Fields(*serverFlags)
	for i := range o.streams {
		o.clientStreams = append(o.clientStreams, fmt.Sprintf("c%d", i))
	}
	for i := range o.bulkStreams {
		o.bulkSet = append(o.bulkSet, fmt.Sprintf("bulk%d", i))
	}
	raiseFileLimit()
	ctx := context.Background()

	maxNodes := slices.Max(append([]int{1}, o.nodeCounts...))
	var c *cluster
	if *pgAdmin != "" {
		if c, err = useCluster(ctx, *pgAdmin); err != nil {
			return err
		}
	} else {
		// Each node holds its pool, 4 follower connections and LISTEN.
		if c, err = startCluster(100 + 30*maxNodes); err != nil {
			return err
		}
		defer c.stop()
	}
	rep := report{Clients: o.clients, Streams: o.streams, RatePerS: o.rate, BulkStreams: o.bulkStreams, BulkRate: o.bulkRate, Statements: c.statements, PG: "own cluster"}
	if *pgAdmin != "" {
		rep.PG = "existing server"
	}
	for _, n := range o.nodeCounts {
		r, err := runNodes(ctx, c, n, o)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		printRun(r)
		rep.Runs = append(rep.Runs, r)
	}
	if o.notifyCost > 0 {
		nc, err := measureNotify(ctx, c, o.notifyWorkers, o.notifyListeners, o.notifyPairs, o.notifyCost)
		if err != nil {
			return err
		}
		rep.NotifyCost = nc
		rep.NotifyOffTPS, rep.NotifyOnTPS = notifyMedians(nc)
		for _, x := range nc {
			fmt.Printf("notify=%-5v %d workers, %d listeners: %6.0f commits/s, PostgreSQL %.0f µs CPU/commit, %d notifications received\n",
				x.Notify, x.Workers, x.Listeners, x.TPS, x.PGCPUUsPerCommit, x.Received)
		}
		fmt.Printf("one-row commits: %.0f/s without NOTIFY, %.0f/s with (medians)\n", rep.NotifyOffTPS, rep.NotifyOnTPS)
	}
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
	}
	return nil
}

// parseCounts reads -nodes: positive counts, comma-separated.
func parseCounts(s string) ([]int, error) {
	var out []int
	if s == "none" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-nodes %q: want positive counts, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// notifyMedians is the median commits/s without and with NOTIFY.
func notifyMedians(nc []notifyCost) (off, on float64) {
	var a, b []float64
	for _, x := range nc {
		if x.Notify {
			b = append(b, x.TPS)
		} else {
			a = append(a, x.TPS)
		}
	}
	return median(a), median(b)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runNodes is one node count's run.
func runNodes(ctx context.Context, c *cluster, n int, o options) (run, error) {
	r := run{Nodes: n}
	db, err := c.createDatabase(ctx, n+1) // the last role is the publisher's
	if err != nil {
		return r, err
	}
	defer db.drop()
	nodeRoles, pubRole := db.roles[:n], db.roles[n]
	mig := exec.Command(o.bin, "migrate")
	mig.Env = append(os.Environ(), "DATABASE_URL="+db.dsn)
	if out, err := mig.CombinedOutput(); err != nil {
		return r, fmt.Errorf("%s migrate: %v: %s", o.bin, err, out)
	}
	pub, err := newPublisher(ctx, db.nodeDSN(n), o.publishConns, o.payload)
	if err != nil {
		return r, err
	}
	defer pub.close()
	// Every stream exists before the nodes start (their warm-up holds them).
	for _, s := range append(slices.Clone(o.clientStreams), o.bulkSet...) {
		if err := pub.batch(ctx, s, 1); err != nil {
			return r, err
		}
	}
	secret := benchserver.RandomHex() + benchserver.RandomHex()
	keys, err := auth.HS256([]byte(secret))
	if err != nil {
		return r, err
	}
	token, err := keys.Mint(tenant, "nodes-bench", 24*time.Hour, nil, "")
	if err != nil {
		return r, err
	}
	env, err := newNodeEnv(o.bin, secret, o.serverFlags)
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(env.web)
	nodes := make([]*node, n)
	defer func() {
		for _, nd := range nodes {
			if nd != nil {
				nd.stop()
			}
		}
	}()
	for i := range n {
		if nodes[i], err = env.start(i, db.nodeDSN(i), nodeRoles[i]); err != nil {
			return r, err
		}
	}
	for _, nd := range nodes {
		if err := nd.waitHealthy(60 * time.Second); err != nil {
			return r, err
		}
	}
	rt := newRouter(nodes, o.clients)
	rt.install()
	fl := startClients(rt, o.clients, o.clientStreams, token)
	defer fl.stop()
	if err := fl.waitLive(180 * time.Second); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "%d nodes: %d clients live (%v per node)\n", n, o.clients, rt.perNode())

	obs, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return r, err
	}
	defer obs.Close(ctx)
	m := &meter{c: c, obs: obs, db: db.name, nodes: nodes, roles: nodeRoles, pubRole: pubRole, pub: pub, rt: rt, fl: fl}

	// Idle: connected, nothing published.
	time.Sleep(2 * time.Second) // the connection storm's work ends
	idle, err := m.phase(ctx, "idle", o.idle)
	if err != nil {
		return r, err
	}
	r.Phases = append(r.Phases, idle)

	// Load.
	pctx, pcancel := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		pub.run(pctx, o.tick, []rateSet{{o.clientStreams, o.rate}, {o.bulkSet, o.bulkRate / float64(max(1, len(o.bulkSet)))}})
	}()
	stopPublishing := func() {
		pcancel()
		<-pdone
	}
	defer stopPublishing()
	time.Sleep(2 * time.Second) // the rate settles
	fl.measure(true)
	load, err := m.phase(ctx, "load", o.duration)
	fl.measure(false)
	if err != nil {
		return r, err
	}
	r.Phases = append(r.Phases, load)

	r.ExtraBeforeKill = fl.extraSnapshots()
	if o.kill {
		k, err := killOne(env, nodes, rt, fl, o.resumeTimeout)
		if err != nil {
			return r, err
		}
		r.Kill = &k
		time.Sleep(time.Second) // events keep flowing to the moved clients
	}
	stopPublishing()
	want := pub.newest()
	deadline := time.Now().Add(60 * time.Second)
	for !fl.holds(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	fl.stop()
	r.PublishErrors = pub.errs.Load()
	if e := pub.lastErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "publisher's last error:", *e)
	}
	r.tally(fl, want)
	return r, nil
}

// tally counts over every client what it applied against what was
// published.
func (r *run) tally(fl *fleet, want map[string]uint64) {
	for i, c := range fl.cs {
		tl := fl.tallies[i]
		var dup int64
		var resync string
		c.Read(func(_ map[string]*livestate.Stream, info client.Info) { dup, resync = info.Duplicates, info.LastResync })
		r.Dup += dup
		if resync != "" {
			if r.Resyncs == nil {
				r.Resyncs = map[string]int{}
			}
			r.Resyncs[resync]++
		}
		r.Deliveries += tl.applied
		r.Reordered += tl.breaks
		if tl.snapshots > 1 {
			r.ExtraSnapshots += int64(tl.snapshots - 1)
		}
		// The client's first snapshot covers the seqs before it.
		if got, w := int64(tl.last), int64(want[tl.stream]); got < w {
			r.Lost += w - got
		}
	}
}

// killOne kills node 1 (index 0) with SIGKILL while events flow and waits
// until every client that was on it has applied an event published after
// the kill. With one node, the node is started again at once (its clients
// have nowhere else to go).
func killOne(env *nodeEnv, nodes []*node, rt *router, fl *fleet, timeout time.Duration) (killResult, error) {
	victim := nodes[0]
	var affected []int
	for i := range rt.cur {
		if int(rt.cur[i].Load()) == victim.index {
			affected = append(affected, i)
		}
	}
	k := killResult{Killed: 1, Affected: len(affected)}
	victim.kill()
	at := time.Now()
	for _, i := range affected {
		fl.tallies[i].killAt.Store(at.UnixMicro())
	}
	if len(nodes) == 1 {
		k.Restarted = true
		if err := env.restart(victim); err != nil {
			return k, err
		}
	}
	deadline := at.Add(timeout)
	var resume []time.Duration
	for {
		resume = resume[:0]
		for _, i := range affected {
			tl := fl.tallies[i]
			fl.cs[i].Read(func(map[string]*livestate.Stream, client.Info) {
				if !tl.resumed.IsZero() {
					resume = append(resume, tl.resumed.Sub(at))
				}
			})
		}
		if len(resume) == len(affected) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	k.Resumed = len(resume)
	s := latency.Summarize(resume)
	k.P50ms, k.P99ms, k.AllMs = s.P50, s.P99, s.Max
	k.After = rt.perNode()
	if k.Resumed < k.Affected {
		return k, fmt.Errorf("only %d of %d clients of the killed node resumed within %v", k.Resumed, k.Affected, timeout)
	}
	return k, nil
}

// restart starts a killed node again in place: same index, role and
// database; it listens on a new port, which the router reads.
func (e *nodeEnv) restart(n *node) error {
	fresh, err := e.start(n.index, n.dsn, n.role)
	if err != nil {
		return err
	}
	n.cmd, n.metricsAddr = fresh.cmd, fresh.metricsAddr
	n.addr.Store(fresh.addr.Load())
	n.dead.Store(false)
	return nil
}

// raiseFileLimit lifts the soft open-files limit to the hard one; the nodes,
// started after, inherit it.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func printRun(r run) {
	for _, p := range r.Phases {
		fmt.Printf("%d node(s) %-4s: %6.0f ev/s published; publish→receive p50 %.1f ms p99 %.1f ms (%d); PostgreSQL %.0f queries/s, %.0f xacts/s, %.0f rows read/s by followers (amplification %.2f), CPU %.0f%%; servers %.0f%%, machine %.0f%%, generator %.0f%%\n",
			r.Nodes, p.Phase, p.PublishedPerS, p.P50ms, p.P99ms, p.DeliveriesN, p.QueriesPerS, p.XactsPerS, p.RowsReadPerS, p.ReadAmplification, p.CPU, p.ServerCPU, p.MachineCPU, p.GeneratorCPU)
		for _, nr := range p.PerNode {
			fmt.Printf("    node %d: %4d clients p50 %.1f p99 %.1f ms; CPU %.0f%% RSS %.0f MB; PostgreSQL %.1f queries/s (%.1f reads of %.0f µs, %.1f looks of %.0f µs, %.2f scans, %.1f other), %.0f rows/s, backends %.1f%% CPU (%.1f µs/row); %d connections, %d LISTEN; %.1f wake-ups/s, %.2f reads and %.2f follower queries/wake-up; %.0f events followed/s (%.0f decoded)\n",
				nr.Node, nr.Clients, nr.P50ms, nr.P99ms, nr.ServerCPU, nr.RSSMB, nr.QueriesPerS, nr.ReadsPerS, nr.ReadExecUs, nr.LooksPerS, nr.LookExecUs, nr.ScansPerS, nr.OtherPerS, nr.RowsPerS, nr.BackendCPU, nr.BackendUsPerRow, nr.Conns, nr.ListenConns, nr.WakesPerS, nr.ReadsPerWake, nr.QueriesPerWake, nr.EventsReadPerS, nr.UncachedPerS)
		}
	}
	if k := r.Kill; k != nil {
		fmt.Printf("%d node(s) kill -9 of node %d: %d clients affected, %d resumed; resume p50 %.0f ms p99 %.0f ms, all %.0f ms; clients per node after %v (restarted: %v)\n",
			r.Nodes, k.Killed, k.Affected, k.Resumed, k.P50ms, k.P99ms, k.AllMs, k.After, k.Restarted)
	}
	fmt.Printf("%d node(s) run: %d deliveries, lost %d, dup %d, reordered %d, extra snapshots %d (%d before the kill; last reasons %v), publish errors %d\n",
		r.Nodes, r.Deliveries, r.Lost, r.Dup, r.Reordered, r.ExtraSnapshots, r.ExtraBeforeKill, r.Resyncs, r.PublishErrors)
}

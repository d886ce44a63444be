// Command aggregate measures what the server's aggregates cost: it runs the
// telltale binary twice under the same load, without aggregates and with
// -aggregates of them (mixed functions and windows, grouped by a field of
// -groups values) over -sources row streams receiving -rate events/s in
// total, while -clients clients follow a fan-out stream. It reports the
// server CPU per source event the aggregates add, the update latency (a
// source event → the first derived event covering it in the hub, by the
// hub's Ingested stamp, as a client following every derived stream receives
// them; and at that client), state bytes per aggregate, and the fan-out
// stream's publish→receive p99 in both runs. It runs -runs pairs (without
// and with, each pair in the other order than the last) and each figure is
// the median: the machine is shared. The CPU the aggregates add per source
// event is the median of the pairs' differences, with its spread; beside it,
// the CPU the server's profile finds in backend/aggregate's own stacks, a
// direct figure that the baseline's noise does not reach.
//
//	go run ./bench/cmd/aggregate -duration 10s -json
//
// Not part of make test: it needs `make build` and two quiet cores.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

type result struct {
	Aggregates    int     `json:"aggregates"`
	Groups        int     `json:"groups"`
	Sources       int     `json:"sources"`
	Rate          int     `json:"rate"`
	DurationS     float64 `json:"duration_s"`
	SourceEvents  int64   `json:"source_events"`
	CPUWithoutPct float64 `json:"server_cpu_pct_without"`
	CPUWithPct    float64 `json:"server_cpu_pct_with"`
	// The CPU the aggregates add per source event: each pair of runs'
	// difference (with − without, the same load), the median of the
	// pairs, and their spread.
	CPUUsPerEvent    float64 `json:"cpu_us_per_event"`
	CPUUsPerEventMin float64 `json:"cpu_us_per_event_min"`
	CPUUsPerEventMax float64 `json:"cpu_us_per_event_max"`
	// The CPU in backend/aggregate's own stacks (the engine's goroutine:
	// folds, emits and the derived events' writes into the store and the
	// hub; its builds; the hub's tap), per source event, from the server's
	// CPU profile of each run with aggregates: the median, and the spread.
	// Not in it: what the derived events cost downstream (delivery to the
	// client that follows them) and the GC's background marking of the
	// aggregates' memory, which the paired difference holds.
	EngineCPUUsPerEvent    float64 `json:"engine_cpu_us_per_event"`
	EngineCPUUsPerEventMin float64 `json:"engine_cpu_us_per_event_min"`
	EngineCPUUsPerEventMax float64 `json:"engine_cpu_us_per_event_max"`
	UpdateP50ms            float64 `json:"update_p50_ms"`
	UpdateP99ms            float64 `json:"update_p99_ms"`
	UpdateMaxMs            float64 `json:"update_max_ms"`
	// At the client that follows every derived stream, in the load
	// generator's process: the hub's figure plus delivery and the
	// generator's own scheduling on the shared cores.
	UpdateClientP99ms float64 `json:"update_client_p99_ms"`
	// From the ingest request's start rather than its answer: the ingest
	// request's own time on the loaded machine included.
	UpdateFromPublishP99ms float64 `json:"update_from_publish_p99_ms"`
	Uncovered              int     `json:"uncovered_batches"` // source batches no derived event covered before the end
	DerivedPerS            float64 `json:"derived_events_per_s"`
	BytesPerAgg            float64 `json:"bytes_per_aggregate"`
	RSSPerAggKB            float64 `json:"rss_kb_per_aggregate"`
	FanClients             int     `json:"fanout_clients"`
	FanP99Without          float64 `json:"fanout_p99_ms_without"`
	FanP99With             float64 `json:"fanout_p99_ms_with"`
	Overflows              float64 `json:"queue_overflows"`
	Runs                   int     `json:"runs"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aggregate:", err)
		os.Exit(1)
	}
}

type config struct {
	bin, web                      string
	aggs, groups, sources, rate   int
	clients, fanRate              int
	duration                      time.Duration
	asJSON                        bool
	profile                       string // the server's CPU profiles: profilePath names each run's (a temporary folder's when not asked for)
	verbose                       bool
	runs                          int
	specs                         []*agg.Spec
	dashboards                    string // file
	regions, customers, keysCount int
}

func run() error {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/telltale", "the binary to start")
	flag.StringVar(&c.web, "web", "static", "its web folder")
	flag.IntVar(&c.aggs, "aggregates", 50, "aggregates (mixed functions and windows, every one grouped)")
	flag.IntVar(&c.groups, "groups", 10, "distinct values of the group-by field")
	flag.IntVar(&c.sources, "sources", 5, "row streams the aggregates read")
	flag.IntVar(&c.rate, "rate", 10000, "source events per second, in total")
	flag.IntVar(&c.clients, "clients", 200, "clients following the fan-out stream")
	flag.IntVar(&c.fanRate, "fan-rate", 100, "events per second of the fan-out stream")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long each run publishes")
	flag.BoolVar(&c.asJSON, "json", false, "print the result as one JSON object on the last line")
	flag.IntVar(&c.runs, "runs", 5, "pairs of runs, without and with aggregates, each pair in the other order than the last (the machine is shared: each figure is the median, the CPU added per event the median of the pairs' differences)")
	flag.BoolVar(&c.verbose, "v", false, "print each aggregate's update latency on stderr")
	flag.StringVar(&c.profile, "server-cpuprofile", "", "keep the server's CPU profile over each run here (every run is profiled; without this, in a temporary folder): the name with the run's number and, for the runs without aggregates, -without before its extension (cpu.pprof → cpu-1.pprof, cpu-1-without.pprof, …)")
	flag.Parse()
	c.customers, c.keysCount = 1000, 1000
	var err error
	if c.specs, err = specs(c.aggs, c.groups, c.sources); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "aggbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.profile == "" {
		c.profile = filepath.Join(dir, "cpu.pprof")
	}
	c.dashboards = filepath.Join(dir, "dashboards.json")
	if err := writeDashboards(c.dashboards, c.specs, c.groups); err != nil {
		return err
	}

	var withouts, withs []phaseResult
	perEvent := func(r phaseResult) float64 { return r.cpuS / float64(r.events) * 1e6 }
	var added, engine []float64
	for i := range c.runs {
		// Each pair in the other order than the last (without first, then
		// with first, …), so that a drift of the machine's load over the
		// runs does not always fall on the same side of the difference.
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		var without, with phaseResult
		for _, withAggs := range order {
			r, err := phase(c, i+1, withAggs)
			if err != nil {
				return fmt.Errorf("run %d with aggregates %v: %w", i+1, withAggs, err)
			}
			if withAggs {
				with = r
			} else {
				without = r
			}
		}
		withouts, withs = append(withouts, without), append(withs, with)
		added = append(added, perEvent(with)-perEvent(without))
		engine = append(engine, with.engineCPUS/float64(with.events)*1e6)
		fmt.Fprintf(os.Stderr, "run %d: CPU %.1f → %.1f µs/event (%.2f added; %.2f in backend/aggregate's stacks, profile %.2f of %.2f s), update p50 %.0f p99 %.0f ms (from publish %.0f, client %.0f), fan-out p99 %.1f → %.1f ms, %.0f state bytes/aggregate\n",
			i+1, perEvent(without), perEvent(with), added[i], engine[i], with.engineCPUS, with.profileCPUS,
			with.update.P50, with.update.P99, with.updateSent.P99, with.updateClient.P99, without.fan.P99, with.fan.P99, with.stateBytes/float64(max(1, len(c.specs))))
	}
	med := func(rs []phaseResult, f func(phaseResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	with := withs[len(withs)-1]
	res := result{Aggregates: len(c.specs), Groups: c.groups, Sources: c.sources, Rate: c.rate, FanClients: c.clients, Runs: c.runs,
		DurationS: with.elapsed.Seconds(), SourceEvents: with.events,
		CPUWithoutPct: med(withouts, phaseResult.cpuPct), CPUWithPct: med(withs, phaseResult.cpuPct),
		FanP99Without:          med(withouts, func(r phaseResult) float64 { return r.fan.P99 }),
		FanP99With:             med(withs, func(r phaseResult) float64 { return r.fan.P99 }),
		BytesPerAgg:            med(withs, func(r phaseResult) float64 { return r.stateBytes }) / float64(max(1, len(c.specs))),
		RSSPerAggKB:            (med(withs, func(r phaseResult) float64 { return float64(r.rssKB) }) - med(withouts, func(r phaseResult) float64 { return float64(r.rssKB) })) / float64(max(1, len(c.specs))),
		UpdateP50ms:            med(withs, func(r phaseResult) float64 { return r.update.P50 }),
		UpdateP99ms:            med(withs, func(r phaseResult) float64 { return r.update.P99 }),
		UpdateMaxMs:            med(withs, func(r phaseResult) float64 { return r.update.Max }),
		UpdateClientP99ms:      med(withs, func(r phaseResult) float64 { return r.updateClient.P99 }),
		UpdateFromPublishP99ms: med(withs, func(r phaseResult) float64 { return r.updateSent.P99 }),
		Uncovered:              int(med(withs, func(r phaseResult) float64 { return float64(r.uncovered) })),
		DerivedPerS:            med(withs, func(r phaseResult) float64 { return float64(r.derived) / r.elapsed.Seconds() }),
		Overflows:              med(withs, func(r phaseResult) float64 { return r.overflows }),
	}
	// The CPU the aggregates add, per source event: each pair's server CPU
	// seconds per event it took, with minus without, the median of the
	// pairs (the paired difference: a pair's two runs are next to each
	// other in time, so a load that moves between pairs cancels out).
	res.CPUUsPerEvent, res.CPUUsPerEventMin, res.CPUUsPerEventMax = median(added), slices.Min(added), slices.Max(added)
	res.EngineCPUUsPerEvent, res.EngineCPUUsPerEventMin, res.EngineCPUUsPerEventMax = median(engine), slices.Min(engine), slices.Max(engine)
	fmt.Printf("%d aggregates × %d groups over %d streams at %d ev/s for %v, %d pairs of runs: server CPU %.0f%% → %.0f%%, %.2f µs per source event added (pairs %.2f to %.2f), %.2f µs in backend/aggregate's stacks (%.2f to %.2f); update (source → hub) p50 %.0f ms, p99 %.0f ms, max %.0f ms, from publish p99 %.0f ms, at a client %.0f ms (%d batches uncovered), %.0f derived events/s; %.0f state bytes and %.0f KB RSS per aggregate; fan-out p99 %.1f ms → %.1f ms (%d clients at %d ev/s); queue overflows %.0f\n",
		res.Aggregates, res.Groups, res.Sources, res.Rate, c.duration, c.runs, res.CPUWithoutPct, res.CPUWithPct, res.CPUUsPerEvent, res.CPUUsPerEventMin, res.CPUUsPerEventMax,
		res.EngineCPUUsPerEvent, res.EngineCPUUsPerEventMin, res.EngineCPUUsPerEventMax,
		res.UpdateP50ms, res.UpdateP99ms, res.UpdateMaxMs, res.UpdateFromPublishP99ms, res.UpdateClientP99ms, res.Uncovered, res.DerivedPerS, res.BytesPerAgg, res.RSSPerAggKB,
		res.FanP99Without, res.FanP99With, res.FanClients, c.fanRate, res.Overflows)
	if c.asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
	return nil
}

// median is the middle of v (of an even count, the mean of the two in the
// middle); v is sorted in place.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// specs is n distinct aggregates: every function over every window it has a
// meaning for, grouped, spread over the sources.
func specs(n, groups, sources int) ([]*agg.Spec, error) {
	fns := []string{"count", "sum", "avg", "min", "max", "last", "rate", "distinct", "p50", "p95"}
	windows := []string{"1s", "1m", "last 1m", "today", "current", "this hour", "10s", "last 5m"}
	var out []*agg.Spec
	for _, w := range windows {
		for _, fn := range fns {
			if len(out) == n {
				return out, nil
			}
			d := agg.Def{Source: fmt.Sprintf("orders%d", len(out)%sources), Fn: fn, Window: w, GroupBy: "region", Top: groups}
			switch fn {
			case "count", "rate":
			case "distinct":
				d.Field = "customer"
			default:
				d.Field = "total"
			}
			s, err := agg.Compile(d)
			if err != nil {
				continue // a function without meaning over this window
			}
			out = append(out, s)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("only %d distinct aggregates to be had", len(out))
	}
	return out, nil
}

// writeDashboards writes one dashboard with a panel per aggregate.
func writeDashboards(path string, ss []*agg.Spec, groups int) error {
	series := []string{agg.Other}
	for i := range groups {
		series = append(series, fmt.Sprintf("r%d", i))
	}
	var panels []map[string]any
	for i, s := range ss {
		p := map[string]any{"id": fmt.Sprintf("p%d", i), "title": s.Fn + " " + s.Window, "agg": s.Def}
		if s.Kind == agg.Tumbling {
			p["kind"], p["series"] = "timeseries", series
		} else {
			p["kind"], p["columns"] = "table", []map[string]string{{"field": "key"}, {"field": agg.Value}}
		}
		panels = append(panels, p)
	}
	b, err := json.Marshal([]map[string]any{{"id": "bench", "title": "Aggregates", "panels": panels}})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// phaseResult is one run's measurements.
type phaseResult struct {
	elapsed      time.Duration
	events       int64
	cpuS         float64
	profileCPUS  float64 // the CPU profile's total
	engineCPUS   float64 // the CPU profile's in backend/aggregate's stacks
	fan          latency.Summary
	update       latency.Summary // to the hub
	updateClient latency.Summary // publish → the client following the derived streams
	updateSent   latency.Summary // publish (before the ingest request) → the hub
	uncovered    int
	derived      int64
	stateBytes   float64
	rssKB        int64
	overflows    float64
}

func (p phaseResult) cpuPct() float64 { return p.cpuS / p.elapsed.Seconds() * 100 }

// receipt is a derived event as a client got it: the newest source time it
// covers and when it arrived.
type receipt struct{ covers, hub, at int64 } // Unix ms: source time, the hub's Ingested stamp, arrival at the client

func phase(c config, run int, withAggs bool) (phaseResult, error) {
	var r phaseResult
	extra := []string{"-conn-rate", "-1", "-max-conns", "50000", "-max-unauth-conns", "50000", "-max-unauth-per-addr", "50000"}
	if withAggs {
		extra = append(extra, "-dashboards", c.dashboards)
	}
	extra = append(extra, "-debug-addr", "127.0.0.1:0") // for its CPU profile
	srv, err := benchserver.Start(c.bin, c.web, extra...)
	if err != nil {
		return r, err
	}
	defer srv.Stop()
	tok, err := srv.Token("aggregate-bench")
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sources := make([]string, c.sources)
	for i := range sources {
		sources[i] = fmt.Sprintf("orders%d", i)
	}
	gen := newGenerator(c, sources)
	// Create every stream (and start every aggregate) before measuring.
	if _, err := gen.publishRows(srv.Addr, srv.Key, 10*len(sources), 1); err != nil {
		return r, err
	}

	var (
		wg      sync.WaitGroup
		fanMu   sync.Mutex
		fanLat  []time.Duration
		recMu   sync.Mutex
		recs    = map[string][]receipt{}
		clients []*client.Client
	)
	for range c.clients {
		cl := client.New(client.Config{URL: "ws://" + srv.Addr + "/api/v1/ws", Token: tok, Streams: []string{"fan0"},
			Limits: livestate.Limits{Rows: 1, Points: 1},
			OnEvent: func(ev *wire.Event) {
				if us, ok := ev.Values["pub_us"]; ok {
					d := time.Since(time.UnixMicro(int64(us)))
					fanMu.Lock()
					fanLat = append(fanLat, d)
					fanMu.Unlock()
				}
			}})
		clients = append(clients, cl)
	}
	if withAggs {
		var names []string
		for _, s := range c.specs {
			names = append(names, s.Stream())
		}
		clients = append(clients, client.New(client.Config{URL: "ws://" + srv.Addr + "/api/v1/ws", Token: tok, Streams: names,
			Limits: livestate.Limits{Rows: 100, Points: 1000},
			OnEvent: func(ev *wire.Event) {
				now := time.Now().UnixMilli()
				recMu.Lock()
				recs[ev.Stream] = append(recs[ev.Stream], receipt{covers: ev.Time, hub: ev.Ingested / 1e6, at: now})
				recMu.Unlock()
			}}))
	}
	for _, cl := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); _ = cl.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	if err := waitLive(clients, 60*time.Second); err != nil {
		return r, err
	}
	time.Sleep(2 * time.Second) // the aggregates built, the clients settled

	// Both runs of a pair are profiled (the profiler's own cost, about 1%,
	// is on both sides of the difference).
	profiled := make(chan error, 1)
	path := profilePath(c.profile, run, withAggs)
	go func() { profiled <- benchserver.CPUProfile(srv.DebugAddr, c.duration, path) }()
	cpuBefore := proc.CPUTicks(srv.Cmd.Process.Pid)
	start := time.Now()
	tick := 10 * time.Millisecond
	var sent, fanSent int64
	var batches []batch
	for time.Since(start) < c.duration {
		el := time.Since(start).Seconds()
		owed := int64(el*float64(c.rate)) - sent
		fanOwed := int64(el*float64(c.fanRate)) - fanSent
		for owed > 0 { // a late tick (the generator shares the cores) owes more
			n := min(owed, 5000)
			ms, err := gen.publishRows(srv.Addr, srv.Key, int(n), int(max(fanOwed, 0)))
			if err != nil {
				return r, err
			}
			batches = append(batches, batch{sent: ms, acked: time.Now().UnixMilli()})
			sent += n
			owed -= n
			fanSent += max(fanOwed, 0)
			fanOwed = 0
		}
		time.Sleep(tick)
	}
	r.elapsed = time.Since(start)
	r.cpuS = float64(proc.CPUTicks(srv.Cmd.Process.Pid)-cpuBefore) / proc.TicksPerSecond
	r.events = sent
	time.Sleep(2 * time.Second) // the last emits and deliveries
	if err := <-profiled; err != nil {
		return r, err
	}
	in, err := profileCPU(path, enginePrefix)
	if err != nil {
		return r, err
	}
	r.profileCPUS, r.engineCPUS = in.TotalS, in.InS
	r.rssKB = proc.RSSKB(srv.Cmd.Process.Pid)
	r.stateBytes = benchserver.Metric(srv.MetricsAddr, "telltale_agg_state_bytes")
	r.overflows = benchserver.Metric(srv.MetricsAddr, "telltale_agg_queue_overflows_total")
	fanMu.Lock()
	r.fan = latency.Summarize(fanLat)
	fanMu.Unlock()
	if withAggs {
		recMu.Lock()
		defer recMu.Unlock()
		var lat, client, sentLat []time.Duration
		for _, s := range c.specs {
			rs := recs[s.Stream()]
			r.derived += int64(len(rs))
			// A batch (it holds events of every source) is covered by the
			// first derived event to arrive that covers its time: the
			// latency a viewer sees, the coalescing included.
			sort.Slice(rs, func(i, j int) bool { return rs[i].covers < rs[j].covers })
			first := make([]int64, len(rs)+1)   // first[k]: earliest in the hub among rs[k:]
			firstAt := make([]int64, len(rs)+1) // and at the client
			first[len(rs)], firstAt[len(rs)] = 1<<63-1, 1<<63-1
			for k := len(rs) - 1; k >= 0; k-- {
				first[k] = min(first[k+1], rs[k].hub)
				firstAt[k] = min(firstAt[k+1], rs[k].at)
			}
			var own []time.Duration
			missed := 0
			for _, b := range batches {
				j := sort.Search(len(rs), func(k int) bool { return rs[k].covers >= b.sent })
				if j == len(rs) {
					missed++
					continue
				}
				// From the acknowledgement: the embedded store hands a batch to
				// the hub before ingest answers, so this is the source event
				// in the hub → the derived event in the hub (an upper bound:
				// the answer's way back to the generator is in it too).
				own = append(own, time.Duration(max(0, first[j]-b.acked))*time.Millisecond)
				if changesEveryEvent[s.Fn] {
					client = append(client, time.Duration(firstAt[j]-b.sent)*time.Millisecond)
					sentLat = append(sentLat, time.Duration(first[j]-b.sent)*time.Millisecond)
				}
			}
			if changesEveryEvent[s.Fn] {
				r.uncovered += missed
				lat = append(lat, own...)
			}
			if c.verbose {
				l := latency.Summarize(own)
				fmt.Fprintf(os.Stderr, "%s %-8s %-10s: %5d events, update p50 %4.0f ms p99 %4.0f ms, %d batches uncovered\n", s.Stream(), s.Fn, s.Window, len(rs), l.P50, l.P99, missed)
			}
		}
		r.update = latency.Summarize(lat)
		r.updateClient = latency.Summarize(client)
		r.updateSent = latency.Summarize(sentLat)
	}
	return r, nil
}

// changesEveryEvent are the functions whose value every source event
// changes, so every batch must be covered by a derived event: the update
// latency is theirs. A batch that moves no min, max, percentile or distinct
// count rightly emits nothing, and the next emit is not its latency.
var changesEveryEvent = map[string]bool{"count": true, "sum": true, "avg": true, "last": true, "rate": true}

// batch is one ingest request's sources: the time its events carry (the
// request's start) and when the answer came.
type batch struct{ sent, acked int64 }

// generator makes order rows: a key of keysCount (so current windows see
// updates), a region of groups, a customer, a total.
type generator struct {
	c       config
	sources []string
}

func newGenerator(c config, sources []string) *generator { return &generator{c: c, sources: sources} }

type ingestEvent struct {
	Stream string             `json:"stream"`
	Time   int64              `json:"time,omitempty"`
	Values map[string]float64 `json:"values,omitempty"`
	Row    *wire.Row          `json:"row,omitempty"`
}

// publishRows sends n rows spread over the sources and fan events of the
// fan-out stream in one request, all stamped now; it returns that time.
func (g *generator) publishRows(addr, key string, n, fan int) (int64, error) {
	now := time.Now()
	ms := now.UnixMilli()
	evs := make([]ingestEvent, 0, n+fan)
	for i := range n {
		evs = append(evs, ingestEvent{Stream: g.sources[i%len(g.sources)], Time: ms, Row: &wire.Row{
			Key: "k" + strconv.Itoa(rand.IntN(g.c.keysCount)),
			Fields: map[string]any{
				"region":   "r" + strconv.Itoa(rand.IntN(g.c.groups)),
				"customer": "c" + strconv.Itoa(rand.IntN(g.c.customers)),
				"total":    float64(rand.IntN(50000)) / 100,
			}}})
	}
	for range fan {
		evs = append(evs, ingestEvent{Stream: "fan0", Values: map[string]float64{"pub_us": float64(now.UnixMicro())}})
	}
	body, _ := json.Marshal(map[string]any{"events": evs})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ingest: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e map[string]string
		_ = json.NewDecoder(res.Body).Decode(&e)
		return 0, fmt.Errorf("ingest: %s: %s", res.Status, e["error"])
	}
	return ms, nil
}

// profilePath is where a run writes the server's CPU profile: path with the
// run's number and, without aggregates, -without before its extension
// (cpu.pprof → cpu-2.pprof, cpu-2-without.pprof), so that runs with and
// without can be compared function by function (go tool pprof -diff_base).
func profilePath(path string, run int, withAggs bool) string {
	ext := filepath.Ext(path)
	suffix := "-" + strconv.Itoa(run)
	if !withAggs {
		suffix += "-without"
	}
	return path[:len(path)-len(ext)] + suffix + ext
}

// enginePrefix is what the names of the aggregates' functions start with.
const enginePrefix = "github.com/telltale/telltale/backend/aggregate."

var httpClient = &http.Client{Timeout: 10 * time.Second}

func waitLive(cs []*client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		live := 0
		for _, c := range cs {
			c.Read(func(_ map[string]*livestate.Stream, i client.Info) {
				if i.Status == client.Live {
					live++
				}
			})
		}
		if live == len(cs) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("clients not live in time")
}

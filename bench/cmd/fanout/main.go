// Command fanout measures delivery to many WebSocket clients: it starts the
// telltale binary (or uses -addr), connects -clients clients with the
// project's client runtime, publishes through the ingest API with every event
// stamped at publish time, and reports deliveries/s, publish-to-receive
// latency, lost/duplicated/reordered events, resyncs, server CPU and RSS, and
// idle server memory per connection.
//
//	go run ./bench/cmd/fanout -clients 1000 -streams 1 -rate 200 -duration 10s -json
//
// With -reports on, each client also reports its freshness as a page does
// (issue 18); bench/results/2026-12-06-reports.md compares on with idle.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/bench/floor"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

type result struct {
	Clients        int     `json:"clients"`
	Streams        int     `json:"streams"`
	RatePerStream  int     `json:"rate_per_stream"`
	PayloadBytes   int     `json:"payload_bytes"`
	DurationS      float64 `json:"duration_s"`
	Published      int64   `json:"published"`
	Deliveries     int64   `json:"deliveries"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	P50ms          float64 `json:"p50_ms"`
	P95ms          float64 `json:"p95_ms"`
	P99ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	Lost           int64   `json:"lost"`
	Dup            int64   `json:"dup"`
	Reordered      int64   `json:"reordered"`
	Resyncs        int64   `json:"resyncs"`
	ServerCPU      float64 `json:"server_cpu_pct"`
	// GeneratorCPU is this process's CPU over the same phase: its clients
	// share the machine's cores with the server.
	GeneratorCPU  float64 `json:"generator_cpu_pct"`
	ServerRSSMB   float64 `json:"server_rss_mb"`
	IdleKBPerConn float64 `json:"idle_kb_per_conn"`
	// SettledKBPerConn is the same RSS difference read again after -settle:
	// what the connections cost once the runtime has returned the memory
	// the connection storm used for a moment (net/http's 8 KB of buffers
	// and a goroutine per connection being upgraded). LiveKBPerConn is the
	// server's heap and stacks after a GC, per connection, with
	// -server-heapprofile.
	SettledKBPerConn float64 `json:"settled_kb_per_conn,omitempty"`
	LiveKBPerConn    float64 `json:"live_kb_per_conn,omitempty"`
	// FramesPerS is the server's WebSocket frames written per second while
	// publishing; EventsPerFrame shows how much coalescing saved.
	FramesPerS     float64 `json:"server_frames_per_s"`
	EventsPerFrame float64 `json:"events_per_frame"`
	// BytesPerFrame is the server's bytes written per frame over the same
	// span (before compression): the frame size bench/cmd/sendfloor sends
	// to measure what the kernel alone costs per delivery here.
	BytesPerFrame float64 `json:"bytes_per_frame"`
	// ServerUsPerDelivery is the server's CPU time (user + system, from
	// /proc, over the publishing phase and the drain) per event delivered:
	// what the server spends for one delivery, whatever the generator costs
	// and however loaded the machine is. MsgsPerFrame is deliveries per
	// WebSocket frame the server wrote over the same span (1.0: one event
	// per frame, no coalescing).
	ServerUsPerDelivery float64 `json:"server_us_per_delivery,omitempty"`
	MsgsPerFrame        float64 `json:"msgs_per_frame,omitempty"`
	// With -floor: what a bare send of the same frame costs this machine at
	// the same shape (bench/floor), and the server's figure over it.
	FloorMode          string  `json:"floor_mode,omitempty"`
	FloorUsPerDelivery float64 `json:"floor_us_per_delivery,omitempty"`
	OverFloor          float64 `json:"over_floor,omitempty"`
	// With -reports: what the companions sent and got over the publishing
	// phase, and what the server counted (telltale_sla_reports_total).
	Reports        string  `json:"reports,omitempty"`
	ReportShape    string  `json:"report_shape,omitempty"`
	ReportsSent    int64   `json:"reports_sent,omitempty"`
	ReportBytes    float64 `json:"report_bytes_avg,omitempty"`
	SyncsSent      int64   `json:"syncs_sent,omitempty"`
	ClocksReceived int64   `json:"clocks_received,omitempty"`
	ReportErrors   int64   `json:"report_errors,omitempty"`
	ReportsTaken   float64 `json:"server_reports_taken,omitempty"`
	ReportsRefused float64 `json:"server_reports_refused,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

// tally is one client's record; OnEvent and Trace run under that client's
// lock, so it needs no lock of its own until the end. They run for every
// event of every client: the last seqs are a slice in the order of names,
// not a map, to keep the generator's own cost per event low.
type tally struct {
	lat       []time.Duration
	names     []string
	last      []uint64
	applied   int64
	skipped   int64 // seqs jumped over by a snapshot (a resync)
	snapshots int
	breaks    int64
}

// seq is where the client stands on stream.
func (tl *tally) seq(stream string) *uint64 {
	for i, n := range tl.names {
		if n == stream {
			return &tl.last[i]
		}
	}
	panic("fanout: an event of a stream the client does not follow: " + stream)
}

func run() error {
	floor.Reader()
	addr := flag.String("addr", "", "a running server (host:port); empty starts bin/telltale itself")
	key := flag.String("key", "", "ingest key for -addr (tenant demo)")
	token := flag.String("token", "", "operator token of tenant demo for -addr (telltale token -tenant demo -sub bench)")
	metricsAddr := flag.String("metrics-addr", "", "with -addr: the server's metrics listener (its -metrics-addr, host:port), for events per frame; empty leaves that figure out")
	bin := flag.String("bin", "bin/telltale", "the binary to start when -addr is empty")
	web := flag.String("web", "static", "its web folder")
	clients := flag.Int("clients", 1000, "WebSocket clients")
	streams := flag.Int("streams", 1, "streams, every client follows all")
	rate := flag.Int("rate", 200, "events/s per stream")
	payload := flag.Int("payload", 64, "extra bytes per event")
	duration := flag.Duration("duration", 10*time.Second, "how long to publish")
	asJSON := flag.Bool("json", false, "print the result as one JSON object on the last line")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's CPU profile here (to tell its cost from the server's)")
	serverProfile := flag.String("server-cpuprofile", "", "write the started server's CPU profile over the publishing phase here")
	idleWait := flag.Duration("idle-wait", 2*time.Second, "how long every client stays connected and idle before the server's memory is read")
	heapProfile := flag.String("server-heapprofile", "", "write the started server's heap profile (after a GC) with every client connected and idle here, and report live_kb_per_conn")
	gogc := flag.Int("gogc", 100, "the load generator's GOGC (its own garbage collector, not the server's): its thousands of clients allocate for every event they decode")
	reportDeflate := flag.Bool("report-deflate", false, `with -reports: the companions negotiate permessage-deflate and compress every report, as Chromium does on a page's socket (the server then inflates each, ~35 µs CPU for the 8 KB report); off, reports go uncompressed, as in every run before this flag`)
	reportShape := flag.String("report-shape", "packed", `with -reports on: "packed" sends each histogram as a page does (first bin and uvarint counts, wire.StageHist); "index" as index and counts arrays, as pages did before, and every run before this flag`)
	reports := flag.String("reports", "", `page-like reporting (issue 18): "on" gives each client a companion connection that sends a report every sla.ReportEvery and a sync every ping; "idle" opens the companions but sends only pongs (the baseline for "on"); empty: neither. (telltale takes them: issue 18; a server that does not answers each with reports_off)`)
	floorMode := flag.String("floor", "", `after the run, stop the server and measure the floor under server_us_per_delivery (bench/floor): a bare send of a bytes_per_frame frame to each of -clients loopback connections at the run's frames per connection per second, "uring" (as the flushers send) or "write" (a write(2) each); reports floor_us_per_delivery and over_floor, the server's figure over it`)
	settle := flag.Duration("settle", 0, "after the idle reading, wait this long and read the server's RSS again (settled_kb_per_conn): the connection storm's transient memory returned")
	flag.Parse()
	debug.SetGCPercent(*gogc)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	raiseFileLimit()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		server     *exec.Cmd // nil with -addr: no CPU or RSS to read
		debugAddr  string
		stopServer = func() {}
	)
	if *addr == "" {
		// All clients come from one address, and connect at once: the
		// per-address connection limit is off, and the caps (sockets not yet
		// signed in included) are above the largest run.
		extra := []string{"-conn-rate", "-1", "-max-conns", "50000", "-max-unauth-conns", "50000", "-max-unauth-per-addr", "50000"}
		if *serverProfile != "" || *heapProfile != "" {
			extra = append(extra, "-debug-addr", "127.0.0.1:0")
		}
		srv, err := benchserver.Start(*bin, *web, extra...)
		if err != nil {
			return err
		}
		defer srv.Stop()
		stopServer = srv.Stop
		if *token, err = srv.Token("fanout-bench"); err != nil {
			return err
		}
		server, *addr, *key, debugAddr, *metricsAddr = srv.Cmd, srv.Addr, srv.Key, srv.DebugAddr, srv.MetricsAddr
	} else if *key == "" || *token == "" {
		return errors.New("-addr needs -key, an ingest key of tenant demo, and -token, an operator token of tenant demo")
	}
	names := make([]string, *streams)
	for i := range names {
		names[i] = fmt.Sprintf("fan%d", i)
	}
	// Create the streams so clients find them (an empty hello-time snapshot
	// would be continued by seq 1 anyway, but this keeps the start clean).
	if err := publish(*addr, *key, names, 1, *payload); err != nil {
		return err
	}
	res := result{Clients: *clients, Streams: *streams, RatePerStream: *rate, PayloadBytes: *payload}
	rssBefore := serverRSS(server)

	tallies := make([]*tally, *clients)
	cs := make([]*client.Client, *clients)
	var wg sync.WaitGroup
	for i := range cs {
		tl := &tally{names: names, last: make([]uint64, len(names)), lat: make([]time.Duration, 0, int(duration.Seconds()+2)**rate**streams)}
		tallies[i] = tl
		cs[i] = client.New(client.Config{
			URL:     "ws://" + *addr + "/api/v1/ws",
			Token:   *token,
			Streams: names,
			Limits:  livestate.Limits{Rows: 1, Points: 1},
			Trace: func(stream string, _, seq uint64, snapshot bool) {
				last := tl.seq(stream)
				if snapshot {
					tl.snapshots++
					if seq > *last {
						tl.skipped += int64(seq - *last)
					}
				} else if seq != *last+1 {
					tl.breaks++
				}
				*last = seq
			},
			OnEvent: func(ev *wire.Event) {
				tl.applied++
				if us, ok := ev.Values["pub_us"]; ok {
					tl.lat = append(tl.lat, time.Since(time.UnixMicro(int64(us))))
				}
			},
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cs[i].Run(ctx)
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	if err := waitLive(cs, 60*time.Second); err != nil {
		return err
	}
	time.Sleep(*idleWait) // let the server settle before measuring idle memory
	if server != nil && *clients > 0 {
		res.IdleKBPerConn = float64(serverRSS(server)-rssBefore) / float64(*clients)
	}
	if server != nil && *clients > 0 && *settle > 0 {
		time.Sleep(*settle) // a duration to measure over, not a wait for a condition
		res.SettledKBPerConn = float64(serverRSS(server)-rssBefore) / float64(*clients)
	}
	if *heapProfile != "" && debugAddr != "" {
		if err := benchserver.FetchTo(fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", debugAddr), *heapProfile); err != nil {
			return err
		}
		if err := benchserver.FetchTo(fmt.Sprintf("http://%s/debug/pprof/heap?debug=1", debugAddr), *heapProfile+".memstats.txt"); err != nil {
			return err
		}
		if live, err := liveBytes(*heapProfile + ".memstats.txt"); err == nil && *clients > 0 {
			res.LiveKBPerConn = float64(live) / 1000 / float64(*clients)
		}
	}

	var rs reportStats
	switch *reports {
	case "":
	case "on", "idle":
		res.Reports = *reports
		res.ReportShape = *reportShape
		if *reportShape != "packed" && *reportShape != "index" {
			return fmt.Errorf("-report-shape %q: want packed or index", *reportShape)
		}
		if err := startReporters(ctx, *addr, *token, *clients, *reports == "on", *reportDeflate, *reportShape == "index", &rs, &wg); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-reports %q: want on, idle or nothing", *reports)
	}
	takenBefore := benchserver.Metric(*addr, `telltale_sla_reports_total{result="taken"}`)
	refusedBefore := benchserver.Metric(*addr, `telltale_sla_reports_total{result="refused"}`)

	cpuBefore, genBefore := serverTicks(server), proc.CPUTicks(os.Getpid())
	framesBefore, eventsBefore := benchserver.Metric(*metricsAddr, "telltale_ws_frames_out_total"), benchserver.Metric(*metricsAddr, "telltale_ws_events_out_total")
	bytesBefore := benchserver.Metric(*metricsAddr, "telltale_ws_bytes_out_total")
	profileDone := make(chan error, 1)
	if *serverProfile != "" {
		go func() { profileDone <- benchserver.CPUProfile(debugAddr, *duration, *serverProfile) }()
	} else {
		profileDone <- nil
	}
	start := time.Now()
	// Every 10 ms, publish what the rate owes by now: a late tick (a busy
	// server answers slowly) sends more, so the rate holds on average.
	tick := 10 * time.Millisecond
	var published int64 = 1 // the creating event
	for time.Since(start) < *duration {
		owed := int64(time.Since(start).Seconds()*float64(*rate)) + 1 - published
		if owed > 0 {
			if err := publish(*addr, *key, names, int(owed), *payload); err != nil {
				return err
			}
			published += owed
		}
		time.Sleep(tick)
	}
	elapsed := time.Since(start)
	res.Published = published * int64(*streams)
	// Drain: until every client holds every event, or 15 s.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !allHave(cs, names, uint64(published)) {
		time.Sleep(20 * time.Millisecond)
	}
	res.DurationS = elapsed.Seconds()
	frames := benchserver.Metric(*metricsAddr, "telltale_ws_frames_out_total") - framesBefore
	res.FramesPerS = frames / elapsed.Seconds()
	if frames > 0 {
		res.EventsPerFrame = (benchserver.Metric(*metricsAddr, "telltale_ws_events_out_total") - eventsBefore) / frames
		res.BytesPerFrame = (benchserver.Metric(*metricsAddr, "telltale_ws_bytes_out_total") - bytesBefore) / frames
	}
	if err := <-profileDone; err != nil {
		return err
	}
	res.ReportsSent, res.SyncsSent, res.ClocksReceived, res.ReportErrors = rs.reports.Load(), rs.syncs.Load(), rs.clocks.Load(), rs.errs.Load()
	if res.ReportsSent > 0 {
		res.ReportBytes = float64(rs.bytes.Load()) / float64(res.ReportsSent)
	}
	res.ReportsTaken = benchserver.Metric(*addr, `telltale_sla_reports_total{result="taken"}`) - takenBefore
	res.ReportsRefused = benchserver.Metric(*addr, `telltale_sla_reports_total{result="refused"}`) - refusedBefore
	if e := rs.lastErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "fanout: a reporter got an error frame:", *e)
	}
	res.GeneratorCPU = float64(proc.CPUTicks(os.Getpid())-genBefore) / proc.TicksPerSecond / elapsed.Seconds() * 100
	var serverCPUSeconds float64
	if server != nil {
		serverCPUSeconds = float64(serverTicks(server)-cpuBefore) / proc.TicksPerSecond
		res.ServerCPU = serverCPUSeconds / elapsed.Seconds() * 100
		res.ServerRSSMB = float64(serverRSS(server)) / 1024
	}
	cancel()
	wg.Wait()

	for _, c := range cs {
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { res.Dup += i.Duplicates })
	}
	var lat []time.Duration
	for _, tl := range tallies {
		lat = append(lat, tl.lat...)
		res.Deliveries += tl.applied
		res.Reordered += tl.breaks
		if tl.snapshots > *streams {
			res.Resyncs += int64(tl.snapshots - *streams)
		}
		got := tl.applied + tl.skipped
		if want := int64(published) * int64(*streams); got < want {
			res.Lost += want - got
		}
	}
	res.DeliveriesPerS = float64(res.Deliveries) / elapsed.Seconds()
	if res.Deliveries > 0 {
		res.ServerUsPerDelivery = serverCPUSeconds / float64(res.Deliveries) * 1e6
	}
	if frames > 0 {
		res.MsgsPerFrame = float64(res.Deliveries) / frames
	}
	l := latency.Summarize(lat)
	res.P50ms, res.P95ms, res.P99ms, res.MaxMs = l.P50, l.P95, l.P99, l.Max
	fmt.Printf("%d clients × %d streams at %d ev/s: %.0f deliveries/s; publish→receive p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; lost %d, dup %d, reordered %d, resyncs %d; server CPU %.0f%% (generator %.0f%%), RSS %.0f MB, idle %.1f KB/conn",
		res.Clients, res.Streams, res.RatePerStream, res.DeliveriesPerS, res.P50ms, res.P95ms, res.P99ms, res.MaxMs, res.Lost, res.Dup, res.Reordered, res.Resyncs, res.ServerCPU, res.GeneratorCPU, res.ServerRSSMB, res.IdleKBPerConn)
	if res.SettledKBPerConn > 0 {
		fmt.Printf(" (%.1f after %v)", res.SettledKBPerConn, *settle)
	}
	if res.LiveKBPerConn > 0 {
		fmt.Printf(", live %.1f KB/conn", res.LiveKBPerConn)
	}
	fmt.Printf("; %.0f frames/s, %.1f events/frame, %.0f bytes/frame, %.2f deliveries/frame", res.FramesPerS, res.EventsPerFrame, res.BytesPerFrame, res.MsgsPerFrame)
	if res.ServerUsPerDelivery > 0 {
		fmt.Printf(", server %.2f µs CPU/delivery", res.ServerUsPerDelivery)
	}
	if res.Reports != "" {
		fmt.Printf("; reports %s: %d sent (%.0f B avg), server took %.0f, refused %.0f; %d syncs, %d clocks; %d error frames",
			res.Reports, res.ReportsSent, res.ReportBytes, res.ReportsTaken, res.ReportsRefused, res.SyncsSent, res.ClocksReceived, res.ReportErrors)
	}
	fmt.Println()
	if *floorMode != "" {
		if err := measureFloor(&res, *floorMode, *duration, stopServer); err != nil {
			return err
		}
		fmt.Printf("floor (%s): %.2f µs CPU/send; the server %.2fx it\n", res.FloorMode, res.FloorUsPerDelivery, res.OverFloor)
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
	return nil
}

// measureFloor stops the server and measures what a bare send costs this
// machine at the run's shape: as many connections, as many frames a second
// each, frames as large.
func measureFloor(res *result, mode string, d time.Duration, stopServer func()) error {
	if res.BytesPerFrame == 0 || res.FramesPerS == 0 {
		return errors.New("-floor needs the server's frame counts (-metrics-addr with -addr)")
	}
	if res.ServerUsPerDelivery == 0 {
		return errors.New("-floor needs the server's CPU: it compares with a server fanout started itself")
	}
	stopServer()
	f, err := floor.Run(floor.Config{
		Conns:    res.Clients,
		Rate:     max(1, int(math.Round(res.FramesPerS/float64(res.Clients)))),
		Duration: d,
		Size:     int(math.Round(res.BytesPerFrame)),
		Mode:     mode,
	})
	if err != nil {
		return err
	}
	res.FloorMode, res.FloorUsPerDelivery = mode, f.UsPerSend
	res.OverFloor = res.ServerUsPerDelivery / f.UsPerSend
	return nil
}

// liveBytes is the heap and stack in use that a heap profile's memstats
// report (the profile was taken after a GC).
func liveBytes(memstats string) (int64, error) {
	b, err := os.ReadFile(memstats)
	if err != nil {
		return 0, err
	}
	var heap, stack int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			heap, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok {
			stack, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	if heap == 0 {
		return 0, errors.New("no HeapAlloc in the memstats")
	}
	return heap + stack, nil
}

func waitLive(cs []*client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
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
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d clients live after %v", live, len(cs), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allHave(cs []*client.Client, names []string, seq uint64) bool {
	for _, c := range cs {
		ok := true
		c.Read(func(st map[string]*livestate.Stream, _ client.Info) {
			for _, n := range names {
				if st[n].Seq < seq {
					ok = false
				}
			}
		})
		if !ok {
			return false
		}
	}
	return true
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// publish sends n events to each stream in one ingest request, each stamped
// with its publish time in microseconds.
func publish(addr, key string, names []string, n, payload int) error {
	type ev struct {
		Stream string             `json:"stream"`
		Values map[string]float64 `json:"values"`
		Row    *wire.Row          `json:"row,omitempty"`
	}
	pad := strings.Repeat("x", payload)
	evs := make([]ev, 0, n*len(names))
	now := float64(time.Now().UnixMicro())
	for _, s := range names {
		for i := 0; i < n; i++ {
			e := ev{Stream: s, Values: map[string]float64{"pub_us": now}}
			if payload > 0 {
				e.Row = &wire.Row{Key: "k", Fields: map[string]any{"pad": pad}}
			}
			evs = append(evs, e)
		}
	}
	body, _ := json.Marshal(map[string]any{"events": evs})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e map[string]string
		_ = json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("ingest: %s: %s", res.Status, e["error"])
	}
	return nil
}

// raiseFileLimit lifts the soft open-files limit to the hard one; the server,
// started after, inherits it but has its own table.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// serverTicks and serverRSS read the server process, 0 when there is none
// (an in-process server).
func serverTicks(cmd *exec.Cmd) int64 {
	if cmd == nil {
		return 0
	}
	return proc.CPUTicks(cmd.Process.Pid)
}

func serverRSS(cmd *exec.Cmd) int64 {
	if cmd == nil {
		return 0
	}
	return proc.RSSKB(cmd.Process.Pid)
}

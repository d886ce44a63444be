// Command neighbours measures how much one tenant's heavy ingest delays
// another's events, on the real server binary as users run it. Tenant B
// posts one small event every -b-every through HTTP ingest and follows its
// stream over a WebSocket with the project's client runtime, which stamps
// each event's arrival; B's commit→receive latency (from its ingest answer)
// and post→receive latency are measured quiet, then while tenant A ingests at
// its limits, one shape at a time: many new gauge names, many new series, big
// rows. A runs as a process of its own (this binary again, -role producer):
// by default a real producer at its limits, which waits Retry-After after a
// 429 and stops inventing names after a 422; -a-hostile ignores both. It
// also reports the server's heap growth per byte A got accepted, the CPU of
// the server, PostgreSQL and A, and on PostgreSQL what the database's
// backends waited on. With -browser, B's stream is also drawn by the built
// app in headless Chromium, and B's commit→paint p50/p99 and stages come from
// the page's own reports (browser.go); each phase is then a clock minute.
//
//	go build -o bin/telltale ./backend/cmd/telltale
//	go run ./bench/cmd/neighbours -store both -json
//	make build && go run ./bench/cmd/neighbours -browser -store both -json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

type phase struct {
	Store   string `json:"store"`
	Shape   string `json:"shape"` // quiet, gauges, series, rows
	BEvents int    `json:"b_events"`
	// From B's ingest answer (its commit) to B's WebSocket client: the
	// issue's commit→screen, less the page's rendering.
	CommitP50ms float64 `json:"b_commit_p50_ms"`
	CommitP99ms float64 `json:"b_commit_p99_ms"`
	CommitMaxms float64 `json:"b_commit_max_ms"`
	// From B's request start: also counts B's own ingest round trip.
	PostP50ms float64 `json:"b_post_p50_ms"`
	PostP99ms float64 `json:"b_post_p99_ms"`
	// Against the quiet phase just before: the goal is
	// CommitRatio ≤ 2. On the embedded store B's event reaches its client
	// before B's ingest answer (commit→receive is 0), so PostRatio is the
	// one that measures there.
	CommitRatio float64 `json:"b_commit_p99_ratio,omitempty"`
	PostRatio   float64 `json:"b_post_p99_ratio,omitempty"`
	// B's ingest round trip alone (post to answer).
	IngestP99ms float64 `json:"b_ingest_p99_ms"`
	// A's side, zero when quiet.
	A           producerResult `json:"a"`
	AMBps       float64        `json:"a_mb_per_s"`
	ACPU        float64        `json:"a_cpu_pct"`
	ServerCPU   float64        `json:"server_cpu_pct"`
	PostgresCPU float64        `json:"postgres_cpu_pct,omitempty"`
	BenchCPU    float64        `json:"bench_cpu_pct"`
	// MachineCPU is every core's busy time (200% is two cores busy);
	// OtherCPU is what is not the server, PostgreSQL, A or this process.
	MachineCPU float64 `json:"machine_cpu_pct"`
	OtherCPU   float64 `json:"other_cpu_pct"`
	// ServerPeakCPU is the 95th percentile of the server's CPU over 200 ms
	// windows of the phase (200% is both cores): how bursty A's load is.
	ServerPeakCPU float64 `json:"server_cpu_p95_200ms_pct"`
	// CPUWait is the share of the phase during which some runnable task
	// of the machine waited for a CPU (/proc/pressure/cpu "some").
	CPUWait     float64 `json:"cpu_wait_pct"`
	SettleS     float64 `json:"settle_s"` // how long after the phase the server took to go idle
	HeapGrowth  int64   `json:"heap_growth_bytes"`
	HeapPerByte float64 `json:"heap_growth_per_byte_sent"`
	PGWaits     string  `json:"pg_waits,omitempty"` // average backends per wait event
	PGCommits   int64   `json:"pg_commits,omitempty"`
	PGWalSyncs  int64   `json:"pg_wal_syncs,omitempty"`
	PGWalMB     float64 `json:"pg_wal_mb,omitempty"`
	// -browser: what B's page measured and reported over the phase's
	// minute (GET /api/v1/sla): event→paint, where the event's first stamp
	// is its store's (for HTTP ingest the commit's start), so the issue's
	// commit→screen. Stages is each stage's p99.
	Page *pageSLA `json:"page,omitempty"`
	// PageCPU is B's Chromium (every process of it), % of a core: on one
	// machine the page shares the cores with the server and A, which a
	// real operator's browser does not.
	PageCPU   float64 `json:"page_cpu_pct,omitempty"`
	PageRatio float64 `json:"page_p99_ratio,omitempty"`
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-role" && os.Args[2] == "producer" {
		if err := producer(os.Args[3:]); err != nil {
			fmt.Fprintln(os.Stderr, "neighbours producer:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "neighbours:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, bEvery, settle time.Duration
	aWorkers, width, points  int
	rounds                   int
	hostile                  bool
	aCPU, serverCPU          string
	profileDir               string
	browser                  bool
	chromium, webDir         string
}

// defaultWidth is A's event at its default caps: a request of 1,000 new
// series or gauge names (the series cap is 1,000; gauges fill their 10,000
// in ten requests), a row of 250 fields (under the 256 cap).
var defaultWidth = map[string]int{"gauges": 1000, "series": 1000, "rows": 250}

func run() error {
	stores := flag.String("store", "both", "embedded, postgres or both")
	bin := flag.String("bin", "bin/telltale", "the server binary (go build -o bin/telltale ./backend/cmd/telltale)")
	admin := flag.String("pg-admin", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create the run's database on (dropped at the end)")
	shapes := flag.String("shapes", "gauges,series,rows", "A's event shapes, comma-separated: gauges (new gauge names), series (new point series), rows (big rows)")
	serverFlags := flag.String("server-flags", "", "extra server flags, space-separated, e.g. '-tenant-limits tenant-a:ingest_rate=1048576'")
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each phase (B's samples: duration / b-every)")
	flag.DurationVar(&o.bEvery, "b-every", 20*time.Millisecond, "B posts one event this often")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "longest wait after a phase for the server to go idle (A's backlog folded) before the next")
	flag.IntVar(&o.rounds, "rounds", 1, "times to measure every shape, each after a quiet phase of its own")
	flag.IntVar(&o.aWorkers, "a-workers", 2, "A's concurrent posting loops")
	flag.IntVar(&o.width, "width", 0, "new names per A event (gauges, series) or fields per row (rows); 0: at the default caps (1000, 1000, 250)")
	flag.IntVar(&o.points, "points", 16, "timestamps per A series event")
	flag.BoolVar(&o.hostile, "a-hostile", false, "A ignores 429 and 422 and posts new names again at once, as a hostile client would; default: A honours Retry-After and stops adding names at its caps")
	flag.StringVar(&o.aCPU, "a-cpu", "", "pin A's producer to these CPUs (taskset -c list)")
	flag.StringVar(&o.serverCPU, "server-cpu", "", "pin the server to these CPUs (taskset -c list)")
	flag.StringVar(&o.profileDir, "profile-dir", "", "save the server's CPU profile of each A phase here (store-shape.pprof)")
	flag.BoolVar(&o.browser, "browser", false, "also measure B's commit→paint on a real page (headless Chromium, the built app of -web-dir) from the page's own reports; each phase is then one whole clock minute (-duration is ignored)")
	flag.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "Chromium for -browser")
	flag.StringVar(&o.webDir, "web-dir", "static", "the built app for -browser (make build)")
	asJSON := flag.Bool("json", false, "print the results as one JSON array on the last line")
	flag.Parse()
	if o.browser {
		o.duration = time.Minute
	}

	var all []phase
	for _, st := range strings.Split(*stores, ",") {
		names := []string{st}
		if st == "both" {
			names = []string{"embedded", "postgres"}
		}
		for _, name := range names {
			res, err := runStore(name, *bin, *admin, strings.Fields(*serverFlags), strings.Split(*shapes, ","), o)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			all = append(all, res...)
		}
	}
	if o.browser {
		fmt.Printf("%-9s %-7s %8s %11s %11s %7s %6s  %s\n", "store", "A shape", "painted", "paint p50", "paint p99", "ratio", "page%", "stage p99s (ms)")
		for _, p := range all {
			if p.Page != nil {
				fmt.Printf("%-9s %-7s %8d %9.1fms %9.1fms %6.1fx %6.0f  %s\n", p.Store, p.Shape, p.Page.Painted, p.Page.P50ms, p.Page.P99ms, p.PageRatio, p.PageCPU, p.Page.Stages)
			}
		}
	}
	fmt.Printf("%-9s %-7s %6s %11s %11s %7s %11s %7s %9s %8s %7s %6s %7s %6s %6s %6s %6s %6s %8s\n", "store", "A shape", "B n", "commit p50", "commit p99", "ratio", "post p99", "ratio", "ingest99", "A MB/s", "A 429", "srv%", "srvp95%", "pg%", "A%", "other%", "cpuwt%", "heapMB", "settle s")
	for _, p := range all {
		fmt.Printf("%-9s %-7s %6d %9.1fms %9.1fms %6.1fx %9.1fms %6.1fx %7.1fms %8.2f %7d %6.0f %7.0f %6.0f %6.0f %6.0f %6.0f %6.1f %8.1f\n", p.Store, p.Shape, p.BEvents, p.CommitP50ms, p.CommitP99ms, p.CommitRatio, p.PostP99ms, p.PostRatio, p.IngestP99ms,
			p.AMBps, p.A.Throttled, p.ServerCPU, p.ServerPeakCPU, p.PostgresCPU, p.ACPU, p.OtherCPU, p.CPUWait, float64(p.HeapGrowth)/(1<<20), p.SettleS)
	}
	for _, p := range all {
		if p.PGWaits != "" {
			fmt.Printf("%s %s: PostgreSQL backends waiting (average per sample): %s; %d commits, %d WAL syncs, %.1f MB WAL\n", p.Store, p.Shape, p.PGWaits, p.PGCommits, p.PGWalSyncs, p.PGWalMB)
		}
	}
	if *asJSON {
		b, _ := json.Marshal(all)
		fmt.Println(string(b))
	}
	return nil
}

// bClient is tenant B's WebSocket client: it stamps each of B's events (its
// value x is its index) as the client runtime applies it.
type bClient struct {
	mu sync.Mutex
	at map[int]time.Time
}

func (b *bClient) seen(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.at[i]
	return ok
}

func runStore(name, bin, admin string, extra, shapes []string, o options) ([]phase, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	webDir := ""
	if o.browser {
		webDir = o.webDir
	}
	srv, err := startServer(ctx, bin, name, admin, o.serverCPU, webDir, extra)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	url := "http://" + srv.addr + "/api/v1/ingest"
	bc := &bClient{at: map[int]time.Time{}}
	next := 0 // B's next index
	postB := func() (time.Time, time.Time, error) {
		at := time.Now()
		st, err := post(ctx, http.DefaultClient, url, srv.keyB, []byte(fmt.Sprintf(`{"events":[{"stream":"b","values":{"x":%d}}]}`, next)))
		if err != nil {
			return at, at, err
		}
		if st != http.StatusOK {
			return at, at, fmt.Errorf("B: answer %d", st)
		}
		next++
		return at, time.Now(), nil
	}
	// B's stream exists before its client subscribes.
	if _, _, err := postB(); err != nil {
		return nil, err
	}
	c := client.New(client.Config{
		URL:     "ws://" + srv.addr + "/api/v1/ws",
		Token:   srv.token,
		Streams: []string{"b"},
		Limits:  livestate.Limits{Rows: 1, Points: 1},
		OnEvent: func(ev *wire.Event) {
			if x, ok := ev.Values["x"]; ok {
				now := time.Now()
				bc.mu.Lock()
				bc.at[int(x)] = now
				bc.mu.Unlock()
			}
		},
	})
	cdone := make(chan struct{})
	go func() {
		defer close(cdone)
		_ = c.Run(ctx)
	}()
	defer func() {
		cancel()
		<-cdone
	}()
	// Ten unmeasured events: the connections are open and warm before the
	// clock starts.
	for range 10 {
		if _, _, err := postB(); err != nil {
			return nil, err
		}
	}
	if err := waitUntil(30*time.Second, func() bool { return bc.seen(next - 1) }); err != nil {
		return nil, fmt.Errorf("B's client: %w", err)
	}
	var pg *page
	if o.browser {
		if pg, err = openPage(o.chromium, "http://"+srv.addr, srv.token); err != nil {
			return nil, err
		}
		defer pg.close()
	}

	// A quiet phase before each of A's: the machine's other load moves
	// from minute to minute, so each of A's phases is compared with the
	// quiet one just before it.
	// Each round's A writes a stream of its own: a stream already at its
	// caps from the round before would refuse every new name.
	type step struct {
		shape  string
		stream string
	}
	var order []step
	for r := range o.rounds {
		for _, shape := range shapes {
			order = append(order, step{"quiet", ""}, step{shape, fmt.Sprintf("a-%s-%d", shape, r)})
		}
	}
	var out []phase
	var quiet phase
	for _, st := range order {
		shape := st.shape
		p := phase{Store: name, Shape: shape}
		heap0 := liveHeap(srv.debugAddr)
		var (
			aCmd    *exec.Cmd
			aOut    bytes.Buffer
			profErr = make(chan error, 1)
			waits   func() *waitSampler
		)
		if srv.dsn != "" {
			if _, waits, err = sampleWaits(ctx, srv.dsn); err != nil {
				return nil, err
			}
		}
		// -browser: the phase is the minute from start; A starts a
		// report's length before it (lead).
		start := time.Now()
		var lead time.Duration
		if o.browser {
			margin := sla.ReportEvery + 2*time.Second
			start = nextMinute(time.Now().Add(margin))
			if shape != "quiet" {
				lead = time.Until(start)
			}
		}
		if shape != "quiet" {
			self, err := os.Executable()
			if err != nil {
				return nil, err
			}
			width := o.width
			if width == 0 {
				width = defaultWidth[shape]
			}
			args := []string{"-role", "producer", "-url", url, "-key", srv.keyA, "-stream", st.stream, "-shape", shape,
				"-width", fmt.Sprint(width), "-points", fmt.Sprint(o.points), "-workers", fmt.Sprint(o.aWorkers),
				"-duration", (lead + o.duration).String(), fmt.Sprintf("-hostile=%v", o.hostile)}
			if o.aCPU != "" {
				aCmd = exec.Command("taskset", append([]string{"-c", o.aCPU, self}, args...)...)
			} else {
				aCmd = exec.Command(self, args...)
			}
			aCmd.Stdout, aCmd.Stderr = &aOut, os.Stderr
			if err := aCmd.Start(); err != nil {
				return nil, err
			}
		}
		time.Sleep(time.Until(start))
		if o.profileDir != "" && shape != "quiet" {
			go func() {
				profErr <- benchserver.CPUProfile(srv.debugAddr, o.duration, filepath.Join(o.profileDir, name+"-"+shape+".pprof"))
			}()
		} else {
			profErr <- nil
		}
		peak := sampleCPU(srv.cmd.Process.Pid, 200*time.Millisecond)
		srv0, pg0, me0, m0, w0 := proc.CPUTicks(srv.cmd.Process.Pid), postgresTicks(), proc.CPUTicks(os.Getpid()), machineTicks(), cpuStall()
		var page0 int64
		if pg != nil {
			page0 = pg.cpuTicks()
		}
		start = time.Now()
		first := next
		var sent, acked []time.Time
		due := time.Now()
		for time.Since(start) < o.duration {
			if d := time.Until(due); d > 0 {
				time.Sleep(d) // B's pace
			}
			due = due.Add(o.bEvery)
			at, ack, err := postB()
			if err != nil {
				return nil, err
			}
			sent, acked = append(sent, at), append(acked, ack)
		}
		if aCmd != nil {
			if err := aCmd.Wait(); err != nil {
				return nil, fmt.Errorf("A's producer: %w", err)
			}
			if p.A, err = parseProducer(aOut.Bytes()); err != nil {
				return nil, err
			}
		}
		elapsed := time.Since(start).Seconds()
		ticks := func(d int64) float64 { return float64(d) / elapsed } // ticks/s = % of a core
		p.ServerCPU, p.BenchCPU = ticks(proc.CPUTicks(srv.cmd.Process.Pid)-srv0), ticks(proc.CPUTicks(os.Getpid())-me0)
		if srv.dsn != "" {
			p.PostgresCPU = ticks(postgresTicks() - pg0)
		}
		p.ACPU = p.A.CPUs / elapsed * 100
		p.ServerPeakCPU = peak()
		p.MachineCPU = ticks(machineTicks() - m0)
		p.CPUWait = float64(cpuStall()-w0) / 1e4 / elapsed
		if pg != nil {
			p.PageCPU = ticks(pg.cpuTicks() - page0)
		}
		p.OtherCPU = max(0, p.MachineCPU-p.ServerCPU-p.PostgresCPU-p.ACPU-p.BenchCPU-p.PageCPU)
		if waits != nil {
			w := waits()
			p.PGWaits, p.PGCommits, p.PGWalSyncs, p.PGWalMB = w.top(6), w.commits, w.walSync, w.walMB
		}
		if err := <-profErr; err != nil {
			return nil, err
		}
		if err := waitUntil(o.settle, func() bool { return bc.seen(next - 1) }); err != nil {
			return nil, fmt.Errorf("%s: B's last event: %w", shape, err)
		}
		// A's backlog: the server is idle again before the next phase.
		settled := time.Now()
		for time.Since(settled) < o.settle {
			t0 := proc.CPUTicks(srv.cmd.Process.Pid)
			time.Sleep(500 * time.Millisecond) // a window to measure CPU over
			if proc.CPUTicks(srv.cmd.Process.Pid)-t0 <= 5 {
				break
			}
		}
		p.SettleS = time.Since(settled).Seconds()

		var commit, postLat, ing []time.Duration
		bc.mu.Lock()
		for i := range sent {
			got, ok := bc.at[first+i]
			if !ok {
				bc.mu.Unlock()
				return nil, fmt.Errorf("%s: B's event %d never arrived", shape, first+i)
			}
			commit = append(commit, max(0, got.Sub(acked[i])))
			postLat = append(postLat, got.Sub(sent[i]))
			ing = append(ing, acked[i].Sub(sent[i]))
		}
		bc.mu.Unlock()
		cl, pl, il := latency.Summarize(commit), latency.Summarize(postLat), latency.Summarize(ing)
		p.BEvents = len(commit)
		p.CommitP50ms, p.CommitP99ms, p.CommitMaxms = cl.P50, cl.P99, cl.Max
		p.PostP50ms, p.PostP99ms, p.IngestP99ms = pl.P50, pl.P99, il.P99
		p.AMBps = float64(p.A.Bytes) / (1 << 20) / (lead + o.duration).Seconds()
		if pg != nil {
			// The minute's last report is sent when it ends.
			from := start.Truncate(time.Minute)
			time.Sleep(time.Until(from.Add(time.Minute + 3*time.Second)))
			ps, err := querySLA("http://"+srv.addr, srv.token, from, from.Add(time.Minute))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", shape, err)
			}
			p.Page = &ps
		}
		p.HeapGrowth = liveHeap(srv.debugAddr) - heap0
		if p.A.Bytes > 0 {
			p.HeapPerByte = float64(p.HeapGrowth) / float64(p.A.Bytes)
		}
		fmt.Fprintf(os.Stderr, "%s %s: B commit→receive p50 %.1f ms p99 %.1f ms max %.1f ms (post→receive p99 %.1f, ingest p99 %.1f) over %d events; A %d requests (%d ok, %d 429, %d 422) %.2f MB/s, CPU server %.0f%% postgres %.0f%% A %.0f%% bench %.0f%% other %.0f%%; settled in %.1fs; heap %+.1f MB %s\n",
			name, shape, p.CommitP50ms, p.CommitP99ms, p.CommitMaxms, p.PostP99ms, p.IngestP99ms, p.BEvents, p.A.Requests, p.A.Accepted, p.A.Throttled, p.A.OverCap, p.AMBps,
			p.ServerCPU, p.PostgresCPU, p.ACPU, p.BenchCPU, p.OtherCPU, p.SettleS, float64(p.HeapGrowth)/(1<<20), p.PGWaits)
		if p.Page != nil {
			fmt.Fprintf(os.Stderr, "%s %s: B's page commit→paint p50 %.1f ms p99 %.1f ms over %d painted; stage p99s %s; page CPU %.0f%%\n", name, shape, p.Page.P50ms, p.Page.P99ms, p.Page.Painted, p.Page.Stages, p.PageCPU)
		}
		if shape == "quiet" {
			quiet = p
		} else if quiet.CommitP99ms > 0 && quiet.PostP99ms > 0 {
			p.CommitRatio, p.PostRatio = p.CommitP99ms/quiet.CommitP99ms, p.PostP99ms/quiet.PostP99ms
		}
		if shape != "quiet" && p.Page != nil && quiet.Page != nil && quiet.Page.P99ms > 0 {
			p.PageRatio = p.Page.P99ms / quiet.Page.P99ms
		}
		out = append(out, p)
	}
	return out, nil
}

func waitUntil(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func post(ctx context.Context, c *http.Client, url, key string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		var r ingest.Response
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, err
		}
	}
	return resp.StatusCode, nil
}

// Command neighbours measures how much one tenant's heavy ingest delays
// another's events. Tenant B posts one small event every -b-every through
// HTTP ingest and a hub subscriber stamps its arrival; its post→receive
// latency is measured quiet, then while tenant A posts wide events as fast as
// -a-workers can (one shape at a time: many new gauge names, many new series,
// big rows). It also reports the Go heap's growth per byte A sent, by shape.
// Both stores run in this process exactly as the server wires them (ingest
// handler → store → hub; on PostgreSQL through the follower).
//
//	go run ./bench/cmd/neighbours -store both -json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/bench/latency"
)

type phase struct {
	Store   string  `json:"store"`
	Shape   string  `json:"shape"` // quiet, gauges, series, rows
	BEvents int     `json:"b_events"`
	P50ms   float64 `json:"b_p50_ms"`
	P99ms   float64 `json:"b_p99_ms"`
	MaxMs   float64 `json:"b_max_ms"`
	// From B's ingest answer (its commit) to the hub: the part after the
	// store. post→hub above also counts B's own ingest round trip.
	AckP50ms float64 `json:"b_commit_p50_ms"`
	AckP99ms float64 `json:"b_commit_p99_ms"`
	// A's side, zero when quiet.
	ARequests   int64   `json:"a_requests"`
	ARefused    int64   `json:"a_refused"`
	ABytes      int64   `json:"a_bytes"`
	AMBps       float64 `json:"a_mb_per_s"`
	AHubLagS    float64 `json:"a_hub_lag_s"` // how long after A stopped the hub had all of A's events
	HeapGrowth  int64   `json:"heap_growth_bytes"`
	HeapPerByte float64 `json:"heap_growth_per_byte_sent"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "neighbours:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, bEvery, drain, showSlow time.Duration
	aWorkers, width, points           int
	ingestRate                        float64
}

func run() error {
	stores := flag.String("store", "both", "embedded, postgres or both")
	dsn := flag.String("dsn", os.Getenv("DATABASE_URL"), "PostgreSQL to use (migrated if needed); empty: a database of its own on 127.0.0.1:5432 as postgres, dropped at the end")
	shapes := flag.String("shapes", "gauges,series,rows", "A's event shapes, comma-separated: gauges (new gauge names), series (new point series), rows (big rows)")
	var o options
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of each phase")
	flag.Float64Var(&o.ingestRate, "ingest-rate", 4<<20, "each tenant's ingest rate in body bytes/s, as the server's -ingest-rate (burst 8 MiB); negative: none")
	flag.DurationVar(&o.bEvery, "b-every", 20*time.Millisecond, "B posts one event this often")
	flag.DurationVar(&o.drain, "drain", 60*time.Second, "how long to wait for the hub to hold all of A's events after a phase")
	flag.DurationVar(&o.showSlow, "show-slow", 0, "print each of B's events slower than this (0: none), to see when stalls happen")
	flag.IntVar(&o.aWorkers, "a-workers", 2, "A's concurrent posting goroutines (each posts as fast as it can)")
	flag.IntVar(&o.width, "width", 4000, "new names per A event (gauges, series) or fields per row (rows)")
	flag.IntVar(&o.points, "points", 16, "timestamps per A series event")
	asJSON := flag.Bool("json", false, "print the results as one JSON array on the last line")
	flag.Parse()

	var all []phase
	for _, st := range strings.Split(*stores, ",") {
		names := []string{st}
		if st == "both" {
			names = []string{"embedded", "postgres"}
		}
		for _, name := range names {
			res, err := runStore(name, *dsn, strings.Split(*shapes, ","), o)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			all = append(all, res...)
		}
	}
	fmt.Printf("%-9s %-7s %8s %8s %8s %10s %10s %8s %9s %9s %10s %11s\n", "store", "A shape", "B p50", "B p99", "B max", "commit p50", "commit p99", "A MB/s", "A reqs", "A lag s", "heap MB", "heap/byte")
	for _, p := range all {
		fmt.Printf("%-9s %-7s %6.1fms %6.1fms %6.1fms %8.1fms %8.1fms %8.2f %9d %9.2f %10.1f %11.2f\n", p.Store, p.Shape, p.P50ms, p.P99ms, p.MaxMs, p.AckP50ms, p.AckP99ms,
			p.AMBps, p.ARequests, p.AHubLagS, float64(p.HeapGrowth)/(1<<20), p.HeapPerByte)
	}
	if *asJSON {
		b, _ := json.Marshal(all)
		fmt.Println(string(b))
	}
	return nil
}

// rig is one store wired as the server wires it.
type rig struct {
	store string
	hub   *hub.Hub
	url   string
	stop  func()
}

func runStore(name, dsn string, shapes []string, o options) ([]phase, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &rig{store: name, hub: hub.New(hub.Config{})}
	keys := ingest.StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b"}
	var st ingest.Store
	switch name {
	case "embedded":
		st = memstore.New(memstore.Config{Sink: r.hub.Publish})
		r.stop = func() {}
	case "postgres":
		pool, drop, err := database(ctx, dsn)
		if err != nil {
			return nil, err
		}
		defer drop()
		defer pool.Close()
		if _, err := pgstore.Migrate(ctx, pool); err != nil {
			return nil, err
		}
		// Start from empty tables: earlier runs' streams would be warmed.
		if _, err := pool.Exec(ctx, `DELETE FROM telltale.events WHERE tenant IN ('tenant-a', 'tenant-b')`); err != nil {
			return nil, err
		}
		if _, err := pool.Exec(ctx, `DELETE FROM telltale.streams WHERE tenant IN ('tenant-a', 'tenant-b')`); err != nil {
			return nil, err
		}
		ps := pgstore.New(pgstore.Config{Pool: pool, Sink: r.hub.Publish})
		done := make(chan error, 1)
		go func() { done <- ps.Run(ctx) }()
		select {
		case <-ps.Ready():
		case err := <-done:
			return nil, err
		}
		st = ps
		r.stop = func() { cancel(); <-done }
	default:
		return nil, fmt.Errorf("-store %q: want embedded, postgres or both", name)
	}
	defer r.stop()
	srv := httptest.NewServer(ingest.New(ingest.Config{Store: st, Keys: keys, Limits: r.hub, TenantRate: o.ingestRate, TenantBurst: 8 << 20})) // as the server wires it: caps checked against what the hub holds, the default rate
	defer srv.Close()
	r.url = srv.URL

	var out []phase
	p, err := r.phase(ctx, "quiet", o)
	if err != nil {
		return nil, err
	}
	out = append(out, p)
	for _, shape := range shapes {
		p, err := r.phase(ctx, shape, o)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// database returns a pool on dsn, or on a fresh database of its own.
func database(ctx context.Context, dsn string) (*pgxpool.Pool, func(), error) {
	if dsn != "" {
		pool, err := pgxpool.New(ctx, dsn)
		return pool, func() {}, err
	}
	admin := "postgres://postgres@127.0.0.1:5432/postgres"
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("telltale_neighbours_%d", time.Now().UnixNano()%1e9)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return nil, nil, err
	}
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/"+name)
	drop := func() {
		c := context.Background()
		_, _ = conn.Exec(c, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(c)
	}
	return pool, drop, err
}

// arrivals stamps B's events as the hub hands them to a subscriber.
type arrivals struct {
	mu sync.Mutex
	at map[uint64]time.Time
}

func (a *arrivals) seen(seq uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.at[seq]
	return ok
}

func (a *arrivals) Snapshot(string, []byte) {}
func (a *arrivals) Resync(string, string)   {}
func (a *arrivals) Deliver(_ string, first uint64, evs [][]byte) {
	now := time.Now()
	a.mu.Lock()
	for i := range evs {
		a.at[first+uint64(i)] = now
	}
	a.mu.Unlock()
}

func (r *rig) phase(ctx context.Context, shape string, o options) (phase, error) {
	p := phase{Store: r.store, Shape: shape}
	bStream := "b-" + shape
	arr := &arrivals{at: map[uint64]time.Time{}}
	cancelSub, err := r.hub.Subscribe("tenant-b", bStream, arr)
	if err != nil {
		return p, err
	}
	defer cancelSub()
	// B's stream exists and the connections are open before the clock
	// starts: the phase measures B's steady flow, not its first event.
	const base = 10
	for i := 0; i < base; i++ {
		if _, err := post(ctx, http.DefaultClient, r.url, "key-b", []byte(fmt.Sprintf(`{"events":[{"stream":%q,"values":{"x":0}}]}`, bStream))); err != nil {
			return p, err
		}
	}
	for !arr.seen(base) {
		time.Sleep(10 * time.Millisecond)
	}
	heap0 := liveHeap()

	stopAt := time.Now().Add(o.duration)
	var (
		wg                  sync.WaitGroup
		aReqs, aRef, aBytes atomic.Int64
		aLast               atomic.Uint64
		aFirstErr           atomic.Value
		nameCounter         atomic.Int64
		aStream             = "a-" + shape
		client              = &http.Client{Timeout: 30 * time.Second}
	)
	if shape != "quiet" {
		for w := 0; w < o.aWorkers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stopAt) {
					body := wideBody(aStream, shape, o, nameCounter.Add(1))
					resp, err := post(ctx, client, r.url, "key-a", body)
					if err != nil {
						aFirstErr.CompareAndSwap(nil, err)
						return
					}
					aReqs.Add(1)
					if resp.status/100 == 4 {
						// Past a cap: the producer is told, the rest go on.
						aRef.Add(1)
						continue
					}
					if resp.status != http.StatusOK {
						aFirstErr.CompareAndSwap(nil, fmt.Errorf("A: %d %s", resp.status, resp.body))
						return
					}
					aBytes.Add(int64(len(body)))
					if s := resp.lastSeq; s > aLast.Load() {
						aLast.Store(s) // racy max is fine: only the last phase value is read
					}
				}
			}()
		}
	}
	// B: one small event at a time, paced.
	var sent, acked []time.Time
	next := time.Now()
	for time.Now().Before(stopAt) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(o.bEvery)
		at := time.Now()
		resp, err := post(ctx, client, r.url, "key-b", []byte(fmt.Sprintf(`{"events":[{"stream":%q,"values":{"x":%d}}]}`, bStream, len(sent))))
		if err != nil {
			return p, err
		}
		if resp.status != http.StatusOK {
			return p, fmt.Errorf("B: %d %s", resp.status, resp.body)
		}
		if resp.lastSeq != uint64(base+len(sent)+1) {
			return p, fmt.Errorf("B: got seq %d, want %d", resp.lastSeq, base+len(sent)+1)
		}
		sent = append(sent, at)
		acked = append(acked, time.Now())
	}
	wg.Wait()
	aStopped := time.Now()
	if err, _ := aFirstErr.Load().(error); err != nil {
		return p, err
	}
	// Wait for B's last event and A's last event to reach the hub.
	deadline := time.Now().Add(o.drain)
	for {
		bDone := arr.seen(uint64(base + len(sent)))
		c, _ := r.hub.Cursor("tenant-a", aStream)
		aDone := c.Seq >= aLast.Load()
		if bDone && aDone {
			p.AHubLagS = time.Since(aStopped).Seconds()
			break
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("%s: after %v the hub holds B at %d of %d and A at %d of %d", shape, o.drain, len(arr.at), len(sent), c.Seq, aLast.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lat, ack []time.Duration
	arr.mu.Lock()
	for i, at := range sent {
		if got, ok := arr.at[uint64(base+i+1)]; ok {
			lat = append(lat, max(0, got.Sub(at)))
			ack = append(ack, max(0, got.Sub(acked[i])))
			if o.showSlow > 0 && got.Sub(at) > o.showSlow {
				fmt.Fprintf(os.Stderr, "  slow B seq %d at +%v: %v\n", i+1, at.Sub(sent[0]).Round(time.Millisecond), got.Sub(at).Round(time.Millisecond))
			}
		}
	}
	arr.mu.Unlock()
	l := latency.Summarize(lat)
	p.BEvents, p.P50ms, p.P99ms, p.MaxMs = len(lat), l.P50, l.P99, l.Max
	a := latency.Summarize(ack)
	p.AckP50ms, p.AckP99ms = a.P50, a.P99
	p.ARequests, p.ARefused, p.ABytes = aReqs.Load(), aRef.Load(), aBytes.Load()
	p.AMBps = float64(p.ABytes) / (1 << 20) / o.duration.Seconds()
	p.HeapGrowth = liveHeap() - heap0
	if p.ABytes > 0 {
		p.HeapPerByte = float64(p.HeapGrowth) / float64(p.ABytes)
	}
	fmt.Fprintf(os.Stderr, "%s %s: B p50 %.1f ms p99 %.1f ms max %.1f ms over %d events; A %d requests (%d refused), %.1f MB, hub lag %.2fs; heap %+.1f MB\n",
		r.store, shape, p.P50ms, p.P99ms, p.MaxMs, p.BEvents, p.ARequests, p.ARefused, float64(p.ABytes)/(1<<20), p.AHubLagS, float64(p.HeapGrowth)/(1<<20))
	return p, nil
}

// wideBody is one A request: one event whose every name is new (n makes
// them unique across requests), so each one grows the stream's state.
func wideBody(stream, shape string, o options, n int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"events":[{"stream":%q,`, stream)
	switch shape {
	case "gauges":
		b.WriteString(`"values":{`)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"g%d_%d":%d.25`, n, i, i)
		}
		b.WriteString(`}`)
	case "series":
		now := time.Now().UnixMilli()
		b.WriteString(`"points":{"ts":[`)
		for j := 0; j < o.points; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", now-int64(o.points-j))
		}
		b.WriteString(`],"cols":[`)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"s%d_%d","vals":[`, n, i)
			for j := 0; j < o.points; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%d.5", j)
			}
			b.WriteString(`]}`)
		}
		b.WriteString(`]}`)
	case "rows":
		fmt.Fprintf(&b, `"row":{"key":"r%d","fields":{`, n)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"f%d":"value %d of row %d, padded to be a realistic text field"`, i, i, n)
		}
		b.WriteString(`}}`)
	default:
		panic("unknown shape " + shape)
	}
	b.WriteString(`}]}`)
	return b.Bytes()
}

type answer struct {
	status  int
	body    string
	lastSeq uint64
}

func post(ctx context.Context, c *http.Client, url, key string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	if resp.StatusCode == http.StatusOK {
		var r ingest.Response
		if err := json.Unmarshal(b, &r); err != nil {
			return a, err
		}
		if len(r.Events) == 0 {
			return a, errors.New("accepted without seqs")
		}
		a.lastSeq = r.Events[len(r.Events)-1].Seq
	}
	return a, nil
}

// liveHeap is the live heap after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

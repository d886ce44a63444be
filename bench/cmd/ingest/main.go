// Command ingest measures PostgreSQL ingest: it publishes through one path
// (batched Go publisher, single-event telltale.publish calls, or one-row
// inserts into a watched table) for a while,
// follows the table into a real hub exactly as the server does, and reports
// sustained committed events/s, commit-to-hub latency percentiles, and any
// event lost or reordered on the way.
//
//	go run ./bench/cmd/ingest -dsn postgres://postgres@127.0.0.1:5432/bench -path batch -max -json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/shared/wire"
)

type result struct {
	Path        string  `json:"path"`
	Streams     int     `json:"streams"`
	Batch       int     `json:"batch"`
	Workers     int     `json:"workers"`
	DurationS   float64 `json:"duration_s"`
	Committed   int64   `json:"committed"`
	EventsPerS  float64 `json:"events_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Lost        int64   `json:"lost"`
	Reordered   int64   `json:"reordered"`
	Duplicated  int64   `json:"duplicated"`
	PublishErrs int64   `json:"publish_errors"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run() error {
	dsn := flag.String("dsn", os.Getenv("DATABASE_URL"), "PostgreSQL to publish into (migrated if needed); default $DATABASE_URL")
	path := flag.String("path", "batch", "batch: Go publisher, one publish_batch round trip per batch; single: one telltale.publish call per event; watch: one-row inserts into a watched table (one per stream), sequenced by the follower's sequencer")
	streams := flag.Int("streams", 4, "streams published to in parallel")
	workers := flag.Int("workers", 0, "publishing goroutines; 0 means one per stream (batch) or 8 (single)")
	rate := flag.Int("rate", 0, "target events/s over all streams; 0 with -max means as fast as possible")
	maxRate := flag.Bool("max", false, "publish as fast as possible")
	batch := flag.Int("batch", 500, "events per publish_batch call (batch path)")
	duration := flag.Duration("duration", 10*time.Second, "how long to publish")
	asJSON := flag.Bool("json", false, "print the result as one JSON object on the last line")
	flag.Parse()
	if *dsn == "" {
		return errors.New("-dsn or DATABASE_URL is required")
	}
	if *rate == 0 && !*maxRate {
		*maxRate = true
	}
	if *workers == 0 {
		*workers = *streams
		if *path == "single" || *path == "watch" {
			*workers = 8
		}
	}
	if *path != "batch" && *path != "single" && *path != "watch" {
		return fmt.Errorf("-path %q: want batch, single or watch", *path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*workers + 8)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		return err
	}
	tenant := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9)

	// The follower feeds a real hub; the sink wrapper stamps arrival.
	var (
		mu        sync.Mutex
		committed = map[string]map[uint64]time.Time{}
		byKey     = map[string]time.Time{} // watch: a row's commit, or its arrival if first
		arrived   = map[string]uint64{}    // last seq seen per stream
		lat       []time.Duration
		res       = result{Path: *path, Streams: *streams, Batch: *batch, Workers: *workers}
		seen      atomic.Int64
	)
	h := hub.New(hub.Config{})
	sink := func(t string, evs []wire.Event) {
		now := time.Now()
		h.Publish(t, evs)
		if t != tenant {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			last := arrived[ev.Stream]
			switch {
			case ev.Seq <= last:
				res.Duplicated++
				continue
			case ev.Seq != last+1:
				res.Reordered++
			}
			arrived[ev.Stream] = ev.Seq
			seen.Add(1)
			if ev.Row != nil {
				// A watched row: its seq is given after its commit, so it
				// is matched by key.
				k := ev.Stream + "/" + ev.Row.Key
				if c, ok := byKey[k]; ok {
					lat = append(lat, max(0, now.Sub(c)))
					delete(byKey, k)
				} else {
					byKey[k] = time.Time{} // arrived before its writer saw the commit
				}
				continue
			}
			if c, ok := committed[ev.Stream][ev.Seq]; ok {
				lat = append(lat, max(0, now.Sub(c)))
				delete(committed[ev.Stream], ev.Seq)
			}
		}
	}
	if *path == "watch" {
		// One watched table per stream, the tenant in a column, as a user's
		// own table would be.
		for i := 0; i < *streams; i++ {
			tbl := fmt.Sprintf("bench_watch_%d", i)
			for _, sql := range []string{
				`DROP TABLE IF EXISTS ` + tbl,
				`CREATE TABLE ` + tbl + ` (id bigint PRIMARY KEY, tenant text NOT NULL, v double precision)`,
				fmt.Sprintf(`SELECT telltale.watch('%s', 's%d', 'tenant')`, tbl, i),
			} {
				if _, err := pool.Exec(ctx, sql); err != nil {
					return fmt.Errorf("%s: %w", sql, err)
				}
			}
			defer pool.Exec(context.Background(), `DROP TABLE `+tbl)
		}
	}
	store := pgstore.New(pgstore.Config{Pool: pool, Sink: sink, ScanInterval: time.Second})
	followDone := make(chan error, 1)
	fctx, fcancel := context.WithCancel(ctx)
	go func() { followDone <- store.Run(fctx) }()
	for ok, _ := store.Health(); !ok; ok, _ = store.Health() {
		time.Sleep(10 * time.Millisecond)
	}

	record := func(stream string, first uint64, n int, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		m := committed[stream]
		if m == nil {
			m = map[uint64]time.Time{}
			committed[stream] = m
		}
		for i := 0; i < n; i++ {
			if first+uint64(i) > arrived[stream] { // not already seen
				m[first+uint64(i)] = at
			}
		}
		res.Committed += int64(n)
	}

	recordKey := func(stream, key string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		k := stream + "/" + key
		if c, ok := byKey[k]; ok && c.IsZero() {
			lat = append(lat, 0)
			delete(byKey, k)
		} else {
			byKey[k] = at
		}
		res.Committed++
	}
	var nextID atomic.Int64

	// Pacing: each worker gets an equal share of -rate.
	var perWorker time.Duration
	if !*maxRate {
		unit := 1
		if *path == "batch" {
			unit = *batch
		}
		perWorker = time.Duration(float64(time.Second) * float64(unit) * float64(*workers) / float64(*rate))
	}
	// Publishing stops at the deadline between calls, never by cancelling one:
	// a call cancelled after its commit would be counted as not committed.
	stopAt := time.Now().Add(*duration)
	pctx := ctx
	start := time.Now()
	var wg sync.WaitGroup
	var errs atomic.Int64
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("s%d", w%*streams)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			next := time.Now()
			for time.Now().Before(stopAt) {
				if perWorker > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(perWorker)
				}
				switch *path {
				case "batch":
					evs := make([]wire.Event, *batch)
					for i := range evs {
						evs[i].Values = map[string]float64{"v": rng.Float64(), "w": float64(i)}
					}
					if err := store.Append(pctx, tenant, stream, evs); err != nil {
						if pctx.Err() == nil {
							errs.Add(1)
						}
						continue
					}
					record(stream, evs[0].Seq, len(evs), time.Now())
				case "single":
					var seq int64
					err := pool.QueryRow(pctx, `SELECT telltale.publish($1, $2, $3)`, tenant, stream,
						fmt.Sprintf(`{"values":{"v":%g}}`, rng.Float64())).Scan(&seq)
					if err != nil {
						if pctx.Err() == nil {
							errs.Add(1)
						}
						continue
					}
					record(stream, uint64(seq), 1, time.Now())
				case "watch":
					id := nextID.Add(1)
					_, err := pool.Exec(pctx, `INSERT INTO bench_watch_`+stream[1:]+` VALUES ($1, $2, $3)`, id, tenant, rng.Float64())
					if err != nil {
						if pctx.Err() == nil {
							errs.Add(1)
						}
						continue
					}
					recordKey(stream, strconv.FormatInt(id, 10), time.Now())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.DurationS = elapsed.Seconds()
	res.PublishErrs = errs.Load()
	res.EventsPerS = float64(res.Committed) / elapsed.Seconds()

	// Drain: wait until the follower has every committed event, or 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for seen.Load() < res.Committed && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	fcancel()
	if err := <-followDone; err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	res.Lost = res.Committed - seen.Load()
	l := latency.Summarize(lat)
	res.P50ms, res.P95ms, res.P99ms, res.MaxMs = l.P50, l.P95, l.P99, l.Max
	fmt.Printf("%s: %d events in %.1fs over %d streams: %.0f events/s committed; commit→hub p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; lost %d, reordered %d, duplicated %d, publish errors %d\n",
		res.Path, res.Committed, res.DurationS, res.Streams, res.EventsPerS, res.P50ms, res.P95ms, res.P99ms, res.MaxMs, res.Lost, res.Reordered, res.Duplicated, res.PublishErrs)
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
	// Clean up the run's rows so repeated runs do not grow the database.
	if _, err := pool.Exec(context.Background(), `DELETE FROM telltale.events WHERE tenant = $1`, tenant); err != nil {
		return err
	}
	_, err = pool.Exec(context.Background(), `DELETE FROM telltale.streams WHERE tenant = $1`, tenant)
	return err
}

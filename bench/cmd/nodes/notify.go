package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyCost is one measurement of single-row commits with or without a
// NOTIFY in each transaction.
type notifyCost struct {
	Notify    bool    `json:"notify"`
	Workers   int     `json:"workers"`
	Listeners int     `json:"listeners"`
	Seconds   float64 `json:"seconds"`
	Commits   int64   `json:"commits"`
	TPS       float64 `json:"tps"`
	// PGCPUUsPerCommit is PostgreSQL's CPU (the cluster's processes, or
	// every postgres process on an existing server) per commit.
	PGCPUUsPerCommit float64 `json:"pg_cpu_us_per_commit"`
	Received         int64   `json:"notifications_received"`
}

// measureNotify measures PostgreSQL's commit rate for one-row inserts by
// workers connections, each on a stream of its own (no row lock shared),
// with and without a pg_notify in the same transaction, while listeners
// connections LISTEN: a NOTIFY takes a lock that is held from the
// notifying transaction's commit record through its WAL flush, one commit
// at a time for the whole cluster, so notifying commits cannot share a
// flush. Pairs alternate (off, on, off, on, …) on a loaded machine.
func measureNotify(ctx context.Context, c *cluster, workers, listeners, pairs int, d time.Duration) ([]notifyCost, error) {
	db, err := c.createDatabase(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	cfg, err := pgxpool.ParseConfig(db.dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(workers)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_notify (id bigserial PRIMARY KEY, worker int NOT NULL, body jsonb NOT NULL)`); err != nil {
		return nil, err
	}
	var received atomic.Int64
	lctx, lcancel := context.WithCancel(ctx)
	var lwg sync.WaitGroup
	defer func() {
		lcancel()
		lwg.Wait()
	}()
	for range listeners {
		conn, err := pgx.Connect(ctx, db.dsn)
		if err != nil {
			return nil, err
		}
		if _, err := conn.Exec(ctx, "LISTEN nodes_bench"); err != nil {
			conn.Close(ctx)
			return nil, err
		}
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			defer conn.Close(context.Background())
			for {
				if _, err := conn.WaitForNotification(lctx); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	var out []notifyCost
	for p := range pairs * 2 {
		on := p%2 == 1
		q := `INSERT INTO bench_notify (worker, body) VALUES ($1::int, '{"values":{"x":1}}')`
		if on {
			q = `WITH i AS (INSERT INTO bench_notify (worker, body) VALUES ($1::int, '{"values":{"x":1}}') RETURNING id)
				SELECT pg_notify('nodes_bench', 'demo/s' || $1::int || ':1:' || id) FROM i`
		}
		var commits atomic.Int64
		recv0 := received.Load()
		t0 := clusterTicks(c)
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, d)
		var wg sync.WaitGroup
		var firstErr atomic.Pointer[error]
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for wctx.Err() == nil {
					if _, err := pool.Exec(wctx, q, w); err != nil {
						if wctx.Err() == nil {
							firstErr.CompareAndSwap(nil, &err)
						}
						return
					}
					commits.Add(1)
				}
			}()
		}
		wg.Wait()
		cancel()
		if e := firstErr.Load(); e != nil {
			return nil, fmt.Errorf("notify cost: %w", *e)
		}
		secs := time.Since(start).Seconds()
		r := notifyCost{Notify: on, Workers: workers, Listeners: listeners, Seconds: secs, Commits: commits.Load()}
		r.TPS = float64(r.Commits) / secs
		if r.Commits > 0 {
			r.PGCPUUsPerCommit = float64(ticksDelta(t0, clusterTicks(c))) * 1e6 / ticksPerSecond / float64(r.Commits)
		}
		// The listeners drain what was sent before the next measurement.
		time.Sleep(500 * time.Millisecond)
		r.Received = received.Load() - recv0
		out = append(out, r)
	}
	return out, nil
}

// clusterTicks is PostgreSQL's CPU: the own cluster's processes, or every
// postgres process of the machine.
func clusterTicks(c *cluster) map[int]int64 {
	if c.postmaster != 0 {
		return treeTicks(c.postmaster)
	}
	return commTicks("postgres")
}

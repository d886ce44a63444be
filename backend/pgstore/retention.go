package pgstore

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long events are kept: a row is deleted only when it is
// both beyond the newest KeepEvents of its stream and older than KeepFor, so
// a quiet stream keeps its last KeepEvents however old, and a busy one keeps
// at least KeepFor of history. Per-stream overrides live in telltale.streams
// (keep_events, keep_for).
type Retention struct {
	KeepEvents int64         // zero means 100000
	KeepFor    time.Duration // zero means 24h
	Interval   time.Duration // how often to sweep; zero means 1 minute
	Batch      int           // rows deleted per statement; zero means 5000
}

func (r *Retention) defaults() {
	if r.KeepEvents <= 0 {
		r.KeepEvents = 100000
	}
	if r.KeepFor <= 0 {
		r.KeepFor = 24 * time.Hour
	}
	if r.Interval <= 0 {
		r.Interval = time.Minute
	}
	if r.Batch <= 0 {
		r.Batch = 5000
	}
}

// Sweep deletes what retention allows, in small batches so that no statement
// holds locks or bloats WAL for long. It returns how many rows it deleted.
func (s *Store) Sweep(ctx context.Context, r Retention) (int64, error) {
	r.defaults()
	rows, err := s.cfg.Pool.Query(ctx, `SELECT tenant, stream,
		last_seq - coalesce(keep_events, $1),
		now() - coalesce(keep_for, make_interval(secs => $2))
		FROM telltale.streams`, r.KeepEvents, r.KeepFor.Seconds())
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	type target struct {
		tenant, stream string
		maxSeq         int64
		before         time.Time
	}
	var targets []target
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.tenant, &t.stream, &t.maxSeq, &t.before); err != nil {
			rows.Close()
			return 0, fmt.Errorf("retention: %w", err)
		}
		if t.maxSeq > 0 {
			targets = append(targets, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	var total int64
	for _, t := range targets {
		for {
			// Walks the primary key from the oldest row: the rows to delete
			// are the first ones it meets.
			tag, err := s.cfg.Pool.Exec(ctx, `DELETE FROM telltale.events WHERE tenant = $1 AND stream = $2 AND seq IN (
				SELECT seq FROM telltale.events WHERE tenant = $1 AND stream = $2 AND seq <= $3 AND ts < $4
				ORDER BY seq LIMIT $5)`, t.tenant, t.stream, t.maxSeq, t.before, r.Batch)
			if err != nil {
				return total, fmt.Errorf("retention %s/%s: %w", t.tenant, t.stream, err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(r.Batch) {
				break
			}
		}
	}
	return total, nil
}

// RunRetention sweeps every r.Interval until ctx ends.
func (s *Store) RunRetention(ctx context.Context, r Retention) error {
	r.defaults()
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.Sweep(ctx, r)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("retention sweep", "err", err)
		} else if n > 0 {
			s.log.Info("retention sweep", "deleted", n)
		}
	}
}

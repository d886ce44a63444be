package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

// Retention says how long events are kept: a row is deleted only when it is
// both beyond the newest KeepEvents of its stream and stored longer ago than
// KeepFor (by when it was stored, not the producer's event time, so a batch of
// old events is never deleted before anyone could read it), so
// a quiet stream keeps its last KeepEvents however old, and a busy one keeps
// at least KeepFor of history. Per-stream overrides live in telltale.streams
// (keep_events, keep_for). A tenant's dashboard changes stream keeps a row
// of every dashboard the tenant has, however old (reannounce).
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
		if t.stream == dashboard.ChangesStream {
			if _, err := s.reannounce(ctx, t.tenant, t.maxSeq, t.before); err != nil {
				return total, fmt.Errorf("retention %s/%s: %w", t.tenant, t.stream, err)
			}
		}
		for {
			// The oldest Batch rows of the stream (a primary-key walk), of
			// which the prefix stored before the cut-off goes. stored grows
			// with seq (rows are inserted under the stream's lock), so the
			// first young row ends the sweep: no statement walks more than
			// Batch rows, however much history is kept.
			tag, err := s.cfg.Pool.Exec(ctx, `WITH c AS (
					SELECT seq, stored FROM telltale.events
					 WHERE tenant = $1 AND stream = $2 AND seq <= $3 ORDER BY seq LIMIT $5),
				cut AS (SELECT max(seq) AS last, coalesce(min(seq) FILTER (WHERE stored >= $4), 9223372036854775807) AS young FROM c)
				DELETE FROM telltale.events e USING cut
				 WHERE e.tenant = $1 AND e.stream = $2 AND e.seq <= cut.last AND e.seq < cut.young`,
				t.tenant, t.stream, t.maxSeq, t.before, r.Batch)
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

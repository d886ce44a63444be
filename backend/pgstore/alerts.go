package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/shared/wire"
)

// What the leader keeps of alerts so that the next leader goes on where it
// stopped (migration 0012): the webhook's delivery cursor per tenant
// (alert.Cursors) and when the evaluator began to count a stream's silence
// (alert.SilenceClock).

// AlertCursor is where the tenant's alert webhook delivery stands (its
// alerts stream's epoch and the last seq taken); false when none is kept.
func (s *Store) AlertCursor(ctx context.Context, tenant string) (wire.Cursor, bool, error) {
	var epoch, seq int64
	err := s.cfg.Pool.QueryRow(ctx, `SELECT epoch, seq FROM telltale.alert_deliveries WHERE tenant = $1`, tenant).Scan(&epoch, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return wire.Cursor{}, false, nil
	}
	if err != nil {
		return wire.Cursor{}, false, fmt.Errorf("read the alert delivery cursor of %s: %w", tenant, err)
	}
	return wire.Cursor{Epoch: uint64(epoch), Seq: uint64(seq)}, true, nil
}

// SetAlertCursor keeps c as the tenant's delivery cursor, in a transaction
// db begins (the leader's lock connection: a node that lost the lock cannot
// move it). Within one epoch it only moves forward.
func (s *Store) SetAlertCursor(ctx context.Context, db Beginner, tenant string, c wire.Cursor) error {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO telltale.alert_deliveries AS d (tenant, epoch, seq) VALUES ($1, $2, $3)
			ON CONFLICT (tenant) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq, updated = now()
			WHERE d.epoch <> excluded.epoch OR d.seq < excluded.seq`, tenant, int64(c.Epoch), int64(c.Seq))
		return err
	})
	if err != nil {
		return fmt.Errorf("keep the alert delivery cursor of %s: %w", tenant, err)
	}
	return nil
}

// SilentSince is when the stream's silence counts from: its newest stored
// event's time, or else when it was first asked about (now, kept), so that
// every node answers the same across restarts and changes of leader.
func (s *Store) SilentSince(ctx context.Context, tenant, stream string, now time.Time) (time.Time, error) {
	// The outer SELECT does not see the row its own INSERT adds (one
	// snapshot): the inserted one comes from RETURNING.
	var since *time.Time
	err := s.cfg.Pool.QueryRow(ctx, `WITH added AS (
			INSERT INTO telltale.alert_silence (tenant, stream, since) VALUES ($1, $2, $3)
			ON CONFLICT (tenant, stream) DO NOTHING RETURNING since)
		SELECT coalesce(
			(SELECT e.ts FROM telltale.streams st JOIN telltale.events e
				ON e.tenant = st.tenant AND e.stream = st.stream AND e.seq = st.last_seq
				WHERE st.tenant = $1 AND st.stream = $2),
			(SELECT since FROM added),
			(SELECT since FROM telltale.alert_silence WHERE tenant = $1 AND stream = $2))`,
		tenant, stream, now).Scan(&since)
	if err != nil {
		return time.Time{}, fmt.Errorf("read when %s fell silent: %w", stream, err)
	}
	if since == nil { // another session's row, committed after this one's snapshot
		return now, nil
	}
	return *since, nil
}

// ForgetSilence drops what SilentSince keeps of the stream: no target
// judges it any more.
func (s *Store) ForgetSilence(ctx context.Context, tenant, stream string) error {
	if _, err := s.cfg.Pool.Exec(ctx, `DELETE FROM telltale.alert_silence WHERE tenant = $1 AND stream = $2`, tenant, stream); err != nil {
		return fmt.Errorf("forget when %s fell silent: %w", stream, err)
	}
	return nil
}

// Head is the stream's epoch and last seq as the table has them; false
// for a stream the tenant does not have.
func (s *Store) Head(ctx context.Context, tenant, stream string) (wire.Cursor, bool, error) {
	var epoch, last int64
	err := s.cfg.Pool.QueryRow(ctx, `SELECT epoch, last_seq FROM telltale.streams WHERE tenant = $1 AND stream = $2`, tenant, stream).Scan(&epoch, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return wire.Cursor{}, false, nil
	}
	if err != nil {
		return wire.Cursor{}, false, fmt.Errorf("read the head of %s: %w", stream, err)
	}
	return wire.Cursor{Stream: stream, Epoch: uint64(epoch), Seq: uint64(last)}, true, nil
}

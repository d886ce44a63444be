package sla

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vmihailenco/msgpack/v5"
)

// PGStore keeps rollups in PostgreSQL, in telltale.sla_rollups (migration
// 0010_sla of package pgstore, which must have run).
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore keeps rollups in pool's database.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

// pgBody is a row's body column, in msgpack.
type pgBody struct {
	Stages  map[string][]byte `msgpack:"stages"` // the library's encoding, without the mapping
	Stale   []Stale           `msgpack:"stale,omitempty"`
	Screens []uint64          `msgpack:"screens,omitempty"`
}

var rollupColumns = []string{"tenant", "dashboard", "minute", "hour", "panel", "painted", "fresh_ms", "stale_ms", "body"}

// selectColumns is rollupColumns, for a SELECT or a RETURNING.
const selectColumns = `tenant, dashboard, minute, hour, panel, painted, fresh_ms, stale_ms, body`

// Save inserts rs (one COPY); rows of a key already saved add up when read.
func (p *PGStore) Save(ctx context.Context, rs []*Rollup) error {
	return save(ctx, p.pool, rs)
}

func save(ctx context.Context, db interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}, rs []*Rollup) error {
	rows := make([][]any, 0, len(rs))
	for _, ru := range rs {
		if ru.encoded != nil {
			return fmt.Errorf("save %s/%s at %v: its stages are still encoded", ru.Dashboard, ru.Panel, ru.Minute)
		}
		body, err := msgpack.Marshal(pgBody{Stages: encodeStages(ru.Stages), Stale: ru.Stale, Screens: ru.Screens})
		if err != nil {
			return fmt.Errorf("encode rollup: %w", err)
		}
		rows = append(rows, []any{ru.Tenant, ru.Dashboard, ru.Minute, ru.Hour, ru.Panel,
			int64(min(ru.Painted, math.MaxInt64)), ru.FreshMs, ru.StaleMs, body})
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"telltale", "sla_rollups"}, rollupColumns, pgx.CopyFromRows(rows))
	return err
}

// scanRollup reads a row of selectColumns; its stages stay encoded until
// merged (Rollup.mergeCounts).
func scanRollup(rows pgx.Rows) (*Rollup, error) {
	ru := &Rollup{}
	var (
		painted int64
		body    []byte
	)
	if err := rows.Scan(&ru.Tenant, &ru.Dashboard, &ru.Minute, &ru.Hour, &ru.Panel, &painted, &ru.FreshMs, &ru.StaleMs, &body); err != nil {
		return nil, err
	}
	ru.Minute = ru.Minute.UTC()
	ru.Painted = uint64(painted)
	var b pgBody
	if err := msgpack.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("rollup %s/%s at %v: %w", ru.Dashboard, ru.Panel, ru.Minute, err)
	}
	ru.encoded, ru.Stale, ru.Screens = b.Stages, b.Stale, b.Screens
	if ru.encoded == nil {
		ru.encoded = map[string][]byte{}
	}
	return ru, nil
}

// Load reads the matching rows.
func (p *PGStore) Load(ctx context.Context, tenant, dashboard string, from, to time.Time, each func(*Rollup)) error {
	const cols = `SELECT ` + selectColumns + ` FROM telltale.sla_rollups `
	var (
		rows pgx.Rows
		err  error
	)
	// Minutes from from, hours from the hour that holds it.
	const period = `minute >= $2 AND minute < $3 AND (minute >= $4 OR hour)`
	hourFrom, minuteFrom := from.Truncate(time.Hour), from
	if dashboard == "" {
		rows, err = p.pool.Query(ctx, cols+`WHERE tenant = $1 AND `+period, tenant, hourFrom, to, minuteFrom)
	} else {
		rows, err = p.pool.Query(ctx, cols+`WHERE tenant = $1 AND dashboard = $5 AND `+period, tenant, hourFrom, to, minuteFrom, dashboard)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		ru, err := scanRollup(rows)
		if err != nil {
			return err
		}
		each(ru)
	}
	return rows.Err()
}

// Prune deletes the rows of minutes before before.
func (p *PGStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM telltale.sla_rollups WHERE minute < $1`, before)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// compactBatch is how many minute rows one transaction of Compact merges.
const compactBatch = 5000

// Compact merges the minute rows before before into hour rows, a batch a
// transaction: the batch's rows are deleted (locked, skipping rows another
// node's compaction holds) and their hours inserted in one transaction, so
// a row is counted once whatever fails or runs at once.
func (p *PGStore) Compact(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM telltale.sla_rollups WHERE ctid = ANY(ARRAY(
				SELECT ctid FROM telltale.sla_rollups WHERE NOT hour AND minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
				RETURNING `+selectColumns, before, compactBatch)
			if err != nil {
				return err
			}
			hours := map[key]*Rollup{}
			for rows.Next() {
				ru, err := scanRollup(rows)
				if err != nil {
					rows.Close()
					return err
				}
				hour := ru.Minute.Truncate(time.Hour)
				k := key{ru.Tenant, ru.Dashboard, ru.Panel, hour.Unix(), true}
				h := hours[k]
				if h == nil {
					h = newRollup(ru.Tenant, ru.Dashboard, ru.Panel, hour)
					h.Hour = true
					hours[k] = h
				}
				if _, err := h.mergeAll(ru); err != nil {
					rows.Close()
					return err
				}
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			batch := make([]*Rollup, 0, len(hours))
			for _, h := range hours {
				batch = append(batch, h)
			}
			return save(ctx, tx, batch)
		})
		if err != nil {
			return total, fmt.Errorf("merge minutes into hours: %w", err)
		}
		total += n
		if n < compactBatch {
			return total, nil
		}
	}
}

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

var rollupColumns = []string{"tenant", "dashboard", "minute", "panel", "painted", "fresh_ms", "stale_ms", "body"}

// Save inserts rs (one COPY); rows of a key already saved add up when read.
func (p *PGStore) Save(ctx context.Context, rs []*Rollup) error {
	rows := make([][]any, 0, len(rs))
	for _, ru := range rs {
		body, err := msgpack.Marshal(pgBody{Stages: encodeStages(ru.Stages), Stale: ru.Stale, Screens: ru.Screens})
		if err != nil {
			return fmt.Errorf("encode rollup: %w", err)
		}
		rows = append(rows, []any{ru.Tenant, ru.Dashboard, ru.Minute, ru.Panel,
			int64(min(ru.Painted, math.MaxInt64)), ru.FreshMs, ru.StaleMs, body})
	}
	_, err := p.pool.CopyFrom(ctx, pgx.Identifier{"telltale", "sla_rollups"}, rollupColumns, pgx.CopyFromRows(rows))
	return err
}

// Load reads the matching rows.
func (p *PGStore) Load(ctx context.Context, tenant, dashboard string, from, to time.Time, each func(*Rollup)) error {
	const cols = `SELECT dashboard, minute, panel, painted, fresh_ms, stale_ms, body FROM telltale.sla_rollups `
	var (
		rows pgx.Rows
		err  error
	)
	if dashboard == "" {
		rows, err = p.pool.Query(ctx, cols+`WHERE tenant = $1 AND minute >= $2 AND minute < $3`, tenant, from, to)
	} else {
		rows, err = p.pool.Query(ctx, cols+`WHERE tenant = $1 AND dashboard = $4 AND minute >= $2 AND minute < $3`, tenant, from, to, dashboard)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		ru := &Rollup{Tenant: tenant}
		var (
			painted int64
			body    []byte
		)
		if err := rows.Scan(&ru.Dashboard, &ru.Minute, &ru.Panel, &painted, &ru.FreshMs, &ru.StaleMs, &body); err != nil {
			return err
		}
		ru.Minute = ru.Minute.UTC()
		ru.Painted = uint64(painted)
		var b pgBody
		if err := msgpack.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("rollup %s/%s at %v: %w", ru.Dashboard, ru.Panel, ru.Minute, err)
		}
		if ru.Stages, err = decodeStages(b.Stages); err != nil {
			return fmt.Errorf("rollup %s/%s at %v: %w", ru.Dashboard, ru.Panel, ru.Minute, err)
		}
		ru.Stale, ru.Screens = b.Stale, b.Screens
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

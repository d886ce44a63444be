package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

var _ dashstore.Store = (*Store)(nil)

// List implements dashstore.Store.
func (s *Store) List(ctx context.Context, tenant string) ([]dashstore.Meta, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT v.id, v.title, v.version, v.saved, v.by_whom
		FROM telltale.dashboards d JOIN telltale.dashboard_versions v USING (tenant, id, version)
		WHERE d.tenant = $1 ORDER BY d.id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanMeta)
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	if out == nil {
		out = []dashstore.Meta{}
	}
	return out, nil
}

// Get implements dashstore.Store.
func (s *Store) Get(ctx context.Context, tenant, id string) (dashstore.Stored, error) {
	return s.stored(ctx, fmt.Sprintf("dashboard %.64q", id), `SELECT v.id, v.title, v.version, v.saved, v.by_whom, v.spec
		FROM telltale.dashboards d JOIN telltale.dashboard_versions v USING (tenant, id, version)
		WHERE d.tenant = $1 AND d.id = $2`, tenant, id)
}

// Version implements dashstore.Store.
func (s *Store) Version(ctx context.Context, tenant, id string, version int) (dashstore.Stored, error) {
	return s.stored(ctx, fmt.Sprintf("dashboard %.64q version %d", id, version), `SELECT id, title, version, saved, by_whom, spec
		FROM telltale.dashboard_versions WHERE tenant = $1 AND id = $2 AND version = $3`, tenant, id, version)
}

func (s *Store) stored(ctx context.Context, what, sql string, args ...any) (dashstore.Stored, error) {
	var (
		st   dashstore.Stored
		spec []byte
	)
	err := s.cfg.Pool.QueryRow(ctx, sql, args...).Scan(&st.ID, &st.Title, &st.Version, &st.Saved, &st.By, &spec)
	if errors.Is(err, pgx.ErrNoRows) {
		return dashstore.Stored{}, fmt.Errorf("%s: %w", what, dashstore.ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(spec, &st.Spec)
	}
	if err != nil {
		return dashstore.Stored{}, fmt.Errorf("read %s: %w", what, err)
	}
	st.Saved = st.Saved.UTC()
	return st, nil
}

// Versions implements dashstore.Store.
func (s *Store) Versions(ctx context.Context, tenant, id string) ([]dashstore.Meta, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT id, title, version, saved, by_whom
		FROM telltale.dashboard_versions WHERE tenant = $1 AND id = $2 ORDER BY version DESC`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("versions of dashboard %.64q: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, scanMeta)
	if err != nil {
		return nil, fmt.Errorf("versions of dashboard %.64q: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dashboard %.64q: %w", id, dashstore.ErrNotFound)
	}
	return out, nil
}

func scanMeta(row pgx.CollectableRow) (dashstore.Meta, error) {
	var m dashstore.Meta
	err := row.Scan(&m.ID, &m.Title, &m.Version, &m.Saved, &m.By)
	m.Saved = m.Saved.UTC()
	return m, err
}

// Put implements dashstore.Store: in one transaction, under the
// dashboard's row lock, it saves the next version, drops those past
// dashstore.MaxVersions and announces the change on the tenant's
// dashboard.ChangesStream (publish_batch); a failure anywhere saves nothing.
func (s *Store) Put(ctx context.Context, tenant string, d dashboard.Dashboard, by string) (dashstore.Meta, error) {
	spec, err := json.Marshal(d)
	if err != nil {
		return dashstore.Meta{}, fmt.Errorf("save dashboard %.64q: %w", d.ID, err)
	}
	var (
		m    dashstore.Meta
		sent committed // the announcement, for the follower's cache
	)
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		// The row exists (version 0 until this transaction saves one) and
		// is locked, so concurrent saves of one dashboard take turns.
		if _, err := tx.Exec(ctx, `INSERT INTO telltale.dashboards (tenant, id, version) VALUES ($1, $2, 0)
			ON CONFLICT (tenant, id) DO NOTHING`, tenant, d.ID); err != nil {
			return err
		}
		var (
			cur   int
			equal bool
		)
		if err := tx.QueryRow(ctx, `SELECT d.version, coalesce(v.spec = $3::jsonb, false)
			FROM telltale.dashboards d LEFT JOIN telltale.dashboard_versions v USING (tenant, id, version)
			WHERE d.tenant = $1 AND d.id = $2 FOR UPDATE OF d`, tenant, d.ID, spec).Scan(&cur, &equal); err != nil {
			return err
		}
		if cur == 0 {
			// A new dashboard: the tenant's creations take turns, so two
			// at once cannot both pass the cap.
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended('telltale.dashboards/' || $1, 0))) l,
				telltale.dashboards WHERE tenant = $1 AND version > 0`, tenant).Scan(&n); err != nil {
				return err
			}
			if n >= dashstore.MaxDashboards {
				return dashstore.ErrTooMany
			}
		}
		if equal {
			return tx.QueryRow(ctx, `SELECT id, title, version, saved, by_whom FROM telltale.dashboard_versions
				WHERE tenant = $1 AND id = $2 AND version = $3`, tenant, d.ID, cur).Scan(&m.ID, &m.Title, &m.Version, &m.Saved, &m.By)
		}
		next := cur + 1
		if err := tx.QueryRow(ctx, `INSERT INTO telltale.dashboard_versions (tenant, id, version, title, spec, by_whom)
			VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING saved`, tenant, d.ID, next, d.Title, spec, by).Scan(&m.Saved); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE telltale.dashboards SET version = $3 WHERE tenant = $1 AND id = $2`, tenant, d.ID, next); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM telltale.dashboard_versions WHERE tenant = $1 AND id = $2 AND version <= $3`,
			tenant, d.ID, next-dashstore.MaxVersions); err != nil {
			return err
		}
		m.ID, m.Title, m.Version, m.By = d.ID, d.Title, next, by
		ev := []wire.Event{dashboard.ChangeEvent(dashboard.Change{ID: d.ID, Version: next, Title: d.Title})}
		sent, err = s.appendTo(ctx, tx, tenant, dashboard.ChangesStream, ev)
		return err
	})
	if err != nil {
		s.dropRecent(sent)
		return dashstore.Meta{}, fmt.Errorf("save dashboard %.64q: %w", d.ID, err)
	}
	s.keepRecent(sent)
	m.Saved = m.Saved.UTC()
	return m, nil
}

// Delete implements dashstore.Store: the dashboard, its versions and the
// announcement, in one transaction.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	var sent committed // the announcement, for the follower's cache
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM telltale.dashboards WHERE tenant = $1 AND id = $2 AND version > 0`, tenant, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return dashstore.ErrNotFound
		}
		sent, err = s.appendTo(ctx, tx, tenant, dashboard.ChangesStream, []wire.Event{dashboard.ChangeEvent(dashboard.Change{ID: id, Deleted: true})})
		return err
	})
	if err != nil {
		s.dropRecent(sent)
		return fmt.Errorf("delete dashboard %.64q: %w", id, err)
	}
	s.keepRecent(sent)
	return nil
}

// Tenants implements dashstore.Store.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT DISTINCT tenant FROM telltale.dashboards WHERE version > 0 ORDER BY tenant`)
	if err != nil {
		return nil, fmt.Errorf("tenants with dashboards: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("tenants with dashboards: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// reannounce keeps a tenant's changes stream a list of all its dashboards
// across retention: before a sweep deletes the stream's events up to seq
// upTo stored before cut, each dashboard whose every announcement is among
// them is announced again (its current version and title), so the stream
// still holds a row for every dashboard the tenant has, and a page's
// snapshot (or a restart's warm-up) lists them all. The rows are locked as
// a save locks them, so a save in between is either seen (and nothing is
// re-announced for it) or waits.
func (s *Store) reannounce(ctx context.Context, tenant string, upTo int64, cut time.Time) (int, error) {
	var sent committed
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		const stale = `SELECT d.id FROM telltale.dashboards d WHERE d.tenant = $1 AND d.version > 0
			AND NOT EXISTS (SELECT FROM telltale.events e WHERE e.tenant = $1 AND e.stream = $2
				AND e.body->'row'->>'key' = d.id AND (e.seq > $3 OR e.stored >= $4))`
		rows, err := tx.Query(ctx, stale+` ORDER BY d.id FOR UPDATE OF d`, tenant, dashboard.ChangesStream, upTo, cut)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(locked) == 0 {
			return err
		}
		// Read again now that they are locked: a save that committed
		// meanwhile announced its own version.
		rows, err = tx.Query(ctx, `SELECT d.id, d.version, v.title FROM telltale.dashboards d
			JOIN telltale.dashboard_versions v USING (tenant, id, version)
			WHERE d.tenant = $1 AND d.id = ANY($5) AND d.id IN (`+stale+`) ORDER BY d.id`, tenant, dashboard.ChangesStream, upTo, cut, locked)
		if err != nil {
			return err
		}
		var evs []wire.Event
		for rows.Next() {
			var c dashboard.Change
			if err := rows.Scan(&c.ID, &c.Version, &c.Title); err != nil {
				rows.Close()
				return err
			}
			evs = append(evs, dashboard.ChangeEvent(c))
		}
		if rows.Close(); rows.Err() != nil || len(evs) == 0 {
			return rows.Err()
		}
		sent, err = s.appendTo(ctx, tx, tenant, dashboard.ChangesStream, evs)
		return err
	})
	if err != nil {
		s.dropRecent(sent)
		return 0, fmt.Errorf("re-announce %s's dashboards: %w", tenant, err)
	}
	s.keepRecent(sent)
	return len(sent.evs), nil
}

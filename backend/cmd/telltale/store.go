package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/backend/store"
)

// openedStore is the one store the server runs on: what every store keeps
// (events, dashboards, revocations), and what only some have.
type openedStore struct {
	store.Store
	// kind is "postgres" or "memory", as /healthz and the banner say.
	kind string
	// follow is set when other writers share the store (PostgreSQL): the
	// server follows it into the hub and listens once it holds every
	// stream. Nil for the embedded store, whose appends reach the hub
	// directly.
	follow store.Follower
	// retain sweeps old events by -keep-events and -keep-for (PostgreSQL);
	// nil for a store that bounds itself (the embedded ring).
	retain func(context.Context) error
	keys   ingest.Keys // who may ingest: the keys table, or -ingest-keys
	// pg is PostgreSQL's store, which several nodes may share (their
	// leader writes on its lock connection, cluster.go); nil for the
	// embedded store.
	pg    *pgstore.Store
	sla   sla.Store // the freshness rollups of closed minutes
	close func()
}

// openStore opens PostgreSQL (DATABASE_URL, migrated, with the stream
// quota set) or else the embedded store, publishing into h. The caller
// closes it once everything that uses it has stopped.
func openStore(ctx context.Context, cfg config, h *hub.Hub, log *slog.Logger, reg *metrics.Registry) (*openedStore, error) {
	if cfg.dbURL == "" {
		mem := memstore.New(memstore.Config{Sink: h.Publish, MaxStreamsPerTenant: cfg.maxStreams})
		return &openedStore{Store: mem, kind: "memory", keys: cfg.ingestKeys, sla: sla.NewMemoryStore(), close: func() {}}, nil
	}
	pool, err := pgxpool.New(ctx, cfg.dbURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	pg := pgstore.New(pgstore.Config{Pool: pool, Sink: h.Publish, Logger: log, Metrics: reg,
		WarmBytes: cfg.warmBytes, WarmTime: cfg.warmTime,
		Hold: func(tenant, stream string) pgstore.Held { return h.Hold(tenant, stream) }})
	if err := pg.SetStreamQuota(ctx, cfg.maxStreams); err != nil {
		pool.Close()
		return nil, err
	}
	return &openedStore{Store: pg, kind: "postgres", follow: pg, pg: pg,
		retain: func(ctx context.Context) error { return pg.RunRetention(ctx, cfg.retention) },
		keys:   pg, sla: sla.NewPGStore(pool), close: pool.Close}, nil
}

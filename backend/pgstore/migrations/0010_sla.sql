-- Freshness rollups (backend/sla): one row per tenant × dashboard × panel ×
-- minute as a node saved it. Rows are only inserted: a minute saved twice
-- (a restart, two nodes, a late report) has two rows, which the reader
-- merges (sketches merge exactly). body is msgpack of the stages' DDSketch
-- sketches (the library's encoding, sla.RelativeAccuracy's mapping), the
-- stale periods and the screens' hashes. Pruned by minute (-sla-keep).
-- Minutes older than a day are merged into one row per hour (hour = true,
-- minute = the hour's start), in one transaction that deletes them.
CREATE TABLE telltale.sla_rollups (
    tenant    text        NOT NULL,
    dashboard text        NOT NULL,
    minute    timestamptz NOT NULL,
    panel     text        NOT NULL,
    hour      boolean     NOT NULL DEFAULT false,
    id        bigint      GENERATED ALWAYS AS IDENTITY,
    painted   bigint      NOT NULL CHECK (painted >= 0),
    fresh_ms  bigint      NOT NULL CHECK (fresh_ms >= 0),
    stale_ms  bigint      NOT NULL CHECK (stale_ms >= 0),
    body      bytea       NOT NULL,
    PRIMARY KEY (tenant, dashboard, minute, panel, id)
);

CREATE INDEX sla_rollups_tenant_minute ON telltale.sla_rollups (tenant, minute);
CREATE INDEX sla_rollups_minute ON telltale.sla_rollups (minute);

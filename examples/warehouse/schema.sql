-- The warehouse floor's tables, watched by Telltale: every INSERT, UPDATE and
-- DELETE becomes a row event of the tenant's stream (orders, packing-lines),
-- keyed by the primary key, the tenant taken from tenant_id. Run it once on
-- the database Telltale uses (its migrations create telltale.watch):
--
--   psql "$DATABASE_URL" -f examples/warehouse/schema.sql
CREATE SEQUENCE IF NOT EXISTS orders_seq START 100001;

CREATE TABLE IF NOT EXISTS orders (
    id            text PRIMARY KEY DEFAULT 'SO-' || nextval('orders_seq'),
    tenant_id     text NOT NULL,
    status        text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'picking', 'packed', 'shipped')),
    region        text NOT NULL,
    total         numeric(10, 2) NOT NULL,
    line          text,            -- the packing line, once picking
    pick_ms       integer,         -- how long the pick took, once packed
    created_at    timestamptz NOT NULL DEFAULT now(),
    picking_since timestamptz
);
SELECT telltale.watch('orders', 'orders', 'tenant_id');

CREATE TABLE IF NOT EXISTS packing_lines (
    id        text NOT NULL,
    tenant_id text NOT NULL,
    name      text NOT NULL,
    status    text NOT NULL CHECK (status IN ('running', 'slow', 'stopped')),
    per_hour  integer NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT telltale.watch('packing_lines', 'packing-lines', 'tenant_id');

INSERT INTO packing_lines (id, tenant_id, name, status, per_hour)
SELECT 'L' || n, 'acme', 'Line ' || n, 'running', 180 FROM generate_series(1, 6) AS n
ON CONFLICT DO NOTHING;

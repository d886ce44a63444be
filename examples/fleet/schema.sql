-- The delivery fleet's table, watched by Telltale: every change of a vehicle
-- is a row event of the tenant's stream fleet, keyed by the vehicle. Times
-- are Unix milliseconds (the relative and duration formats read them).
--
--   psql "$DATABASE_URL" -f examples/fleet/schema.sql
CREATE TABLE IF NOT EXISTS vehicles (
    vehicle   text PRIMARY KEY,
    tenant_id text NOT NULL,
    status    text NOT NULL CHECK (status IN ('en route', 'loading', 'idle', 'delayed')),
    region    text NOT NULL,
    eta       bigint,                    -- Unix ms
    delay_ms  bigint NOT NULL DEFAULT 0,
    updated   bigint NOT NULL DEFAULT (extract(epoch FROM now()) * 1000)::bigint
);
SELECT telltale.watch('vehicles', 'fleet', 'tenant_id');

INSERT INTO vehicles (vehicle, tenant_id, status, region, eta)
SELECT format('TRK-%s', lpad(n::text, 2, '0')), 'acme', 'en route',
       (ARRAY['north', 'south', 'east', 'west', 'central'])[1 + n % 5],
       (extract(epoch FROM now() + n * interval '4 min') * 1000)::bigint
  FROM generate_series(1, 12) AS n
ON CONFLICT DO NOTHING;

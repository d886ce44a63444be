-- One tick of a delivery fleet for tenant acme: three vehicles report, a
-- delayed one with how late it runs. Run it again and again for a live fleet:
--
--   psql "$DATABASE_URL" -f examples/fleet/feed.sql           # one tick
--   while sleep 1; do psql -q "$DATABASE_URL" -f examples/fleet/feed.sql; done
--
-- (The status is drawn outside the ORDER BY random() query: drawn beside it,
-- PostgreSQL gave every row the same value.)
UPDATE vehicles v
   SET status   = pick.status,
       delay_ms = CASE WHEN pick.status = 'delayed' THEN (300000 + random() * 2400000)::bigint ELSE 0 END,
       eta      = (extract(epoch FROM now() + random() * interval '60 min') * 1000)::bigint,
       updated  = (extract(epoch FROM now()) * 1000)::bigint
  FROM (SELECT vehicle, (ARRAY['en route', 'en route', 'en route', 'loading', 'idle', 'delayed'])[1 + floor(random() * 6)::int] AS status
          FROM (SELECT vehicle FROM vehicles WHERE tenant_id = 'acme' ORDER BY random() LIMIT 3) AS r) AS pick
 WHERE v.vehicle = pick.vehicle;

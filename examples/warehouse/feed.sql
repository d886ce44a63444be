-- One tick of a warehouse floor for tenant acme: three new orders, two
-- start picking, two are packed, two ship, one packing line changes. Run it
-- again and again for a live floor:
--
--   psql "$DATABASE_URL" -f examples/warehouse/feed.sql           # one tick
--   while sleep 1; do psql -q "$DATABASE_URL" -f examples/warehouse/feed.sql; done
INSERT INTO orders (tenant_id, region, total)
SELECT 'acme', (ARRAY['north', 'south', 'east', 'west', 'central'])[1 + floor(random() * 5)::int],
       round((15 + random() * 120)::numeric, 2)
  FROM generate_series(1, 3);

UPDATE orders SET status = 'picking', picking_since = now(), line = 'L' || (1 + floor(random() * 6)::int)
 WHERE id IN (SELECT id FROM orders WHERE tenant_id = 'acme' AND status = 'new' ORDER BY created_at LIMIT 2);

-- pick_ms: the time since picking began, plus a minute or so of the walk.
UPDATE orders SET status = 'packed',
       pick_ms = (extract(epoch FROM now() - picking_since) * 1000)::int + (20000 + random() * 90000)::int
 WHERE id IN (SELECT id FROM orders WHERE tenant_id = 'acme' AND status = 'picking' ORDER BY picking_since LIMIT 2);

UPDATE orders SET status = 'shipped'
 WHERE id IN (SELECT id FROM orders WHERE tenant_id = 'acme' AND status = 'packed' ORDER BY created_at LIMIT 2);

UPDATE packing_lines
   SET status = (ARRAY['running', 'running', 'running', 'slow', 'stopped'])[1 + floor(random() * 5)::int],
       per_hour = 120 + floor(random() * 120)::int
 WHERE tenant_id = 'acme' AND id = (SELECT 'L' || (1 + floor(random() * 6)::int));  -- one line: drawn once

\set total random(1, 100000)
INSERT INTO staged_orders (tenant, status, total) VALUES ('acme', 'new', :total);

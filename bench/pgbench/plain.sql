\set total random(1, 100000)
INSERT INTO plain_orders (tenant, status, total) VALUES ('acme', 'new', :total);

-- Each tenant's dashboards (dashstore.Store): one row per dashboard with its
-- current version, and its kept versions (at most dashstore.MaxVersions,
-- which the server trims) with their specs as jsonb. The server saves a
-- version and announces it on the tenant's telltale.dashboards stream
-- (publish_batch) in one transaction, holding the dashboard's row lock.
CREATE TABLE telltale.dashboards (
    tenant  text    NOT NULL,
    id      text    NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE telltale.dashboard_versions (
    tenant  text        NOT NULL,
    id      text        NOT NULL,
    version integer     NOT NULL CHECK (version > 0),
    title   text        NOT NULL,
    spec    jsonb       NOT NULL,
    saved   timestamptz NOT NULL DEFAULT now(),
    by_whom text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, id, version),
    FOREIGN KEY (tenant, id) REFERENCES telltale.dashboards ON DELETE CASCADE
);

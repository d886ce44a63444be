-- Per-tenant keys for POST /api/v1/ingest. Only a SHA-256 of each key is
-- kept; the key itself is shown once, when minted (telltale ingest-key).
CREATE TABLE telltale.ingest_keys (
    id         bigserial   PRIMARY KEY,
    tenant     text        NOT NULL CHECK (tenant ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    key_sha256 bytea       NOT NULL UNIQUE,
    label      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

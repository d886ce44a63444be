-- Revoked operators (subject) and tokens (token_id) per tenant: tokens issued
-- at or before revoked_at stop working. A row is kept until expires_at, the
-- latest expiry a revoked token can have.
CREATE TABLE telltale.revocations (
    id         bigserial   PRIMARY KEY,
    tenant     text        NOT NULL CHECK (tenant ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    subject    text        NOT NULL DEFAULT '',
    token_id   text        NOT NULL DEFAULT '',
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (subject <> '' OR token_id <> '')
);
CREATE INDEX revocations_expires ON telltale.revocations (expires_at);

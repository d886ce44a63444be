package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NewIngestKey mints a key for tenant and stores its hash. The key is returned
// once and cannot be recovered later.
func (s *Store) NewIngestKey(ctx context.Context, tenant, label string) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	key := "tti_" + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(key))
	if _, err := s.cfg.Pool.Exec(ctx, `INSERT INTO telltale.ingest_keys (tenant, key_sha256, label) VALUES ($1, $2, $3)`,
		tenant, sum[:], label); err != nil {
		return "", fmt.Errorf("store ingest key: %w", err)
	}
	return key, nil
}

// Tenant returns the tenant an ingest key belongs to; ok is false for an
// unknown or revoked key.
func (s *Store) Tenant(ctx context.Context, key string) (tenant string, ok bool, err error) {
	sum := sha256.Sum256([]byte(key))
	err = s.cfg.Pool.QueryRow(ctx, `SELECT tenant FROM telltale.ingest_keys WHERE key_sha256 = $1 AND revoked_at IS NULL`, sum[:]).Scan(&tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up ingest key: %w", err)
	}
	return tenant, true, nil
}

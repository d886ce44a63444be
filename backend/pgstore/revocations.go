package pgstore

import (
	"context"
	"fmt"

	"github.com/telltale/telltale/backend/auth"
)

// Revoke implements auth.Revocations.
func (s *Store) Revoke(ctx context.Context, r auth.Revocation) error {
	if _, err := s.cfg.Pool.Exec(ctx, `INSERT INTO telltale.revocations (tenant, subject, token_id, revoked_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		r.Tenant, r.Subject, r.TokenID, r.At, r.Until); err != nil {
		return fmt.Errorf("store revocation: %w", err)
	}
	return nil
}

// Revocations implements auth.Revocations: those still in force. Expired
// rows are deleted on the way, so the table holds at most one token
// lifetime of revocations.
func (s *Store) Revocations(ctx context.Context) ([]auth.Revocation, error) {
	if _, err := s.cfg.Pool.Exec(ctx, `DELETE FROM telltale.revocations WHERE expires_at < now() - interval '1 minute'`); err != nil {
		return nil, fmt.Errorf("trim revocations: %w", err)
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT tenant, subject, token_id, revoked_at, expires_at FROM telltale.revocations WHERE expires_at > now()`)
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	defer rows.Close()
	var out []auth.Revocation
	for rows.Next() {
		var r auth.Revocation
		if err := rows.Scan(&r.Tenant, &r.Subject, &r.TokenID, &r.At, &r.Until); err != nil {
			return nil, fmt.Errorf("read revocations: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

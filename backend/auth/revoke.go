package auth

import (
	"context"
	"time"
)

// Revocation withdraws an operator's tokens (Subject) or one token
// (TokenID) in a tenant: tokens issued at or before At stop working. A
// revocation is kept until Until, the latest expiry a revoked token can have;
// after that there is nothing left for it to stop.
type Revocation struct {
	Tenant  string    `json:"tenant"`
	Subject string    `json:"sub,omitempty"`
	TokenID string    `json:"jti,omitempty"`
	At      time.Time `json:"at"`
	Until   time.Time `json:"until"`
}

// Revocations is where revocations are kept: the embedded store or
// PostgreSQL, so that every server of a deployment sees them.
type Revocations interface {
	Revoke(ctx context.Context, r Revocation) error
	// Revocations lists those still in force (Until in the future).
	Revocations(ctx context.Context) ([]Revocation, error)
}

// RevokedSet answers "is this principal revoked?" from a list, in memory:
// the gateway rebuilds it every few seconds and checks every connection.
type RevokedSet struct {
	subjects map[[2]string]time.Time // tenant, subject → revoked at
	tokens   map[[2]string]time.Time // tenant, token id → revoked at
}

// NewRevokedSet indexes a list of revocations.
func NewRevokedSet(list []Revocation) *RevokedSet {
	s := &RevokedSet{subjects: map[[2]string]time.Time{}, tokens: map[[2]string]time.Time{}}
	for _, r := range list {
		if r.Subject != "" {
			k := [2]string{r.Tenant, r.Subject}
			s.subjects[k] = later(s.subjects[k], r.At)
		}
		if r.TokenID != "" {
			k := [2]string{r.Tenant, r.TokenID}
			s.tokens[k] = later(s.tokens[k], r.At)
		}
	}
	return s
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Revoked reports whether p's token was issued at or before a revocation
// of its subject or of itself. A token without an issue time counts as
// issued before any revocation.
func (s *RevokedSet) Revoked(p *Principal) bool {
	if s == nil || p == nil {
		return false
	}
	if at, ok := s.subjects[[2]string{p.Tenant, p.Subject}]; ok && !p.Issued.After(at) {
		return true
	}
	if p.ID != "" {
		if at, ok := s.tokens[[2]string{p.Tenant, p.ID}]; ok && !p.Issued.After(at) {
			return true
		}
	}
	return false
}

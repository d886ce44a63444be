package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
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

// Guard is token verification with revocation: every path that accepts an
// operator token (the WebSocket hello and refresh, the stream API, the
// revoke API) verifies through Guard.Verify, so a revoked token stops
// working everywhere at once. Run keeps its list current.
type Guard struct {
	keys  *Keys
	store Revocations
	set   atomic.Pointer[RevokedSet]
}

// NewGuard verifies with keys and revokes from store (nil: no revocation).
func NewGuard(keys *Keys, store Revocations) *Guard {
	g := &Guard{keys: keys, store: store}
	if store == nil {
		g.set.Store(NewRevokedSet(nil))
	}
	return g
}

// errNotLoaded is the answer until the revocation list has been read once:
// failing closed, so that a store that is down at start un-revokes nobody.
var errNotLoaded = errors.New("the revocation list is not loaded yet; retry")

// Verify checks a token (Keys.Verify) and that it is not revoked.
func (g *Guard) Verify(token string) (*Principal, error) {
	p, err := g.keys.Verify(token)
	if err != nil {
		return nil, err
	}
	set := g.set.Load()
	if set == nil {
		return nil, errNotLoaded
	}
	if set.Revoked(p) {
		return nil, ErrRevoked
	}
	return p, nil
}

// Revoked reports whether p is covered by the latest list.
func (g *Guard) Revoked(p *Principal) bool { return g.set.Load().Revoked(p) }

// Load reads the revocation list once.
func (g *Guard) Load(ctx context.Context) error {
	if g.store == nil {
		return nil
	}
	list, err := g.store.Revocations(ctx)
	if err != nil {
		return err
	}
	g.set.Store(NewRevokedSet(list))
	return nil
}

// Run reloads the list every interval until ctx ends, calling changed after
// each successful load (the gateway closes what it covers). A failed load
// keeps the last list: an outage must not un-revoke anyone.
func (g *Guard) Run(ctx context.Context, interval time.Duration, log *slog.Logger, changed func()) error {
	if g.store == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		if err := g.Load(ctx); err != nil {
			if !failing && ctx.Err() == nil {
				log.Error("read revocations", "err", err)
			}
			failing = true
		} else {
			failing = false
			if changed != nil {
				changed()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

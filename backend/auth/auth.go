// Package auth verifies the tokens operators connect with and holds the one
// access rule every path to tenant data goes through: Principal.Allow.
//
// Tokens are JWTs. The tenant comes from the verified token's "tnt" claim and
// from nowhere else: no stream name, cursor, path or header can name another
// tenant. Claims:
//
//	sub      the operator (required)
//	tnt      the tenant (required; a name like a stream name)
//	exp      expiry (required), at most MaxTTL after iat
//	iat      issue time (required; not in the future)
//	streams  stream patterns the token may read (optional; none means all of
//	         the tenant's streams); a pattern is a stream name, or a prefix
//	         ending in '*' ("fleet.*"), or "*"; the tenant's dashboard
//	         changes (telltale.dashboards) are readable whatever they say
//	role     "admin" may revoke operators of its tenant (POST /api/v1/revoke)
//	         and change its stored dashboards (PUT, DELETE /api/v1/dashboards/{id});
//	         any other value is shown by the UI and grants nothing
//	jti      token id, for revocation (optional); Telltale mints
//	         "<tenant>/<24 hex digits>", so an id names its tenant
//
// Keys: HS256 with a shared secret (Telltale mints and verifies), or EdDSA or
// RS256 with a public key (another service mints, Telltale only verifies).
// The algorithm is pinned by the key: a token that names another algorithm,
// "none" included, is refused before its signature is looked at.
package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Errors a verification or an access check returns. Callers map ErrDenied
// to a 403 or a forbidden error frame, the others to a 401 or an
// unauthorized close.
var (
	ErrNoToken = errors.New("no token")
	ErrToken   = errors.New("invalid token")
	ErrExpired = errors.New("token expired")
	ErrDenied  = errors.New("access denied")
	ErrRevoked = errors.New("token revoked")
)

// MaxTTL is the longest a token may live: Verify refuses a token whose exp
// is further away, so that a revocation kept for MaxTTL outlives every token
// it covers.
const MaxTTL = 30 * 24 * time.Hour

// MaxTokenBytes bounds a token before it is parsed.
const MaxTokenBytes = 8 << 10

// Principal is who a verified token speaks for.
type Principal struct {
	Subject string
	Tenant  string
	Role    string
	Streams []string // patterns; empty means every stream of Tenant
	Expires time.Time
	Issued  time.Time // iat
	ID      string    // jti, may be empty
}

// Allow is the access rule, the only one: the principal may read or write
// stream of tenant if tenant is its own and a pattern of its token matches.
// Every path that touches tenant data (subscribe, resume, history, ingest,
// any HTTP API) calls it, so the rule cannot differ between paths.
func (p *Principal) Allow(tenant, stream string) error {
	if p == nil || p.Tenant == "" || tenant != p.Tenant {
		return fmt.Errorf("%w: not this token's tenant", ErrDenied)
	}
	if err := wire.ValidStream(stream); err != nil {
		return fmt.Errorf("%w: %v", ErrDenied, err)
	}
	// The tenant's dashboard changes carry only ids, titles and versions
	// of dashboards every operator of the tenant may list: a token limited
	// to some streams follows them too, so its page sees its dashboard
	// change. Only the server writes the stream (ingest refuses it).
	// The tenant's alerts likewise say which of its dashboards' panels
	// miss their targets, in the words of their ids and titles: every
	// page of the tenant shows the banner of its dashboard's.
	if len(p.Streams) == 0 || stream == dashboard.ChangesStream || stream == dashboard.AlertsStream {
		return nil
	}
	for _, pat := range p.Streams {
		if Match(pat, stream) {
			return nil
		}
	}
	return fmt.Errorf("%w: stream %s is not among the token's streams", ErrDenied, stream)
}

// Match reports whether a stream pattern matches a stream name: equal, or a
// prefix when the pattern ends in '*'.
func Match(pattern, stream string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(stream, prefix)
	}
	return pattern == stream
}

// ValidPattern checks a stream pattern as Match reads it.
func ValidPattern(p string) error {
	if p == "*" {
		return nil
	}
	name, _ := strings.CutSuffix(p, "*")
	if err := wire.ValidStream(name); err != nil {
		return fmt.Errorf("stream pattern %q: %w", p, err)
	}
	return nil
}

// Claims are the JWT claims Telltale reads and writes.
type Claims struct {
	jwt.RegisteredClaims
	Tenant  string   `json:"tnt"`
	Streams []string `json:"streams,omitempty"`
	Role    string   `json:"role,omitempty"`
}

// UnmarshalJSON reads the claims as encoding/json would, after checking that
// exp, iat and nbf, when present, are JSON numbers (RFC 7519's NumericDate):
// jwt.NumericDate reads them through json.Number, which also takes a string
// holding a number ("exp":"1900000000"), and a token that says its times
// any other way is not one Telltale minted or should trust.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &times); err != nil {
		return err
	}
	for _, t := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"exp", times.Exp}, {"iat", times.Iat}, {"nbf", times.Nbf}} {
		if t.raw != nil && (t.raw[0] != '-' && (t.raw[0] < '0' || t.raw[0] > '9')) {
			return fmt.Errorf("%s claim is %.16s, not a number", t.name, t.raw)
		}
	}
	type plain Claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// Keys verifies tokens, and mints them when it holds a secret.
type Keys struct {
	method jwt.SigningMethod
	verify any // the key jwt verifies with
	sign   any // nil when this side only verifies
	leeway time.Duration
	now    func() time.Time
}

// HS256 returns keys that mint and verify with a shared secret of at least
// 32 bytes.
func HS256(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("HS256 secret: want at least 32 bytes")
	}
	return &Keys{method: jwt.SigningMethodHS256, verify: secret, sign: secret}, nil
}

// PublicKey returns keys that only verify, with an Ed25519 (EdDSA) or RSA
// (RS256, 2048 bits or more) public key in PEM.
func PublicKey(pemBytes []byte) (*Keys, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("public key: no PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return &Keys{method: jwt.SigningMethodEdDSA, verify: k}, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("public key: RSA keys need 2048 bits or more")
		}
		return &Keys{method: jwt.SigningMethodRS256, verify: k}, nil
	}
	return nil, fmt.Errorf("public key: %T is neither Ed25519 nor RSA", pub)
}

// PrivateKey returns keys that mint and verify with an Ed25519 or RSA private
// key (for tests and for a service that mints with a key pair).
func PrivateKey(k crypto.Signer) (*Keys, error) {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return &Keys{method: jwt.SigningMethodEdDSA, verify: k.Public(), sign: k}, nil
	case *rsa.PrivateKey:
		return &Keys{method: jwt.SigningMethodRS256, verify: &k.PublicKey, sign: k}, nil
	}
	return nil, fmt.Errorf("private key: %T is neither Ed25519 nor RSA", k)
}

// WithClock sets the clock tokens are checked against (tests).
func (k *Keys) WithClock(now func() time.Time) *Keys {
	c := *k
	c.now = now
	return &c
}

func (k *Keys) time() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

// CanMint reports whether these keys can sign tokens.
func (k *Keys) CanMint() bool { return k.sign != nil }

// Mint signs a token for sub in tenant, valid for ttl.
func (k *Keys) Mint(tenant, sub string, ttl time.Duration, streams []string, role string) (string, error) {
	return k.MintID(tenant, sub, ttl, streams, role, tenant+"/"+newID())
}

// NewID returns a fresh token id for tenant, in Mint's "<tenant>/<24 hex
// digits>" form.
func NewID(tenant string) string { return tenant + "/" + newID() }

// MintID is Mint with the token id given: the tokens an identity provider's
// sign-in session issues one after another share the session's id, so that
// revoking that id (sign-out) withdraws all of them at once.
func (k *Keys) MintID(tenant, sub string, ttl time.Duration, streams []string, role, jti string) (string, error) {
	if k.sign == nil {
		return "", errors.New("these keys only verify: mint with the private key's owner")
	}
	if err := wire.ValidStream(tenant); err != nil {
		return "", fmt.Errorf("tenant: %w", err)
	}
	if sub == "" {
		return "", errors.New("subject: empty")
	}
	if idTenant(jti) != tenant {
		return "", fmt.Errorf("token id %q: want %s/…, naming its tenant", jti, tenant)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("ttl: must be positive and at most %v", MaxTTL)
	}
	for _, p := range streams {
		if err := ValidPattern(p); err != nil {
			return "", err
		}
	}
	now := k.time()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        jti,
		},
		Tenant:  tenant,
		Streams: streams,
		Role:    role,
	}
	return jwt.NewWithClaims(k.method, c).SignedString(k.sign)
}

// Verify checks a token's signature, algorithm, expiry and claims and
// returns its principal. Errors wrap ErrNoToken, ErrExpired or ErrToken.
func (k *Keys) Verify(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrToken, MaxTokenBytes)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.verify, nil },
		jwt.WithValidMethods([]string{k.method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // an iat in the future is refused
		jwt.WithLeeway(k.leeway),
		jwt.WithTimeFunc(k.time),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if err := wire.ValidStream(c.Tenant); err != nil {
		return nil, fmt.Errorf("%w: tnt claim: %v", ErrToken, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no sub claim", ErrToken)
	}
	// iat is required and bounds the token's whole life, so that a
	// revocation (kept MaxTTL) outlives every token it covers: a token
	// issued before a revocation cannot expire after the revocation is gone.
	if c.IssuedAt == nil {
		return nil, fmt.Errorf("%w: no iat claim", ErrToken)
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTTL {
		return nil, fmt.Errorf("%w: lives longer than %v", ErrToken, MaxTTL)
	}
	for _, p := range c.Streams {
		if err := ValidPattern(p); err != nil {
			return nil, fmt.Errorf("%w: streams claim: %v", ErrToken, err)
		}
	}
	return &Principal{Subject: c.Subject, Tenant: c.Tenant, Role: c.Role, Streams: c.Streams, Expires: c.ExpiresAt.Time, Issued: c.IssuedAt.Time, ID: c.ID}, nil
}

// Derive returns a key of its own for label, derived from the shared
// secret (HMAC-SHA256(secret, label)), for what the server signs besides
// tokens (the sign-in flow's cookies): a value signed with it can never pass
// for a token. Only HS256 keys hold a secret to derive from.
func (k *Keys) Derive(label string) ([]byte, error) {
	secret, ok := k.sign.([]byte)
	if !ok {
		return nil, errors.New("only a shared secret (HS256) derives keys")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil), nil
}

// idTenant returns the tenant a token id minted by Mint names, "" for an id
// that names none (minted before ids did, or by another issuer).
func idTenant(jti string) string {
	tenant, _, ok := strings.Cut(jti, "/")
	if !ok || wire.ValidStream(tenant) != nil {
		return ""
	}
	return tenant
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

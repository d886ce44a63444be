package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telltale/telltale/shared/dashboard"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func mustHS(t *testing.T) *Keys {
	t.Helper()
	k, err := HS256(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, method jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMintVerify(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	tok, err := k.Mint("acme", "alice", time.Hour, []string{"fleet.*", "orders"}, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "acme" || p.Subject != "alice" || p.Role != "viewer" || len(p.Streams) != 2 || p.ID == "" {
		t.Fatalf("got %+v", p)
	}
	if d := time.Until(p.Expires); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %v, want about an hour", d)
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	now := time.Now()
	good := func() Claims {
		return Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}, Tenant: "acme"}
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(edPub)
	edKeys, err := PublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	noneTok := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())

	for _, tc := range []struct {
		name  string
		keys  *Keys
		token string
		want  error
	}{
		{"empty", k, "", ErrNoToken},
		{"garbage", k, "not.a.jwt", ErrToken},
		{"oversized", k, strings.Repeat("a", MaxTokenBytes+1), ErrToken},
		{"wrong secret", k, sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-00"), good()), ErrToken},
		{"alg none", k, noneTok, ErrToken},
		{"HS384 instead of HS256", k, sign(t, jwt.SigningMethodHS384, secret, good()), ErrToken},
		{"expired", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims {
			c := good()
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
			return c
		}()), ErrExpired},
		{"no exp", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.ExpiresAt = nil; return c }()), ErrToken},
		{"no tenant", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.Tenant = ""; return c }()), ErrToken},
		{"tenant with a path", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.Tenant = "../acme"; return c }()), ErrToken},
		{"upper-case tenant", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.Tenant = "ACME"; return c }()), ErrToken},
		{"no subject", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.Subject = ""; return c }()), ErrToken},
		{"bad stream pattern", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.Streams = []string{"a/b"}; return c }()), ErrToken},
		{"no iat", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims { c := good(); c.IssuedAt = nil; return c }()), ErrToken},
		{"iat in the future", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims {
			c := good()
			c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(2 * time.Hour))
			return c
		}()), ErrToken},
		{"lives longer than MaxTTL", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims {
			c := good()
			c.IssuedAt = jwt.NewNumericDate(now.Add(-MaxTTL))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(time.Hour))
			return c
		}()), ErrToken},
		{"not yet valid", k, sign(t, jwt.SigningMethodHS256, secret, func() Claims {
			c := good()
			c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour))
			return c
		}()), ErrToken},
		// Key confusion: an HMAC token "signed" with the public key's bytes
		// must not pass an EdDSA verifier.
		{"HS256 to an EdDSA verifier", edKeys, sign(t, jwt.SigningMethodHS256, []byte(edPub), good()), ErrToken},
		{"EdDSA with another key", edKeys, func() string {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			return sign(t, jwt.SigningMethodEdDSA, other, good())
		}(), ErrToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.keys.Verify(tc.token)
			if !errors.Is(err, tc.want) || p != nil {
				t.Fatalf("got %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
	// And the EdDSA key does verify its own tokens.
	if _, err := edKeys.Verify(sign(t, jwt.SigningMethodEdDSA, edPriv, good())); err != nil {
		t.Fatal(err)
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	all := &Principal{Subject: "a", Tenant: "acme"}
	some := &Principal{Subject: "a", Tenant: "acme", Streams: []string{"fleet.*", "orders"}}
	for _, tc := range []struct {
		p              *Principal
		tenant, stream string
		ok             bool
	}{
		{all, "acme", "orders", true},
		{all, "acme", "anything-else", true},
		{all, "globex", "orders", false},
		{all, "", "orders", false},
		{nil, "acme", "orders", false},
		{&Principal{}, "", "orders", false},
		{all, "acme", "Orders", false},
		{all, "acme", "ordérs", false},
		{all, "acme", "../globex/orders", false},
		{all, "acme", "globex/orders", false},
		{all, "acme", strings.Repeat("o", 65), false},
		{all, "acme", "", false},
		{some, "acme", "orders", true},
		{some, "acme", "fleet.trucks", true},
		{some, "acme", "fleet", false},
		{some, "acme", "orders2", false},
		{some, "globex", "orders", false},
		{some, "acme", dashboard.ChangesStream, true},
		{some, "globex", dashboard.ChangesStream, false},
		{some, "acme", "telltale.other", false},
		{all, "globex", dashboard.ChangesStream, false},
		{some, "acme", dashboard.AlertsStream, true},
		{some, "globex", dashboard.AlertsStream, false},
		{all, "globex", dashboard.AlertsStream, false},
	} {
		err := tc.p.Allow(tc.tenant, tc.stream)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrDenied)) {
			t.Errorf("%+v.Allow(%q, %q) = %v, want ok=%v", tc.p, tc.tenant, tc.stream, err, tc.ok)
		}
	}
}

func TestMintRefusesBadInput(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	for _, tc := range []struct {
		tenant, sub string
		ttl         time.Duration
		streams     []string
	}{
		{"", "a", time.Hour, nil},
		{"Acme", "a", time.Hour, nil},
		{"acme", "", time.Hour, nil},
		{"acme", "a", 0, nil},
		{"acme", "a", time.Hour, []string{"x/y"}},
	} {
		if _, err := k.Mint(tc.tenant, tc.sub, tc.ttl, tc.streams, ""); err == nil {
			t.Errorf("Mint(%q, %q, %v, %v) succeeded", tc.tenant, tc.sub, tc.ttl, tc.streams)
		}
	}
	if _, err := HS256([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

func TestRevokedSet(t *testing.T) {
	t.Parallel()
	at := time.Unix(1000, 0)
	set := NewRevokedSet([]Revocation{
		{Tenant: "acme", Subject: "alice", At: at},
		{Tenant: "acme", TokenID: "t1", At: at},
	})
	for _, tc := range []struct {
		p    Principal
		want bool
	}{
		{Principal{Tenant: "acme", Subject: "alice", Issued: at.Add(-time.Hour)}, true},
		{Principal{Tenant: "acme", Subject: "alice", Issued: at}, true},
		{Principal{Tenant: "acme", Subject: "alice"}, true}, // no iat: issued before anything
		{Principal{Tenant: "acme", Subject: "alice", Issued: at.Add(time.Second)}, false},
		{Principal{Tenant: "globex", Subject: "alice", Issued: at.Add(-time.Hour)}, false},
		{Principal{Tenant: "acme", Subject: "bob", ID: "t1", Issued: at.Add(-time.Hour)}, true},
		{Principal{Tenant: "acme", Subject: "bob", ID: "t2", Issued: at.Add(-time.Hour)}, false},
		{Principal{Tenant: "globex", Subject: "bob", ID: "t1", Issued: at.Add(-time.Hour)}, false},
	} {
		if got := set.Revoked(&tc.p); got != tc.want {
			t.Errorf("%+v: revoked %v, want %v", tc.p, got, tc.want)
		}
	}
	if (*RevokedSet)(nil).Revoked(&Principal{Tenant: "acme", Subject: "alice"}) {
		t.Error("a nil set revoked someone")
	}
}

type memRevocations struct{ list []Revocation }

func (m *memRevocations) Revoke(_ context.Context, r Revocation) error {
	m.list = append(m.list, r)
	return nil
}
func (m *memRevocations) Revocations(context.Context) ([]Revocation, error) { return m.list, nil }

func TestRevokeHandler(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	store := &memRevocations{}
	guard := NewGuard(k, store)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := RevokeHandler(guard, store, slog.New(slog.DiscardHandler))
	admin, _ := k.Mint("acme", "root", time.Hour, nil, "admin")
	viewer, _ := k.Mint("acme", "alice", time.Hour, nil, "viewer")
	revokedAdmin, _ := k.Mint("acme", "mallory", time.Hour, nil, "admin")
	_ = store.Revoke(context.Background(), Revocation{Tenant: "acme", Subject: "mallory", At: time.Now().Add(time.Second), Until: time.Now().Add(time.Hour)})
	if err := guard.Load(context.Background()); err != nil { // as the reload loop would
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, body string
		want              int
	}{
		{"no token", "", `{"sub":"alice"}`, http.StatusUnauthorized},
		{"not an admin", viewer, `{"sub":"bob"}`, http.StatusForbidden},
		{"nothing to revoke", admin, `{}`, http.StatusBadRequest},
		{"a tenant in the body", admin, `{"sub":"alice","tenant":"globex"}`, http.StatusBadRequest},
		{"revokes in the admin's tenant", admin, `{"sub":"alice"}`, http.StatusOK},
		{"a revoked admin cannot revoke", revokedAdmin, `{"sub":"root"}`, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/revoke", strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if len(store.list) != 2 || store.list[1].Tenant != "acme" || store.list[1].Subject != "alice" || store.list[1].Until.Sub(store.list[1].At) != MaxTTL {
		t.Fatalf("stored %+v, want mallory's and then one revocation of acme/alice kept for MaxTTL", store.list)
	}
}

func TestMintIDKeepsTheIDAndItsTenant(t *testing.T) {
	keys, err := HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	id := NewID("acme")
	tok, err := keys.MintID("acme", "alice", time.Minute, nil, "", id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.Verify(tok)
	if err != nil || p.ID != id {
		t.Fatalf("got %+v %v, want jti %s", p, err, id)
	}
	if _, err := keys.MintID("acme", "alice", time.Minute, nil, "", NewID("globex")); err == nil {
		t.Fatal("minted a token of acme with an id naming globex")
	}
	a, _ := keys.Derive("x")
	b, _ := keys.Derive("y")
	if len(a) != 32 || string(a) == string(b) {
		t.Fatalf("derived keys: %x %x, want two different 32-byte keys", a, b)
	}
}

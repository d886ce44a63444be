package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyRefusesTimesThatAreNotNumbers: exp, iat and nbf are JSON numbers
// (RFC 7519's NumericDate). A correctly signed token that gives them as
// strings holding a number is refused; jwt.NumericDate alone reads those
// through json.Number and accepted them.
func TestVerifyRefusesTimesThatAreNotNumbers(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	now := time.Now()
	exp, iat := now.Add(time.Hour).Unix(), now.Add(-time.Minute).Unix()
	claims := func(exp, iat, nbf any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "tnt": "acme", "exp": exp, "iat": iat}
		if nbf != nil {
			c["nbf"] = nbf
		}
		return c
	}
	for _, tc := range []struct {
		name string
		c    jwt.MapClaims
		ok   bool
	}{
		{"numbers", claims(exp, iat, nil), true},
		{"fractional numbers", claims(float64(exp)+0.5, float64(iat)+0.25, iat), true},
		{"exp as a string", claims(strconv.FormatInt(exp, 10), iat, nil), false},
		{"iat as a string", claims(exp, strconv.FormatInt(iat, 10), nil), false},
		{"nbf as a string", claims(exp, iat, strconv.FormatInt(iat, 10)), false},
		{"exp null", claims(nil, iat, nil), false},
		{"iat as a boolean", claims(exp, true, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Verify(sign(t, jwt.SigningMethodHS256, secret, tc.c))
			if tc.ok && err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			if !tc.ok && !errors.Is(err, ErrToken) {
				t.Fatalf("got %v, want ErrToken", err)
			}
		})
	}
}

// TestRevokeAnotherTenantsToken: an admin naming another tenant's token id
// gets 404, the same answer whether or not that token exists, and nothing is
// stored; its own tenant's ids are revoked as before.
func TestRevokeAnotherTenantsToken(t *testing.T) {
	t.Parallel()
	k := mustHS(t)
	store := &memRevocations{}
	guard := NewGuard(k, store)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := RevokeHandler(guard, store, slog.New(slog.DiscardHandler))
	admin, _ := k.Mint("acme", "root", time.Hour, nil, "admin")
	idOf := func(tenant string) string {
		tok, err := k.Mint(tenant, "bob", time.Hour, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := k.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	globexID, acmeID := idOf("globex"), idOf("acme")
	revoke := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/revoke", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	existing := revoke(`{"jti":"` + globexID + `"}`)
	madeUp := revoke(`{"jti":"globex/000000000000000000000000"}`)
	for name, rec := range map[string]*httptest.ResponseRecorder{"existing": existing, "made up": madeUp} {
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s globex token id: got %d %s, want 404", name, rec.Code, rec.Body)
		}
	}
	if existing.Body.String() != madeUp.Body.String() {
		t.Fatalf("answers differ, telling which id exists: %s vs %s", existing.Body, madeUp.Body)
	}
	if rec := revoke(`{"sub":"bob","jti":"` + globexID + `"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("sub and a globex jti: got %d %s, want 404", rec.Code, rec.Body)
	}
	if len(store.list) != 0 {
		t.Fatalf("stored %+v for requests that were refused", store.list)
	}
	if rec := revoke(`{"jti":"` + acmeID + `"}`); rec.Code != http.StatusOK || len(store.list) != 1 || store.list[0].TokenID != acmeID {
		t.Fatalf("own token id: got %d %s and stored %+v, want 200 and the revocation", rec.Code, rec.Body, store.list)
	}
}

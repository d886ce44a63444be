package sso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// sealer signs the values the server keeps in cookies (the sign-in flow, the
// session) with a key derived from the token secret: the browser holds them
// but cannot change them, and any node of a deployment (same secret) reads
// them, so no node keeps sign-in state of its own. They are signed, not
// encrypted: they hold nothing secret but the PKCE verifier, whose cookie is
// HttpOnly, scoped to /auth/ and gone at the callback.
type sealer struct{ key []byte }

// seal is base64url(JSON) "." base64url(HMAC(purpose, JSON)): the purpose is
// in the MAC, so a flow cookie never passes for a session cookie.
func (s sealer) seal(purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(purpose, body)), nil
}

var errSeal = errors.New("not a value this server signed")

func (s sealer) open(purpose, sealed string, v any) error {
	body, sig, ok := strings.Cut(sealed, ".")
	if !ok || len(sealed) > 4<<10 {
		return errSeal
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(purpose, body)) {
		return errSeal
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return errSeal
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errSeal
	}
	return nil
}

func (s sealer) mac(purpose, body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}

// cookie is one of the flow's cookies: HttpOnly (the page's script never
// reads them), SameSite=Lax (sent on the provider's redirect back, a
// top-level GET, and never on another site's POST), only under /auth/.
func cookie(name, value string, maxAge int, secure bool) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/auth/", MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

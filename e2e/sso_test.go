//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/telltale/telltale/internal/poll"
)

// idpUser is an account at the in-process provider whose ID token names
// its Telltale tenant.
type idpUser struct{ sub, tenant string }

func (u idpUser) ID() string { return u.sub }
func (u idpUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]string{"sub": u.sub})
}
func (u idpUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{}
	b, _ := json.Marshal(base)
	_ = json.Unmarshal(b, &c)
	c["tenant"] = u.tenant
	return c, nil
}

// TestSignInWithIdentityProvider: a page signs in through an OpenID Connect
// provider run by the test, is live, renews its short-lived token silently
// on the open connection, and signing out closes it within 5 s and offers
// sign-in again.
func TestSignInWithIdentityProvider(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	idp.QueueUser(idpUser{sub: "e2e-sso", tenant: "demo"})
	// The callback's URL is registered before the server starts: a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const ttl = 8 * time.Second
	cfg := idp.Config()
	srv := startServerEnvAt(t, []string{"DATABASE_URL=", "TELLTALE_OIDC_CLIENT_SECRET=" + cfg.ClientSecret}, addr,
		"-oidc-issuer", cfg.Issuer, "-oidc-client-id", cfg.ClientID, "-oidc-redirect-url", "http://"+addr+"/auth/callback",
		"-oidc-token-ttl", ttl.String())

	b := newBrowser(t)
	p := b.MustPage("")
	if err := p.Navigate(srv.URL + "/auth/login?return=/"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	signedIn := time.Now()
	first := eval(t, p, `() => localStorage.getItem("telltale.token") || ""`).Str()
	if first == "" || eval(t, p, `() => location.hash`).Str() != "" {
		t.Fatalf("after sign-in: token %q, hash %q; want a kept token and a clean address bar", first, eval(t, p, `() => location.hash`).Str())
	}
	reconnects := eval(t, p, `() => JSON.parse(window.telltaleStats()).reconnects`).Int()

	// Past the first token's expiry the page is still live on the same
	// connection, with a renewed token.
	poll.Until(t, 3*ttl, func() error {
		if time.Since(signedIn) < ttl+2*time.Second {
			return fmt.Errorf("the first token has not expired yet")
		}
		tok := eval(t, p, `() => localStorage.getItem("telltale.token") || ""`).Str()
		if tok == first {
			return fmt.Errorf("the token was not renewed")
		}
		return nil
	})
	stats := eval(t, p, `() => JSON.parse(window.telltaleStats())`)
	if stats.Get("status").Str() != "live" || stats.Get("reconnects").Int() != reconnects {
		t.Fatalf("after the first token expired: status %s, reconnects %d (was %d); want live on the same connection",
			stats.Get("status").Str(), stats.Get("reconnects").Int(), reconnects)
	}
	if n := eval(t, p, `() => document.querySelectorAll(".tt-signin").length`).Int(); n != 0 {
		t.Fatalf("a renewing page shows the sign-in form")
	}

	// Sign out: the session is revoked; the page's connection closes
	// within 5 s and the page offers sign-in with the provider.
	if st := eval(t, p, `async () => (await fetch("/auth/logout", {method: "POST"})).status`).Int(); st != 200 {
		t.Fatalf("sign-out: %d", st)
	}
	out := time.Now()
	poll.Until(t, 5*time.Second, func() error {
		if s := eval(t, p, `() => JSON.parse(window.telltaleStats()).status`).Str(); s != "signed out" {
			return fmt.Errorf("status %q %v after sign-out, want signed out", s, time.Since(out))
		}
		return nil
	})
	poll.Until(t, 10*time.Second, func() error {
		if eval(t, p, `() => !!document.querySelector(".tt-signin a.tt-signin-sso")`).Bool() {
			return nil
		}
		return fmt.Errorf("the sign-in form has no link to the identity provider")
	})
}

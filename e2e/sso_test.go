//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
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

// startWithIdP runs a provider in the test and a server that signs in with
// it (tokens of ttl, sessions of session); the provider's next sign-in is
// user's. The demo tenants take ingest with keys[tenant].
func startWithIdP(t *testing.T, user idpUser, ttl, session time.Duration, keys map[string]string) *server {
	t.Helper()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	idp.QueueUser(user)
	// The callback's URL is registered before the server starts: a free port.
	addr := freeAddr(t)
	cfg := idp.Config()
	return startServerEnvAt(t, []string{"DATABASE_URL=", "TELLTALE_OIDC_CLIENT_SECRET=" + cfg.ClientSecret}, addr,
		"-oidc-issuer", cfg.Issuer, "-oidc-client-id", cfg.ClientID, "-oidc-redirect-url", "http://"+addr+"/auth/callback",
		"-oidc-token-ttl", ttl.String(), "-oidc-session-ttl", session.String(),
		"-ingest-keys", "demo:"+keys["demo"]+",demo2:"+keys["demo2"])
}

// TestSignInWithIdentityProvider: a page signs in through an OpenID Connect
// provider run by the test as an operator of demo2, sees demo2's data and
// not demo's, renews its short-lived token silently on the open connection,
// and signing out closes it within 5 s and offers sign-in again.
func TestSignInWithIdentityProvider(t *testing.T) {
	// No t.Parallel: the page renews its 8 s token before it expires, and
	// sign-out closes within 5 s: latencies, with the CPU to itself (doc.go).
	const ttl = 8 * time.Second
	keys := map[string]string{"demo": "demo-ingest-key-0001", "demo2": "demo2-ingest-key-0002"}
	srv := startWithIdP(t, idpUser{sub: "e2e-sso", tenant: "demo2"}, ttl, time.Hour, keys)
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
	poll.Until(t, 5*time.Second, func() error { // from the first paint: the session's hint cookie
		if !eval(t, p, `() => !!document.querySelector("a.tt-signout")`).Bool() {
			return fmt.Errorf("a signed-in page shows no Sign out")
		}
		return nil
	})
	// The ID token's tenant is the page's: demo2's vehicle shows, demo's never.
	markVehicle(t, srv.URL, keys["demo"], marker("demo"))
	markVehicle(t, srv.URL, keys["demo2"], marker("demo2"))
	fleet := func() string {
		return eval(t, p, `() => { const e = document.getElementById("table-fleet"); return e ? e.textContent : "" }`).Str()
	}
	poll.Until(t, 15*time.Second, func() error {
		if !strings.Contains(fleet(), marker("demo2")) {
			return fmt.Errorf("demo2's fleet table does not show %s yet", marker("demo2"))
		}
		return nil
	})
	if strings.Contains(fleet(), marker("demo")) {
		t.Fatalf("a demo2 operator's page shows demo's vehicle %s", marker("demo"))
	}
	// Minted tokens keep working beside sign-in (scripts, kiosks).
	if seq := headOf(t, srv.URL, token(t, "demo"), "fleet"); seq == 0 {
		t.Fatalf("a minted token's snapshot of demo's fleet is empty")
	}

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

// TestIdentityProviderSessionEnds: when the sign-in session ends, the last
// token is not renewed, the connection closes at its expiry, and the page
// asks to sign in with the provider again.
func TestIdentityProviderSessionEnds(t *testing.T) {
	// No t.Parallel: the page renews its 8 s tokens before they expire, a
	// latency, with the CPU to itself (doc.go).
	// Tokens of 8 s (a shorter one can expire before a loaded machine's page
	// is live and renews it), sessions of 20 s.
	srv := startWithIdP(t, idpUser{sub: "e2e-sso", tenant: "demo"}, 8*time.Second, 20*time.Second, map[string]string{"demo": "demo-ingest-key-0001", "demo2": "demo2-ingest-key-0002"})
	b := newBrowser(t)
	p := b.MustPage("")
	if err := p.Navigate(srv.URL + "/auth/login?return=/"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	signedIn := time.Now()
	poll.Until(t, 40*time.Second, func() error {
		if s := eval(t, p, `() => JSON.parse(window.telltaleStats()).status`).Str(); s != "signed out" {
			return fmt.Errorf("status %q %v after sign-in, want signed out when the 20 s session ends", s, time.Since(signedIn))
		}
		return nil
	})
	if d := time.Since(signedIn); d < 12*time.Second {
		t.Fatalf("signed out %v after sign-in: before the session's end, so the tokens were not renewed", d)
	}
	poll.Until(t, 10*time.Second, func() error {
		if eval(t, p, `() => !!document.querySelector(".tt-signin a.tt-signin-sso")`).Bool() {
			return nil
		}
		return fmt.Errorf("the sign-in form has no link to the identity provider")
	})
}

package sso

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/telltale/telltale/backend/auth"
)

// user is a provider account whose ID token carries Telltale's claims.
type user struct {
	sub   string
	extra map[string]any // claims added to the ID token
	nonce *string        // replaces the nonce, when set (a token issued for another sign-in)
}

func (u user) ID() string { return u.sub }
func (u user) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]string{"sub": u.sub})
}
func (u user) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{}
	b, _ := json.Marshal(base)
	_ = json.Unmarshal(b, &c)
	for k, v := range u.extra {
		c[k] = v
	}
	if u.nonce != nil {
		c["nonce"] = *u.nonce
	}
	return c, nil
}

// memRevocations is a revocation store in memory.
type memRevocations struct {
	mu   sync.Mutex
	list []auth.Revocation
}

func (m *memRevocations) Revoke(_ context.Context, r auth.Revocation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = append(m.list, r)
	return nil
}

func (m *memRevocations) Revocations(context.Context) ([]auth.Revocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]auth.Revocation(nil), m.list...), nil
}

// rig is a provider run in-process, a Telltale sign-in handler and a browser
// (a client with a cookie jar).
type rig struct {
	idp     *mockoidc.MockOIDC
	srv     *httptest.Server
	keys    *auth.Keys
	guard   *auth.Guard
	revs    *memRevocations
	browser *http.Client
	mu      sync.Mutex
	now     time.Time
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func newRig(t *testing.T, tokenTTL, sessionTTL time.Duration) *rig {
	t.Helper()
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Shutdown() })
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{idp: idp, revs: &memRevocations{}, now: time.Now()}
	r.keys = keys.WithClock(r.clock)
	r.guard = auth.NewGuard(r.keys, r.revs)
	if err := r.guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	cfg := idp.Config()
	h, err := New(Config{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: r.srv.URL + "/auth/callback",
		TenantClaim: "tenant", RoleClaim: "groups", TokenTTL: tokenTTL, SessionTTL: sessionTTL,
		Keys: r.keys, Guard: r.guard, Revocations: r.revs, Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/", h)
	jar, _ := cookiejar.New(nil)
	r.browser = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.Fragment, "token=") {
			return http.ErrUseLastResponse // the page: where the token is handed over
		}
		return nil
	}}
	return r
}

// signIn goes through the whole flow as a browser does and returns the
// callback's answer.
func (r *rig) signIn(t *testing.T, u user, returnTo string) *http.Response {
	t.Helper()
	r.idp.QueueUser(u)
	res, err := r.browser.Get(r.srv.URL + "/auth/login?return=" + url.QueryEscape(returnTo))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// tokenOf is the token a successful callback hands the page, and where.
func tokenOf(t *testing.T, res *http.Response) (path, token string) {
	t.Helper()
	if res.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("callback: got %d %s, want 302 to the page", res.StatusCode, b)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(loc.Fragment, "token=")
	if !ok {
		t.Fatalf("callback sent the page to %s, want a #token= fragment", loc)
	}
	return loc.Path, tok
}

func (r *rig) renew(t *testing.T) (int, Renewal) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+"/auth/renew", nil)
	req.Header.Set("Origin", r.srv.URL)
	res, err := r.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got Renewal
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, got
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func TestSignInIssuesATokenOfTheClaimedTenantAndRenewsIt(t *testing.T) {
	r := newRig(t, 15*time.Minute, 12*time.Hour)
	res := r.signIn(t, user{sub: "alice", extra: map[string]any{"tenant": "acme", "groups": []string{"ops", "admin"}}}, "/d/fleet")
	path, tok := tokenOf(t, res)
	if path != "/d/fleet" {
		t.Fatalf("got back to %q, want /d/fleet", path)
	}
	p, err := r.guard.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "acme" || p.Subject != "alice" || p.Role != "admin" || !strings.HasPrefix(p.ID, "acme/") {
		t.Fatalf("got %+v, want alice @ acme, admin, a session id of acme", p)
	}
	if left := p.Expires.Sub(r.clock()); left > 15*time.Minute || left < 14*time.Minute {
		t.Fatalf("token lives %v, want the 15m token TTL", left)
	}
	hinted := false
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie && (!c.HttpOnly || c.Path != "/auth/") {
			t.Fatalf("session cookie %+v: want HttpOnly, path /auth/", c)
		}
		hinted = hinted || (c.Name == HintCookie && c.Value == "1" && c.Path == "/")
	}
	if !hinted {
		t.Fatalf("no %s=1 cookie for the page's script: %v", HintCookie, res.Cookies())
	}

	r.advance(14 * time.Minute) // the page renews a minute before expiry
	status, got := r.renew(t)
	if status != http.StatusOK {
		t.Fatalf("renew: got %d %+v", status, got)
	}
	p2, err := r.guard.Verify(got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Tenant != "acme" || p2.Subject != "alice" || p2.ID != p.ID || !p2.Expires.After(p.Expires) {
		t.Fatalf("renewed %+v, want the same session, later expiry than %v", p2, p.Expires)
	}
	if !got.Expires.Equal(p2.Expires) {
		t.Fatalf("renewal says it expires %v, token says %v", got.Expires, p2.Expires)
	}
}

func TestAnotherTenantsAccountSeesOnlyItsTenant(t *testing.T) {
	r := newRig(t, 0, 0)
	_, tok := tokenOf(t, r.signIn(t, user{sub: "bob", extra: map[string]any{"tenant": "globex"}}, "/"))
	p, err := r.guard.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "globex" || p.Role != "viewer" {
		t.Fatalf("got %+v, want a viewer of globex", p)
	}
	if err := p.Allow("globex", "orders"); err != nil {
		t.Fatalf("own tenant: %v", err)
	}
	if err := p.Allow("acme", "orders"); !errors.Is(err, auth.ErrDenied) {
		t.Fatalf("another tenant's stream: got %v, want denied", err)
	}
}

func TestMissingOrInvalidTenantClaimRefusesSignIn(t *testing.T) {
	for _, tt := range []struct {
		name  string
		extra map[string]any
	}{
		{"missing", map[string]any{"groups": []string{"admin"}}},
		{"not a name", map[string]any{"tenant": "acme corp/../x"}},
		{"not a string", map[string]any{"tenant": []string{"acme"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 0, 0)
			res := r.signIn(t, user{sub: "carol", extra: tt.extra}, "/")
			if b := body(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(b, "No Telltale tenant") || !strings.Contains(b, "tenant") {
				t.Fatalf("got %d %s, want 403 saying the tenant claim is missing", res.StatusCode, b)
			}
			if st, got := r.renew(t); st != http.StatusUnauthorized || got.Login != LoginPath {
				t.Fatalf("renew after a refused sign-in: got %d %+v, want 401 with the login link", st, got)
			}
		})
	}
}

func TestNestedAndNamespacedClaims(t *testing.T) {
	claims := map[string]any{
		"https://telltale.example/tenant": "acme",
		"realm_access":                    map[string]any{"roles": []any{"user", "admin"}},
	}
	if v, ok := claim(claims, "https://telltale.example/tenant"); !ok || v != "acme" {
		t.Fatalf("namespaced: got %v %v", v, ok)
	}
	if got := role(claim(claims, "realm_access.roles")); got != "admin" {
		t.Fatalf("nested roles: got %q, want admin", got)
	}
	if got := role(claim(claims, "realm_access.missing")); got != "viewer" {
		t.Fatalf("no role: got %q, want viewer", got)
	}
}

func TestExpiredSessionIsRefusedAndAsksToSignInAgain(t *testing.T) {
	r := newRig(t, 10*time.Minute, time.Hour)
	_, tok := tokenOf(t, r.signIn(t, user{sub: "dave", extra: map[string]any{"tenant": "acme"}}, "/"))
	r.advance(55 * time.Minute)
	status, got := r.renew(t)
	if status != http.StatusOK {
		t.Fatalf("renew 5 minutes before the session ends: got %d %+v", status, got)
	}
	p, err := r.guard.Verify(got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if end := r.clock().Add(5 * time.Minute).Truncate(time.Second); p.Expires.After(end.Add(time.Second)) {
		t.Fatalf("token expires %v, after the session's end %v", p.Expires, end)
	}
	r.advance(5 * time.Minute)
	status, got = r.renew(t)
	if status != http.StatusUnauthorized || got.Login != LoginPath || got.Token != "" || !strings.Contains(got.Error, "sign in again") {
		t.Fatalf("renew after the session ended: got %d %+v, want 401 asking to sign in again", status, got)
	}
	if _, err := r.guard.Verify(tok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("the first token after the session: got %v, want expired", err)
	}
}

func TestSignOutRevokesTheSession(t *testing.T) {
	r := newRig(t, 0, 0)
	_, tok := tokenOf(t, r.signIn(t, user{sub: "erin", extra: map[string]any{"tenant": "acme"}}, "/"))
	// Another session of the same operator (another device) is not ended.
	other := newRigBrowser(r)
	_, otherTok := tokenOf(t, other.signIn(t, user{sub: "erin", extra: map[string]any{"tenant": "acme"}}, "/"))

	r.advance(time.Second)
	req, _ := http.NewRequest("POST", r.srv.URL+"/auth/logout", nil)
	req.Header.Set("Origin", r.srv.URL)
	res, err := r.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, res); res.StatusCode != http.StatusOK || !strings.Contains(b, "Signed out") {
		t.Fatalf("sign-out: got %d %s", res.StatusCode, b)
	}
	res.Body.Close()
	if err := r.guard.Load(context.Background()); err != nil { // what Guard.Run does every 2 s
		t.Fatal(err)
	}
	if _, err := r.guard.Verify(tok); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("the session's token after sign-out: got %v, want revoked", err)
	}
	if st, got := r.renew(t); st != http.StatusUnauthorized || got.Login == "" {
		t.Fatalf("renew after sign-out: got %d %+v, want 401", st, got)
	}
	if _, err := r.guard.Verify(otherTok); err != nil {
		t.Fatalf("the operator's other session: %v", err)
	}
	if st, got := other.renew(t); st != http.StatusOK {
		t.Fatalf("the other session's renewal: got %d %+v", st, got)
	}
}

// newRigBrowser is the same rig seen from a second browser.
func newRigBrowser(r *rig) *rig {
	jar, _ := cookiejar.New(nil)
	c := *r.browser
	c.Jar = jar
	return &rig{idp: r.idp, srv: r.srv, keys: r.keys, guard: r.guard, revs: r.revs, browser: &c}
}

func TestCrossSiteRenewAndSignOutAreRefused(t *testing.T) {
	r := newRig(t, 0, 0)
	tokenOf(t, r.signIn(t, user{sub: "fay", extra: map[string]any{"tenant": "acme"}}, "/"))
	for _, path := range []string{"/auth/renew", "/auth/logout"} {
		req, _ := http.NewRequest("POST", r.srv.URL+path, nil)
		req.Header.Set("Origin", "https://evil.example")
		res, err := r.browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("%s from another origin: got %d, want 403", path, res.StatusCode)
		}
	}
	if st, _ := r.renew(t); st != http.StatusOK {
		t.Fatalf("the session after refused cross-site requests: got %d, want it alive", st)
	}
}

// TestFlowMismatchesAreRefused: a callback whose state, nonce or PKCE
// verifier is not the sign-in's own gets no token and no session.
func TestFlowMismatchesAreRefused(t *testing.T) {
	// stepwise follows the flow one redirect at a time, letting the test
	// change the request to the provider or to the callback.
	stepwise := func(t *testing.T, r *rig, u user, toIdP, toCallback func(*url.URL)) *http.Response {
		t.Helper()
		r.idp.QueueUser(u)
		c := *r.browser
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		next := r.srv.URL + "/auth/login"
		for range 3 {
			res, err := c.Get(next)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusFound {
				return res
			}
			res.Body.Close()
			loc, _ := url.Parse(res.Header.Get("Location"))
			switch {
			case strings.HasPrefix(loc.String(), r.idp.AuthorizationEndpoint()):
				toIdP(loc)
			case loc.Path == "/auth/callback":
				toCallback(loc)
			default:
				return res
			}
			next = loc.String()
		}
		t.Fatal("too many redirects")
		return nil
	}
	query := func(loc *url.URL, k, v string) {
		q := loc.Query()
		q.Set(k, v)
		loc.RawQuery = q.Encode()
	}
	none := func(*url.URL) {}
	acme := map[string]any{"tenant": "acme"}
	other := "another sign-in's nonce"
	for _, tt := range []struct {
		name              string
		user              user
		toIdP, toCallback func(*url.URL)
		wantStatus        int
		wantText          string
	}{
		{"state changed", user{sub: "g", extra: acme}, none, func(l *url.URL) { query(l, "state", "forged-state-forged-state-forged") }, http.StatusBadRequest, "not started here"},
		{"state missing", user{sub: "g", extra: acme}, none, func(l *url.URL) { query(l, "state", "") }, http.StatusBadRequest, "not started here"},
		{"nonce of another sign-in", user{sub: "g", extra: acme, nonce: &other}, none, none, http.StatusBadRequest, "nonce"},
		{"PKCE challenge of another verifier", user{sub: "g", extra: acme}, func(l *url.URL) {
			sum := sha256.Sum256([]byte("an attacker's verifier, not the one in the cookie......"))
			query(l, "code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		}, none, http.StatusBadRequest, "PKCE"},
		{"provider refused", user{sub: "g", extra: acme}, none, func(l *url.URL) { l.RawQuery = "error=access_denied&error_description=%3Cscript%3E" }, http.StatusForbidden, "&lt;script&gt;"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 0, 0)
			res := stepwise(t, r, tt.user, tt.toIdP, tt.toCallback)
			defer res.Body.Close()
			if b := body(t, res); res.StatusCode != tt.wantStatus || !strings.Contains(b, tt.wantText) {
				t.Fatalf("got %d %s, want %d saying %q", res.StatusCode, b, tt.wantStatus, tt.wantText)
			}
			if st, _ := r.renew(t); st != http.StatusUnauthorized {
				t.Fatalf("renew after a refused sign-in: got %d, want 401", st)
			}
		})
	}
}

func TestForgedCookiesAreRefused(t *testing.T) {
	r := newRig(t, 0, 0)
	other := sealer{key: []byte("not the deployment's key, 32 bytes")}
	forged, _ := other.seal(sessionPurpose, session{ID: "acme/000000000000000000000000", Subject: "mallory", Tenant: "acme", Issued: time.Now().Unix(), Exp: time.Now().Add(time.Hour).Unix()})
	u, _ := url.Parse(r.srv.URL + "/auth/")
	r.browser.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: forged, Path: "/auth/"}})
	if st, got := r.renew(t); st != http.StatusUnauthorized || got.Token != "" {
		t.Fatalf("a session signed with another key: got %d %+v, want 401", st, got)
	}
	// A flow cookie is not a session cookie, though signed with the same key.
	h := &Handler{seal: sealer{key: mustDerive(t, r.keys)}}
	flowAsSession, _ := h.seal.seal(flowPurpose, session{ID: "acme/000000000000000000000000", Subject: "mallory", Tenant: "acme", Issued: time.Now().Unix(), Exp: time.Now().Add(time.Hour).Unix()})
	r.browser.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: flowAsSession, Path: "/auth/"}})
	if st, _ := r.renew(t); st != http.StatusUnauthorized {
		t.Fatalf("a flow-signed value as a session: got %d, want 401", st)
	}
}

func mustDerive(t *testing.T, k *auth.Keys) []byte {
	t.Helper()
	b, err := k.Derive("telltale sso cookies")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReturnStaysOnThisServer(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/d/fleet", "/d/fleet"}, {"", "/"}, {"//evil.example/x", "/"}, {"/\\evil.example", "/"},
		{"https://evil.example/", "/"}, {"/d/x#token=y", "/"},
	} {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNewNeedsAMintingSecret(t *testing.T) {
	_, err := New(Config{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://t.example/auth/callback", TenantClaim: "tenant"})
	if err == nil || !strings.Contains(err.Error(), "mint") {
		t.Fatalf("got %v, want an error about minting keys", err)
	}
}

// Package sso signs operators in with their organisation's OpenID Connect
// identity provider and gives their page Telltale tokens, renewed silently
// for as long as the sign-in session lasts.
//
// The flow is the server-side authorization code flow with PKCE, through
// coreos/go-oidc (discovery, ID token verification) and golang.org/x/oauth2
// (the code exchange), Telltale being a confidential client:
//
//	GET  /auth/login?return=/d/x  → the provider, with state, nonce and a
//	                                PKCE challenge; the verifier waits in a
//	                                signed cookie (10 minutes)
//	GET  /auth/callback           → checks state, exchanges the code with the
//	                                verifier, verifies the ID token and its
//	                                nonce, reads tenant and role from the
//	                                configured claims, sets the session cookie
//	                                and sends the page back with a token
//	                                (/d/x#token=…, as a minted sign-in link)
//	POST /auth/renew              → a new token for the session: the page's
//	                                live connection hands it over (refresh)
//	GET  /auth/logout             → a sign-out button; POST ends the session
//
// Every token of a session carries the session's id as its jti, so sign-out
// revokes that id and the gateway closes the session's connections within
// seconds, on every node (the revocation list is shared). The session lives
// in a signed cookie, not in a node's memory: any node renews it. It must
// never hand out a token for a tenant the ID token does not name: a missing
// or malformed tenant claim refuses sign-in.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/shared/wire"
)

// Config is how the server signs operators in.
type Config struct {
	Issuer       string // the provider's issuer URL (discovery at /.well-known/openid-configuration)
	ClientID     string
	ClientSecret string
	RedirectURL  string // this server's /auth/callback as the provider knows it
	// Scopes are asked for besides openid; nil means profile and email.
	Scopes []string
	// TenantClaim names the ID token claim holding the operator's tenant
	// (a top-level name, or a dotted path); required.
	TenantClaim string
	// RoleClaim names the claim holding the role ("admin", or a list
	// holding it, grants admin); empty means every operator is a viewer.
	RoleClaim string
	// TokenTTL is how long each token the page gets lives; zero means 15m.
	// The page renews it a minute before it ends.
	TokenTTL time.Duration
	// SessionTTL is how long a sign-in lasts before the provider is asked
	// again; zero means 12h.
	SessionTTL time.Duration
	// Keys mint the page's tokens; they must hold the shared secret.
	Keys *auth.Keys
	// Guard says whether a session was revoked (sign-out, or an admin's
	// revocation of the operator) before renewing it.
	Guard *auth.Guard
	// Revocations stores sign-outs; required.
	Revocations auth.Revocations
	Logger      *slog.Logger
	// HTTPClient reaches the provider; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Handler serves /auth/.
type Handler struct {
	cfg    Config
	seal   sealer
	secure bool // the redirect URL is https: cookies are Secure
	mux    *http.ServeMux

	mu       sync.Mutex
	provider *oidc.Provider // discovered at the first sign-in, then kept
}

const (
	flowPurpose    = "telltale oidc flow"
	sessionPurpose = "telltale oidc session"
	sessionCookie  = "telltale_session"
	// HintCookie tells the page's script, which cannot read the HttpOnly
	// session, that it has one (it holds "1", nothing secret): the page
	// shows Sign out and does not ask for a token before its expiry.
	HintCookie = "telltale_signed_in"
	flowPrefix = "telltale_flow_" // + the state's first 12 characters: parallel sign-ins in several tabs
	flowTTL    = 10 * time.Minute
	// LoginPath is where a page sends an operator to sign in.
	LoginPath = "/auth/login"
)

// New checks cfg. The provider is discovered at the first sign-in, not
// here: a provider that is down when the server starts must not stop
// dashboards (and minted tokens) from being served.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "":
		return nil, errors.New("sso: issuer, client id and redirect URL are required")
	case cfg.TenantClaim == "":
		return nil, errors.New("sso: a tenant claim is required")
	case cfg.Keys == nil || !cfg.Keys.CanMint():
		return nil, errors.New("sso: keys that mint tokens are required: set TELLTALE_JWT_SECRET, not a public key (Telltale mints the tokens of a sign-in)")
	case cfg.Guard == nil || cfg.Revocations == nil:
		return nil, errors.New("sso: a guard and a revocation store are required")
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || ru.Host == "" || (ru.Scheme != "http" && ru.Scheme != "https") {
		return nil, fmt.Errorf("sso: redirect URL %q: want http(s)://host/auth/callback", cfg.RedirectURL)
	}
	if ru.Path != "/auth/callback" {
		return nil, fmt.Errorf("sso: redirect URL %q: its path must be /auth/callback", cfg.RedirectURL)
	}
	key, err := cfg.Keys.Derive("telltale sso cookies")
	if err != nil {
		return nil, fmt.Errorf("sso: %w: set TELLTALE_JWT_SECRET (Telltale mints the tokens of a sign-in)", err)
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"profile", "email"}
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 15 * time.Minute
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.TokenTTL > cfg.SessionTTL || cfg.SessionTTL > auth.MaxTTL {
		return nil, fmt.Errorf("sso: want token TTL ≤ session TTL ≤ %v", auth.MaxTTL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, seal: sealer{key}, secure: ru.Scheme == "https", mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /auth/login", h.login)
	h.mux.HandleFunc("GET /auth/callback", h.callback)
	h.mux.HandleFunc("POST /auth/renew", h.renew)
	h.mux.HandleFunc("GET /auth/logout", h.logoutForm)
	h.mux.HandleFunc("POST /auth/logout", h.logout)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// flow is what the login keeps for its callback.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Exp      int64  `json:"e"` // unix seconds
}

// session is the signed-in operator, kept in the session cookie.
type session struct {
	ID      string `json:"id"` // every token of the session carries it as jti
	Subject string `json:"sub"`
	Tenant  string `json:"tnt"`
	Role    string `json:"role"`
	Issued  int64  `json:"iat"` // unix seconds, as a token's iat: revocations compare it
	Exp     int64  `json:"exp"`
}

func (h *Handler) ctx(r *http.Request) context.Context {
	return oidc.ClientContext(r.Context(), h.cfg.HTTPClient)
}

// discover returns the provider, asking for its configuration once.
func (h *Handler) discover(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, h.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	h.provider = p
	return p, nil
}

func (h *Handler) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     h.cfg.ClientID,
		ClientSecret: h.cfg.ClientSecret,
		RedirectURL:  h.cfg.RedirectURL,
		Endpoint:     p.Endpoint(),
		Scopes:       append([]string{oidc.ScopeOpenID}, h.cfg.Scopes...),
	}
}

// login sends the browser to the provider.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	p, err := h.discover(h.ctx(r))
	if err != nil {
		h.cfg.Logger.Error("sign-in: the identity provider's configuration", "issuer", h.cfg.Issuer, "err", err)
		page(w, http.StatusBadGateway, "The identity provider cannot be reached", "Telltale could not read the sign-in configuration of "+html.EscapeString(h.cfg.Issuer)+". Try again in a moment; tokens minted for scripts and kiosks keep working.")
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Return: localPath(r.URL.Query().Get("return")),
		Exp: h.cfg.Now().Add(flowTTL).Unix()}
	v, err := h.seal.seal(flowPurpose, f)
	if err != nil {
		page(w, http.StatusInternalServerError, "Sign-in failed", html.EscapeString(err.Error()))
		return
	}
	http.SetCookie(w, cookie(flowPrefix+f.State[:12], v, int(flowTTL/time.Second), h.secure))
	http.Redirect(w, r, h.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// callback finishes the sign-in the provider sends back.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	retry := `<a href="` + LoginPath + `">Sign in again</a>.`
	if e := q.Get("error"); e != "" {
		page(w, http.StatusForbidden, "The identity provider refused sign-in", html.EscapeString(e+": "+q.Get("error_description"))+". "+retry)
		return
	}
	state := q.Get("state")
	var f flow
	c, err := r.Cookie(flowPrefix + prefix(state, 12))
	if err == nil {
		err = h.seal.open(flowPurpose, c.Value, &f)
	}
	if err != nil || len(state) < 12 || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		h.cfg.Logger.Warn("sign-in refused: state does not match a sign-in this browser started")
		page(w, http.StatusBadRequest, "This sign-in was not started here", "The answer from the identity provider does not match a sign-in this browser started (state), or it came too late. "+retry)
		return
	}
	http.SetCookie(w, cookie(c.Name, "", -1, h.secure))
	if h.cfg.Now().Unix() > f.Exp {
		page(w, http.StatusBadRequest, "This sign-in took too long", "More than 10 minutes passed at the identity provider. "+retry)
		return
	}
	p, err := h.discover(h.ctx(r))
	if err != nil {
		page(w, http.StatusBadGateway, "The identity provider cannot be reached", html.EscapeString(err.Error()))
		return
	}
	tok, err := h.oauth(p).Exchange(h.ctx(r), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		h.cfg.Logger.Warn("sign-in refused: code exchange", "err", err)
		page(w, http.StatusBadRequest, "Sign-in failed", "The identity provider did not accept the sign-in's code (expired, used, or issued for another PKCE challenge). "+retry)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: h.cfg.ClientID, Now: h.cfg.Now}).Verify(h.ctx(r), raw)
	if err != nil {
		h.cfg.Logger.Warn("sign-in refused: ID token", "err", err)
		page(w, http.StatusBadRequest, "Sign-in failed", "The identity provider's ID token did not verify. "+retry)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		h.cfg.Logger.Warn("sign-in refused: nonce does not match", "sub", idt.Subject)
		page(w, http.StatusBadRequest, "Sign-in failed", "The ID token was not issued for this sign-in (nonce). "+retry)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		page(w, http.StatusBadRequest, "Sign-in failed", "The ID token's claims cannot be read. "+retry)
		return
	}
	tv, ok := claim(claims, h.cfg.TenantClaim)
	tenant, _ := tv.(string)
	if !ok || wire.ValidStream(tenant) != nil {
		h.cfg.Logger.Warn("sign-in refused: no valid tenant claim", "claim", h.cfg.TenantClaim, "sub", idt.Subject, "present", ok)
		page(w, http.StatusForbidden, "No Telltale tenant for this account",
			"Your identity provider signed you in, but your account has no valid “"+html.EscapeString(h.cfg.TenantClaim)+"” claim, which says which Telltale tenant you belong to. Ask your administrator to set it (a name of letters, digits, '.', '_' or '-').")
		return
	}
	if len(idt.Subject) > 256 {
		page(w, http.StatusForbidden, "Sign-in failed", "The account's subject is longer than 256 bytes.")
		return
	}
	now := h.cfg.Now()
	rv, ok := claim(claims, h.cfg.RoleClaim)
	s := session{ID: auth.NewID(tenant), Subject: idt.Subject, Tenant: tenant, Role: role(rv, ok && h.cfg.RoleClaim != ""),
		Issued: now.Unix(), Exp: now.Add(h.cfg.SessionTTL).Unix()}
	token, err := h.mint(s, now)
	if err == nil {
		var v string
		if v, err = h.seal.seal(sessionPurpose, s); err == nil {
			http.SetCookie(w, cookie(sessionCookie, v, int(h.cfg.SessionTTL/time.Second), h.secure))
			h.hint(w, int(h.cfg.SessionTTL/time.Second))
		}
	}
	if err != nil {
		page(w, http.StatusInternalServerError, "Sign-in failed", html.EscapeString(err.Error()))
		return
	}
	h.cfg.Logger.Info("signed in", "tenant", tenant, "sub", s.Subject, "role", s.Role, "session", s.ID)
	// The token travels in the fragment, as a minted sign-in link's does:
	// never sent to a server, taken and erased from the address bar by the
	// page.
	http.Redirect(w, r, f.Return+"#token="+token, http.StatusFound)
}

// mint gives the session a token, living TokenTTL or until the session
// ends, whichever is first.
func (h *Handler) mint(s session, now time.Time) (string, error) {
	ttl := min(h.cfg.TokenTTL, time.Unix(s.Exp, 0).Sub(now))
	if ttl < time.Second {
		return "", errEnded
	}
	return h.cfg.Keys.MintID(s.Tenant, s.Subject, ttl, nil, s.Role, s.ID)
}

var errEnded = errors.New("the session has ended")

// hint sets (maxAge > 0) or clears HintCookie, on the whole site for the
// page's script.
func (h *Handler) hint(w http.ResponseWriter, maxAge int) {
	v := "1"
	if maxAge < 0 {
		v = ""
	}
	http.SetCookie(w, &http.Cookie{Name: HintCookie, Value: v, Path: "/", MaxAge: maxAge, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// Renewal is POST /auth/renew's answer.
type Renewal struct {
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Error and Login answer a page without a session (none, ended,
	// revoked): it shows a link to Login.
	Error string `json:"error,omitempty"`
	Login string `json:"login,omitempty"`
}

// renew gives the session's page a new token.
func (h *Handler) renew(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, Renewal{Error: "cross-origin request refused"})
		return
	}
	s, err := h.session(r)
	now := h.cfg.Now()
	var tok string
	if err == nil {
		tok, err = h.mint(s, now)
	}
	if err != nil {
		if c, _ := r.Cookie(sessionCookie); c != nil {
			http.SetCookie(w, cookie(sessionCookie, "", -1, h.secure))
		}
		if c, _ := r.Cookie(HintCookie); c != nil {
			h.hint(w, -1)
		}
		writeJSON(w, http.StatusUnauthorized, Renewal{Error: err.Error() + ": sign in again", Login: LoginPath})
		return
	}
	exp := now.Add(h.cfg.TokenTTL)
	if end := time.Unix(s.Exp, 0); end.Before(exp) {
		exp = end
	}
	writeJSON(w, http.StatusOK, Renewal{Token: tok, Expires: exp.Truncate(time.Second).UTC()}) // as the token says it
}

// session reads the request's session: signed by this deployment, not
// ended, not revoked.
func (h *Handler) session(r *http.Request) (session, error) {
	var s session
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return s, errors.New("no sign-in session")
	}
	if err := h.seal.open(sessionPurpose, c.Value, &s); err != nil || idTenant(s.ID) != s.Tenant {
		return s, errors.New("no valid sign-in session")
	}
	if h.cfg.Now().Unix() >= s.Exp {
		return s, errEnded
	}
	p := &auth.Principal{Subject: s.Subject, Tenant: s.Tenant, ID: s.ID, Issued: time.Unix(s.Issued, 0)}
	if h.cfg.Guard.Revoked(p) {
		return s, errors.New("the session was signed out or revoked")
	}
	return s, nil
}

func (h *Handler) logoutForm(w http.ResponseWriter, r *http.Request) {
	page(w, http.StatusOK, "Sign out of Telltale", `<form method="post" action="/auth/logout"><button type="submit">Sign out</button></form>`)
}

// logout ends the session: its id is revoked, so its page's connections
// close within seconds on every node and its tokens stop working.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		page(w, http.StatusForbidden, "Sign-out refused", "A sign-out must come from Telltale's own pages.")
		return
	}
	s, err := h.session(r)
	http.SetCookie(w, cookie(sessionCookie, "", -1, h.secure))
	h.hint(w, -1)
	if err == nil {
		now := h.cfg.Now()
		rev := auth.Revocation{Tenant: s.Tenant, TokenID: s.ID, At: now, Until: now.Add(auth.MaxTTL)}
		if err := h.cfg.Revocations.Revoke(r.Context(), rev); err != nil {
			h.cfg.Logger.Error("sign-out: store the revocation", "tenant", s.Tenant, "err", err)
			page(w, http.StatusServiceUnavailable, "Sign-out failed", "The sign-out could not be stored; try again.")
			return
		}
		h.cfg.Logger.Info("signed out", "tenant", s.Tenant, "sub", s.Subject, "session", s.ID)
	}
	page(w, http.StatusOK, "Signed out", `Your Telltale session has ended; its pages close within seconds. <a href="`+LoginPath+`">Sign in again</a>.`)
}

// sameOrigin refuses a request another site's page made: browsers send
// Origin on POSTs, and a request without one is not a browser's
// cross-site request.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// localPath keeps a return address on this server: a path, never another
// host ("//evil", "/\evil", "https://…").
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "#\r\n") || len(p) > 512 {
		return "/"
	}
	return p
}

func idTenant(jti string) string {
	t, _, _ := strings.Cut(jti, "/")
	return t
}

func prefix(s string, n int) string { return s[:min(n, len(s))] }

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// page answers with a small HTML page: sign-in happens in the browser's
// address bar, so its failures are pages a person reads, not JSON. body is
// HTML the callers write (no outside input unescaped).
func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>%s — Telltale</title>`+
		`<body style="font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em"><h1>%s</h1><p>%s</p></body></html>`, title, title, body)
}

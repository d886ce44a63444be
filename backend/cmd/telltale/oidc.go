package main

import (
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/sso"
)

// oidcFlags configure sign-in with the organisation's OpenID Connect
// identity provider (package sso). With no issuer, sign-in is off and
// nothing changes: operators paste or follow minted tokens.
type oidcFlags struct {
	issuer, clientID, clientSecret, redirectURL string
	tenantClaim, roleClaim, scopes              string
	tokenTTL, sessionTTL                        time.Duration
}

func (o *oidcFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.issuer, "oidc-issuer", "", "sign operators in with this OpenID Connect provider's issuer `URL`; empty means no sign-in, only minted tokens; needs a shared secret (-jwt-secret, or the development one), not -jwt-public-key")
	fs.StringVar(&o.clientID, "oidc-client-id", "", "the client id Telltale has at the provider")
	fs.StringVar(&o.clientSecret, "oidc-client-secret", "", "its client secret (prefer the environment, TELLTALE_OIDC_CLIENT_SECRET: flags show in ps)")
	fs.StringVar(&o.redirectURL, "oidc-redirect-url", "", "this server's callback as registered at the provider, https://HOST/auth/callback")
	fs.StringVar(&o.tenantClaim, "oidc-tenant-claim", "tenant", "the ID token claim naming the operator's tenant, a name or a dotted path; an account without it cannot sign in")
	fs.StringVar(&o.roleClaim, "oidc-role-claim", "", "the ID token claim holding the role: \"admin\", or a list holding it, makes an admin; empty means every operator is a viewer")
	fs.StringVar(&o.scopes, "oidc-scopes", "profile,email", "scopes asked for besides openid, comma-separated")
	fs.DurationVar(&o.tokenTTL, "oidc-token-ttl", 15*time.Minute, "life of each token a signed-in page gets; the page renews it silently before it ends")
	fs.DurationVar(&o.sessionTTL, "oidc-session-ttl", 12*time.Hour, "how long a sign-in lasts before the provider is asked again")
}

// handler returns /auth/'s handler, nil when sign-in is off.
func (o *oidcFlags) handler(keys *auth.Keys, guard *auth.Guard, revoked auth.Revocations, log *slog.Logger) (http.Handler, error) {
	if o.issuer == "" {
		if o.clientID != "" || o.redirectURL != "" {
			return nil, errors.New("-oidc-client-id and -oidc-redirect-url need -oidc-issuer")
		}
		return nil, nil
	}
	if o.tokenTTL <= 0 || o.sessionTTL <= 0 {
		return nil, errors.New("-oidc-token-ttl and -oidc-session-ttl: want positive durations")
	}
	scopes := []string{}
	for s := range strings.SplitSeq(o.scopes, ",") {
		if s = strings.TrimSpace(s); s != "" && s != "openid" {
			scopes = append(scopes, s)
		}
	}
	h, err := sso.New(sso.Config{Issuer: o.issuer, ClientID: o.clientID, ClientSecret: o.clientSecret, RedirectURL: o.redirectURL,
		Scopes: scopes, TenantClaim: o.tenantClaim, RoleClaim: o.roleClaim, TokenTTL: o.tokenTTL, SessionTTL: o.sessionTTL,
		Keys: keys, Guard: guard, Revocations: revoked, Logger: log})
	if err != nil {
		return nil, errors.New("-oidc-issuer: " + strings.TrimPrefix(err.Error(), "sso: "))
	}
	return h, nil
}

package ui

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
)

// The server's sign-in with the organisation's identity provider (package
// backend/sso): the flow is the server's, the page only links to it, takes
// the token it hands back (#token=, as a minted link's), and renews that
// token from the session before it expires.
const (
	PathRenew  = "/auth/renew"
	PathLogin  = "/auth/login"
	PathLogout = "/auth/logout"
)

// ssoState is what the page knows of the server's sign-in.
type ssoState struct {
	// renews: the session renewed this page's token, so the page does not
	// ask for a new one before it expires (the client's Refresh, on any
	// goroutine, sets it).
	renews atomic.Bool
	// offered: the server signs in with an identity provider (it answered
	// a renewal 401, not 404): the sign-in form links to it.
	offered bool
	// asked: the page asked for a renewal since it last needed signing in.
	asked bool
}

// renewToken asks the server's sign-in session for a token. offered says
// whether the server has sign-in at all (a session ended or missing is
// 401; a server without it answers 404).
func renewToken(ctx context.Context) (tok string, offered bool, err error) {
	b, err := fetchRequest(ctx, "POST", origin().String()+PathRenew, "")
	var herr *client.HTTPError
	if errors.As(err, &herr) {
		return "", herr.Status == 401, err
	}
	if err != nil {
		return "", false, err
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Token == "" {
		return "", true, errors.New("no token in the renewal")
	}
	return r.Token, true, nil
}

// hasSession reads the server's hint that this browser has a sign-in
// session (backend/sso's HintCookie; the session itself is HttpOnly).
func hasSession() bool {
	return strings.Contains("; "+app.Window().Get("document").Get("cookie").String(), "; telltale_signed_in=1")
}

// sessionToken is a token from the session, only of the operator already
// signed in: a session of someone else is not switched to silently (its
// link asks, as a minted link of someone else does).
func sessionToken(ctx context.Context) (tok string, offered bool, err error) {
	tok, offered, err = renewToken(ctx)
	if err != nil {
		return "", offered, err
	}
	if cur := storedToken(); cur != "" && identity(cur) != identity(tok) {
		return "", true, errors.New("the sign-in session is another operator's")
	}
	saveToken(tok)
	return tok, true, nil
}

// refreshToken is the client's Refresh.
func (s *Shell) refreshToken(ctx context.Context) (string, error) {
	tok, _, err := sessionToken(ctx)
	if err == nil {
		s.sso.renews.Store(true)
	}
	return tok, err
}

// ssoTick runs every second on the UI goroutine: when the page needs a
// token (none, refused, expired, revoked), it asks the session once for
// one, silently; a server with sign-in that has no session for the page
// gets the form's link instead.
func (s *Shell) ssoTick(ctx app.Context) {
	if s.signInWhy() == "" {
		s.sso.asked = false
		return
	}
	if s.sso.asked {
		return
	}
	s.sso.asked = true
	ctx.Async(func() {
		tok, offered, err := sessionToken(ctx)
		ctx.Dispatch(func(app.Context) {
			s.sso.offered = offered
			if err != nil {
				if offered { // no session (ended, signed out) or another operator's
					s.sso.renews.Store(false)
				}
				return
			}
			s.sso.renews.Store(true)
			if s.client != nil {
				s.client.SetToken(tok)
			}
			select { // wakes loadSpec if it waits for a token
			case s.tokens <- struct{}{}:
			default:
			}
		})
	})
}

// ssoLink is the sign-in form's link to the identity provider, back to
// this page; a full page load (data-reload), not go-app's navigation.
func (s *Shell) ssoLink() string {
	if !s.sso.offered {
		return ""
	}
	back := app.Window().Get("location").Get("pathname").String()
	return `<a class="tt-signin-sso" data-reload href="` + html.EscapeString(PathLogin+"?return="+url.QueryEscape(back)) +
		`">Sign in with your organisation</a><span class="tt-signin-or">or</span>`
}

// ssoSignOut is the header's sign-out link, for a page the session renews.
func (s *Shell) ssoSignOut() string {
	if !s.sso.renews.Load() {
		return ""
	}
	return `<a class="tt-signout" data-reload href="` + PathLogout + `">Sign out</a>`
}

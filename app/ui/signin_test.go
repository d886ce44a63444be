package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
)

// TestRenewingPageDoesNotAskForAToken: a page whose token the sign-in
// session renews is not asked to paste one before it expires; it still is
// once the server signs it out (the session ended, or was revoked).
func TestRenewingPageDoesNotAskForAToken(t *testing.T) {
	s := &Shell{now: time.Now(), client: client.New(client.Config{URL: "ws://127.0.0.1:1/"})}
	s.view.info.TokenExpires = s.now.Add(2 * time.Minute)
	if got := s.signInWhy(); !strings.Contains(got, "paste a new token") {
		t.Fatalf("a minted token about to expire: got %q, want the form's warning", got)
	}
	s.sso.renews.Store(true)
	if got := s.signInWhy(); got != "" {
		t.Fatalf("a renewing page: got %q, want no form", got)
	}
	s.view.info.Status, s.view.info.LastError = client.SignedOut, "token expired: sign in again"
	if got := s.signInWhy(); got != "token expired: sign in again" {
		t.Fatalf("a renewing page signed out: got %q, want the server's reason", got)
	}
}

func TestSignInLinksOnlyWhenOffered(t *testing.T) {
	s := &Shell{}
	if got := s.ssoLink(); got != "" {
		t.Fatalf("no sign-in offered: got %q, want no link", got)
	}
	if got := s.ssoSignOut(); got != "" {
		t.Fatalf("not renewing: got %q, want no sign-out link", got)
	}
	s.sso.renews.Store(true)
	if got := s.ssoSignOut(); !strings.Contains(got, `href="/auth/logout"`) || !strings.Contains(got, "data-reload") {
		t.Fatalf("renewing: got %q, want a full-load link to /auth/logout", got)
	}
}

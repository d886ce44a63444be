package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/memstore"
)

func TestOIDCFlags(t *testing.T) {
	secret, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	verifyOnly, err := auth.PublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]string{"TELLTALE_OIDC_ISSUER": "https://idp.example", "TELLTALE_OIDC_CLIENT_ID": "telltale",
		"TELLTALE_OIDC_REDIRECT_URL": "https://telltale.example/auth/callback"}
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		keys    *auth.Keys
		wantOn  bool
		wantErr string
	}{
		{"off by default", nil, nil, secret, false, ""},
		{"on from the environment", nil, full, secret, true, ""},
		{"client id without issuer", []string{"-oidc-client-id", "x"}, nil, secret, false, "need -oidc-issuer"},
		{"verify-only keys cannot mint", nil, full, verifyOnly, false, "TELLTALE_JWT_SECRET"},
		{"callback elsewhere", []string{"-oidc-redirect-url", "https://telltale.example/cb"}, full, secret, false, "/auth/callback"},
		{"no tenant claim", []string{"-oidc-tenant-claim", ""}, full, secret, false, "tenant claim"},
		{"token outlives session", []string{"-oidc-token-ttl", "2h", "-oidc-session-ttl", "1h"}, full, secret, false, "TTL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			h, err := c.oidc.handler(tt.keys, auth.NewGuard(tt.keys, nil), memstore.New(memstore.Config{}), slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (h != nil) != tt.wantOn {
				t.Fatalf("got handler %v, want on %v", h, tt.wantOn)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantDemo bool
		wantErr  string
	}{
		{"defaults", nil, nil, ":8080", true, ""},
		{"env", nil, map[string]string{"TELLTALE_ADDR": "127.0.0.1:9", "TELLTALE_DEMO": "false"}, "127.0.0.1:9", false, ""},
		{"flag beats env", []string{"-addr", ":7"}, map[string]string{"TELLTALE_ADDR": ":9"}, ":7", true, ""},
		{"bad bool env", nil, map[string]string{"TELLTALE_DEMO": "maybe"}, "", false, "TELLTALE_DEMO"},
		{"bad level", []string{"-log-level", "loud"}, nil, "", false, "-log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.addr != tt.wantAddr || c.demo != tt.wantDemo {
				t.Fatalf("got addr %q demo %v, want %q %v", c.addr, c.demo, tt.wantAddr, tt.wantDemo)
			}
		})
	}
}

func TestBadDatabaseURLIsAClearError(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "not a url at all ::"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("got %v, want an error naming DATABASE_URL", err)
	}
}

func TestMigrateNeedsDatabaseURL(t *testing.T) {
	err := run(context.Background(), []string{"migrate"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("got %v, want an error naming DATABASE_URL", err)
	}
}

func TestTokenCommandMintsVerifiableTokens(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	env := map[string]string{"TELLTALE_JWT_SECRET": secret}
	var out bytes.Buffer
	err := run(context.Background(), []string{"token", "-tenant", "acme", "-sub", "alice", "-ttl", "2h", "-streams", "orders, fleet.*"}, func(k string) string { return env[k] }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.HS256([]byte(secret))
	p, err := keys.Verify(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "acme" || p.Subject != "alice" || len(p.Streams) != 2 || p.Streams[1] != "fleet.*" {
		t.Fatalf("got %+v", p)
	}
	for _, args := range [][]string{
		{"token", "-sub", "alice"},                // no tenant
		{"token", "-tenant", "acme"},              // no subject
		{"token", "-tenant", "../x", "-sub", "a"}, // bad tenant
		{"token", "-tenant", "acme", "-sub", "a", "-streams", "a/b"},
	} {
		if err := run(context.Background(), args, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

func TestDevSecretSurvivesRestart(t *testing.T) {
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	k1, _, err := keySource{}.load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k1.Mint("demo", "op", time.Hour, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := keySource{}.load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Verify(tok); err != nil {
		t.Fatalf("a token minted before a restart is refused after it: %v", err)
	}
	fi, err := os.Stat(filepath.Join(env["XDG_CACHE_HOME"], "telltale", "dev-jwt-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v; want 0600", err, fi.Mode())
	}
}

func TestParseWebSocketSwitch(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"default on", nil, nil, true},
		{"flag off", []string{"-websocket=false"}, nil, false},
		{"env off", nil, map[string]string{"TELLTALE_WEBSOCKET": "false"}, false},
		{"flag beats env", []string{"-websocket=true"}, map[string]string{"TELLTALE_WEBSOCKET": "false"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.websocket != tt.want {
				t.Fatalf("got websocket %v, want %v", c.websocket, tt.want)
			}
		})
	}
}

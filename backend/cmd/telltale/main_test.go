package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

func TestParse(t *testing.T) {
	t.Parallel()
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
		{"no aggregates allowed", []string{"-max-aggregates", "0"}, nil, "", false, "-max-aggregates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
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
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "not a url at all ::"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("got %v, want an error naming DATABASE_URL", err)
	}
}

func TestMigrateNeedsDatabaseURL(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"migrate"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("got %v, want an error naming DATABASE_URL", err)
	}
}

func TestTokenCommandMintsVerifiableTokens(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.websocket != tt.want {
				t.Fatalf("got websocket %v, want %v", c.websocket, tt.want)
			}
		})
	}
}

// cmdEnv is an environment for commands under test: the server, were it to
// start by mistake, would listen on a free loopback port, not :8080.
func cmdEnv(k string) string {
	return map[string]string{"TELLTALE_ADDR": "127.0.0.1:0", "TELLTALE_JWT_SECRET": "0123456789abcdef0123456789abcdef"}[k]
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	commands := []string{"token", "ingest-key", "migrate", "revoke", "healthcheck", "version"}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // each must appear
		wantErr    []string
	}{
		{"help command", []string{"help"}, 0, append([]string{"Usage:", "-addr", "-dashboards"}, commands...), nil},
		{"-h", []string{"-h"}, 0, append([]string{"Usage:", "-addr", "-ingest-keys tenant:key,…"}, commands...), nil},
		{"--help", []string{"--help"}, 0, append([]string{"Usage:"}, commands...), nil},
		{"version command", []string{"version"}, 0, []string{"telltale " + version}, nil},
		{"-version", []string{"-version"}, 0, []string{"telltale " + version}, nil},
		{"typo of a command", []string{"tokne"}, 2, nil, append([]string{`unknown command "tokne"`, `did you mean "token"?`}, commands...)},
		{"unknown command", []string{"serve"}, 2, nil, append([]string{`unknown command "serve"`}, commands...)},
		{"positional after flags", []string{"-demo=false", "token"}, 2, nil, []string{`unexpected argument "token"`, "telltale token -h"}},
		{"unknown flag", []string{"-adr", ":9"}, 2, nil, []string{"-adr", `did you mean -addr?`, "telltale -h"}},
		{"subcommand help", []string{"token", "-h"}, 0, []string{"-tenant", "-sub", "-ttl"}, nil},
		{"help of a command", []string{"help", "revoke"}, 0, []string{"-token-id"}, nil},
		{"help of no command", []string{"help", "tokne"}, 2, nil, []string{`did you mean "token"?`}},
		{"subcommand extra argument", []string{"token", "-tenant", "acme", "-sub", "a", "extra"}, 2, nil, []string{`unexpected argument "extra"`}},
		{"migrate help", []string{"migrate", "-h"}, 0, []string{"DATABASE_URL"}, nil},
		{"migrate extra argument", []string{"migrate", "now"}, 2, nil, []string{`unexpected argument "now"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A cancelled context: nothing here may serve.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, tt.args, cmdEnv, &stdout, &stderr)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (err %v), want %d; stdout:\n%s\nstderr:\n%s", got, err, tt.wantCode, &stdout, &stderr)
			}
			if strings.Contains(stdout.String(), "serving") {
				t.Fatalf("the server started:\n%s", &stdout)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, &stdout)
				}
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

func TestUsageHasNoGarbledFlagNames(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, cmdEnv, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	// flag takes a back-quoted word of a usage string as the flag's value
	// name: "-ingest-keys telltale ingest-key" read as nonsense.
	if strings.Contains(stdout.String(), "-ingest-keys telltale") {
		t.Fatalf("usage names -ingest-keys' value after a back-quoted phrase:\n%s", &stdout)
	}
}

func TestDashboardFileMistakesSayWhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		name, body, want string
	}{
		{"misspelt key", `{"id": "ops", "panels": [
  {"id": "orders", "kind": "kpi", "stream": "orders", "field": "n", "widht": 6}]}`,
			`-dashboards ` + filepath.Join(dir, "misspelt key.json") + `:2:69: dashboard ops: panel orders: unknown key "widht" (did you mean "width"?)`},
		{"syntax", "{\"id\": \"ops\",\n}", `-dashboards ` + filepath.Join(dir, "syntax.json") + `:2:1: invalid character '}' looking for beginning of object key string`},
		{"no dashboards", `[]`, `-dashboards ` + filepath.Join(dir, "no dashboards.json") + `: no dashboards`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := parse([]string{"-dashboards", path}, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestExampleDashboardsLoad(t *testing.T) {
	t.Parallel()
	c, err := parse([]string{"-dashboards", "../../../examples/dashboards.json"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.dashboards) != 3 || c.dashboards[0].ID != "ops" || c.dashboards[1].ID != "fleet" || c.dashboards[2].ID != "orders" {
		t.Fatalf("got %d dashboards, want ops, fleet and orders", len(c.dashboards))
	}
}

// apiCall sends method path (relative to base, which ends in a slash) with
// the bearer tok (none when empty) and a JSON body, and returns the answer's
// status and body.
func apiCall(t *testing.T, base, method, path, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

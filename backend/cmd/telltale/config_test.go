package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestConfigPrecedence: a flag's value is the command line's, else its
// TELLTALE_ variable's, else the default; a mistake names where the value
// came from: the variable, not the flag, when the environment set it.
func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		get     func(config) any
		want    any
		wantErr string // the error starts with it
	}{
		{"default", nil, nil, func(c config) any { return c.connBurst }, 50, ""},
		{"env over default", nil, map[string]string{"TELLTALE_CONN_BURST": "7"}, func(c config) any { return c.connBurst }, 7, ""},
		{"flag over env", []string{"-conn-burst", "3"}, map[string]string{"TELLTALE_CONN_BURST": "7"}, func(c config) any { return c.connBurst }, 3, ""},
		{"empty env is unset", nil, map[string]string{"TELLTALE_ADDR": ""}, func(c config) any { return c.addr }, ":8080", ""},
		{"bad env names the variable", nil, map[string]string{"TELLTALE_CONN_BURST": "lots"}, nil, nil, `TELLTALE_CONN_BURST: invalid value "lots"`},
		{"env refused by the check names the variable", nil, map[string]string{"TELLTALE_CONN_BURST": "0"}, nil, nil, "TELLTALE_CONN_BURST: want a positive number"},
		{"flag refused by the check names the flag", []string{"-conn-burst", "0"}, map[string]string{"TELLTALE_CONN_BURST": "7"}, nil, nil, "-conn-burst: want a positive number"},
		{"flag mends a bad env", []string{"-conn-burst", "3"}, map[string]string{"TELLTALE_CONN_BURST": "lots"}, func(c config) any { return c.connBurst }, 3, ""},
		{"bad bool env", nil, map[string]string{"TELLTALE_DEMO": "maybe"}, nil, nil, `TELLTALE_DEMO: invalid value "maybe"`},
		{"bad duration env", nil, map[string]string{"TELLTALE_WARM_TIME": "soon"}, nil, nil, `TELLTALE_WARM_TIME: invalid value "soon"`},
		{"bad level env", nil, map[string]string{"TELLTALE_LOG_LEVEL": "loud"}, nil, nil, "TELLTALE_LOG_LEVEL: "},
		{"env keep-events", nil, map[string]string{"TELLTALE_KEEP_EVENTS": "9"}, func(c config) any { return c.retention.KeepEvents }, int64(9), ""},
		{"explicit keep-events 0 beats env", []string{"-keep-events", "0"}, map[string]string{"TELLTALE_KEEP_EVENTS": "9"}, func(c config) any { return c.retention.KeepEvents }, int64(0), ""},
		{"explicit keep-for 0 beats env", []string{"-keep-for", "0s"}, map[string]string{"TELLTALE_KEEP_FOR": "1h"}, func(c config) any { return c.retention.KeepFor }, time.Duration(0), ""},
		{"env keep-for", nil, map[string]string{"TELLTALE_KEEP_FOR": "1h"}, func(c config) any { return c.retention.KeepFor }, time.Hour, ""},
		{"bad keep-for env", nil, map[string]string{"TELLTALE_KEEP_FOR": "forever"}, nil, nil, "TELLTALE_KEEP_FOR: "},
		{"alias for -web", nil, map[string]string{"TELLTALE_WEB_DIR": "/srv/web", "TELLTALE_WEB": "/not/this"}, func(c config) any { return c.webDir }, "/srv/web", ""},
		{"flag over alias", []string{"-web", "w"}, map[string]string{"TELLTALE_WEB_DIR": "/srv/web"}, func(c config) any { return c.webDir }, "w", ""},
		{"no variable for -version", nil, map[string]string{"TELLTALE_VERSION": "true"}, func(c config) any { return c.showVersion }, false, ""},
		{"secret from env", nil, map[string]string{"TELLTALE_JWT_SECRET": "from-env"}, func(c config) any { return c.keys.secret }, "from-env", ""},
		{"secret flag over env", []string{"-alert-webhook-secret", "from-flag-0123456"}, map[string]string{"TELLTALE_ALERT_WEBHOOK_SECRET": "from-env-0123456789"}, func(c config) any { return c.alerts.secret }, "from-flag-0123456", ""},
		{"tenant limits env names the variable", nil, map[string]string{"TELLTALE_TENANT_LIMITS": "acme:rows=5"}, nil, nil, "TELLTALE_TENANT_LIMITS: "},
		{"edge check names the variable", nil, map[string]string{"TELLTALE_HELLO_TIMEOUT": "0s"}, nil, nil, "TELLTALE_HELLO_TIMEOUT: want a positive duration"},
		{"alert check names the variable", nil, map[string]string{"TELLTALE_ALERT_EVERY": "-1s"}, nil, nil, "TELLTALE_ALERT_EVERY: want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); got != tt.want {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestConfigHelp: -h works whatever the environment holds, names every
// flag's variable, and shows the built-in defaults, never the
// environment's values (secrets among them).
func TestConfigHelp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TELLTALE_CONN_BURST": "lots", "TELLTALE_JWT_SECRET": "do-not-print-me-0123456789abcdef", "TELLTALE_METRICS_TOKEN": "do-not-print-me-either"}
	var out bytes.Buffer
	if _, err := parse([]string{"-h"}, func(k string) string { return env[k] }, &out, io.Discard); err != flag.ErrHelp {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	help := out.String()
	if strings.Contains(help, "do-not-print-me") {
		t.Fatalf("the help prints a secret from the environment:\n%s", help)
	}
	for _, want := range []string{"(env TELLTALE_CONN_BURST) (default 50)", "(env TELLTALE_WEB_DIR)", "(env TELLTALE_KEEP_EVENTS)", "(env TELLTALE_ALERT_WEBHOOK_SECRET)"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help lacks %q", want)
		}
	}
	// Every flag but -version names its variable: a flag's help is the
	// indented lines after its "  -name" line.
	for _, block := range strings.Split(help, "\n  -")[1:] {
		name, _, _ := strings.Cut(block, " ")
		name, _, _ = strings.Cut(name, "\n")
		if want := "(env " + envName(name) + ")"; name != "version" && !strings.Contains(block, want) {
			t.Errorf("-%s's help lacks %s", name, want)
		}
	}
}

// TestTokenCommandReadsOnlyTheKeysFromEnv: the token command's keys follow
// the server's variables, and its own flags have none.
func TestTokenCommandReadsOnlyTheKeysFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TELLTALE_JWT_SECRET": "0123456789abcdef0123456789abcdef", "TELLTALE_TENANT": "acme", "TELLTALE_SUB": "alice"}
	err := run(t.Context(), []string{"token"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("token minted without -tenant and -sub: its flags read the environment")
	}
	var help bytes.Buffer
	if err := run(t.Context(), []string{"token", "-h"}, func(k string) string { return env[k] }, &help, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), "(env TELLTALE_JWT_SECRET)") || strings.Contains(help.String(), "0123456789abcdef") {
		t.Fatalf("token -h names TELLTALE_JWT_SECRET and hides its value? got:\n%s", &help)
	}
}

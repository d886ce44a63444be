package main

import (
	"context"
	"io"
	"strings"
	"testing"
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

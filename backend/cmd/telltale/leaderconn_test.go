package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/internal/pgtest"
)

// TestLeaderConnectionGivesUpOnASilentPeer: the lock's connection carries
// the keepalive settings that bound how long PostgreSQL keeps a partitioned
// leader's session (and its lock): the server reports them for that
// session, a value set in the DSN wins, and the node's socket has
// keepalives on.
func TestLeaderConnectionGivesUpOnASilentPeer(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	show := func(t *testing.T, dsn string) map[string]string {
		t.Helper()
		cfg, err := leaderConnConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DialFunc == nil {
			t.Fatal("no dialer with keepalives")
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if conn.PgConn().Conn().RemoteAddr().Network() != "tcp" {
			t.Fatalf("the test server is reached over %s; the settings apply to TCP", conn.PgConn().Conn().RemoteAddr().Network())
		}
		got := map[string]string{}
		for k := range leaderKeepalive {
			var v string
			if err := conn.QueryRow(ctx, "SELECT current_setting($1)", k).Scan(&v); err != nil {
				t.Fatal(err)
			}
			got[k] = v
		}
		var app string
		if err := conn.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil {
			t.Fatal(err)
		}
		got["application_name"] = app
		return got
	}
	got := show(t, db.DSN)
	want := map[string]string{"tcp_keepalives_idle": "2", "tcp_keepalives_interval": "1", "tcp_keepalives_count": "3", "tcp_user_timeout": "5000", "application_name": "telltale-leader"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	sep := "?"
	if strings.Contains(db.DSN, "?") {
		sep = "&"
	}
	if got := show(t, db.DSN+sep+"tcp_user_timeout=9000"); got["tcp_user_timeout"] != "9000" {
		t.Errorf("with the DSN's tcp_user_timeout=9000: %q, want 9000", got["tcp_user_timeout"])
	}
}

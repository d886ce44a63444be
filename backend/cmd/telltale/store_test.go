package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/wire"
)

// TestOpenStore: without DATABASE_URL the server runs on the embedded
// store, which nothing else writes (no follower, no retention); with it, on
// PostgreSQL, migrated, followed and swept. Either way -max-streams is the
// quota the opened store applies, and its appends reach the hub.
func TestOpenStore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		postgres bool
		kind     string
	}{
		{"embedded", false, "memory"},
		{"postgres", true, "postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"XDG_CACHE_HOME": t.TempDir()}
			if tc.postgres {
				env["DATABASE_URL"] = pgtest.New(t).DSN
			}
			cfg, err := parse([]string{"-max-streams", "2"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			h := hub.New(hub.Config{})
			st, err := openStore(ctx, cfg, h, slog.New(slog.DiscardHandler), metrics.New())
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			if st.kind != tc.kind || (st.follow != nil) != tc.postgres || (st.retain != nil) != tc.postgres || st.keys == nil || st.sla == nil {
				t.Fatalf("got kind %q, follower %v, retention %v, keys %v, sla %v; want %q with follower and retention only on PostgreSQL, keys and sla always",
					st.kind, st.follow != nil, st.retain != nil, st.keys != nil, st.sla != nil, tc.kind)
			}
			ev := func() []wire.Event { return []wire.Event{{Values: map[string]float64{"x": 1}}} }
			for _, name := range []string{"a", "b"} {
				if err := st.Append(ctx, "acme", name, ev()); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Append(ctx, "acme", "c", ev()); !errors.Is(err, store.ErrStreamQuota) {
				t.Fatalf("a third stream with -max-streams 2: got %v, want ErrStreamQuota", err)
			}
			if !tc.postgres { // PostgreSQL's reach the hub through the follower (Run)
				if cur, ok := h.Cursor("acme", "a"); !ok || cur.Seq != 1 {
					t.Fatalf("the hub holds acme/a at %+v (ok %v), want seq 1: appends go to the hub", cur, ok)
				}
			}
		})
	}
}

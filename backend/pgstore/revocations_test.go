package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

func TestRevocationsRoundTripAndExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(Config{Pool: migrated(t).Pool})
	now := time.Now().Truncate(time.Microsecond) // timestamptz precision
	for _, r := range []auth.Revocation{
		{Tenant: "acme", Subject: "alice", At: now, Until: now.Add(time.Hour)},
		{Tenant: "acme", TokenID: "t1", At: now, Until: now.Add(time.Hour)},
		{Tenant: "acme", Subject: "old", At: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)}, // past its Until
	} {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("got %+v, want the two in force", list)
	}
	set := auth.NewRevokedSet(list)
	if !set.Revoked(&auth.Principal{Tenant: "acme", Subject: "alice", Issued: now.Add(-time.Minute)}) ||
		!set.Revoked(&auth.Principal{Tenant: "acme", Subject: "bob", ID: "t1", Issued: now.Add(-time.Minute)}) ||
		set.Revoked(&auth.Principal{Tenant: "acme", Subject: "old", Issued: now.Add(-3 * time.Hour)}) {
		t.Fatalf("set from %+v answers wrongly", list)
	}
	// Both empty is refused by the table, not stored as a revoke-everything.
	if err := s.Revoke(ctx, auth.Revocation{Tenant: "acme", At: now, Until: now.Add(time.Hour)}); err == nil {
		t.Fatal("a revocation of nothing was stored")
	}
}

// TestStreamQuota: the trigger of migration 0007 refuses a tenant's stream
// past the configured limit on every path, and the store maps it to
// store.ErrStreamQuota.
func TestStreamQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	if err := s.SetStreamQuota(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ev := func() []wire.Event { return []wire.Event{{Values: map[string]float64{"x": 1}}} }
	for _, name := range []string{"a", "b"} {
		if err := s.Append(ctx, "acme", name, ev()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(ctx, "acme", "c", ev()); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("a third stream: got %v, want ErrStreamQuota", err)
	}
	if err := s.AppendAll(ctx, "acme", map[string][]wire.Event{"a": ev(), "c": ev()}); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("a batch creating a third stream: got %v", err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM telltale.events WHERE tenant = 'acme' AND stream = 'a'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("stream a holds %d events (%v), want 1: the refused batch must store nothing", n, err)
	}
	// The SQL publish path is held to it too.
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('acme', 'd', '{}'::jsonb)`); err == nil {
		t.Fatal("publish created a stream past the quota")
	}
	if err := s.Append(ctx, "globex", "c", ev()); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}

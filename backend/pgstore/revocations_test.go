package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

func TestRevocationsRoundTripAndExpire(t *testing.T) {
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

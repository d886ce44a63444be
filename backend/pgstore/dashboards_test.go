package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/dashstore/dashstoretest"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestDashboards(t *testing.T) {
	dashstoretest.Run(t, func(t *testing.T) dashstoretest.Subject {
		return New(Config{Pool: migrated(t).Pool})
	})
}

// TestDashboardPutsTakeTurns: concurrent saves of one dashboard, the first
// one included, get versions 1, 2, 3… with none lost or repeated, and are
// announced in version order (the row lock is held through publish_batch).
func TestDashboardPutsTakeTurns(t *testing.T) {
	s := New(Config{Pool: migrated(t).Pool})
	ctx := context.Background()
	const workers, each = 4, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Put(ctx, "acme", dashstoretest.Board("ops", fmt.Sprintf("Ops %d.%d", w, i)), "alice"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	cur, err := s.Get(ctx, "acme", "ops")
	if err != nil || cur.Version != workers*each {
		t.Fatalf("after %d saves: got %+v, %v, want version %d", workers*each, cur.Meta, err, workers*each)
	}
	evs, err := s.Read(ctx, "acme", dashboard.ChangesStream, 0, 100)
	if err != nil || len(evs) != workers*each {
		t.Fatalf("announcements: got %d (%v), want %d", len(evs), err, workers*each)
	}
	for i := range evs {
		c, _ := dashboard.ParseChange(&evs[i])
		if c.Version != i+1 {
			t.Fatalf("announcement %d: got version %d, want %d (in version order)", i, c.Version, i+1)
		}
		v, err := s.Version(ctx, "acme", "ops", c.Version)
		if err != nil || v.Title != c.Title {
			t.Fatalf("version %d: got %+v, %v, want the title announced, %q", c.Version, v.Meta, err, c.Title)
		}
	}
}

// TestDashboardNotSavedWhenNotAnnounced: a tenant at its stream quota cannot
// get the changes stream; the transaction saves nothing (a page would
// never learn of the dashboard).
func TestDashboardNotSavedWhenNotAnnounced(t *testing.T) {
	s := New(Config{Pool: migrated(t).Pool})
	ctx := context.Background()
	if err := s.SetStreamQuota(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "acme", "orders", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "acme", dashstoretest.Board("ops", "Ops"), "alice"); !errors.Is(err, wire.ErrStreamQuota) {
		t.Fatalf("Put past the quota: got %v, want ErrStreamQuota", err)
	}
	if _, err := s.Get(ctx, "acme", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("Get after a refused Put: got %v, want ErrNotFound", err)
	}
	if tenants, err := s.Tenants(ctx); err != nil || len(tenants) != 0 {
		t.Fatalf("Tenants after a refused Put: got %v, %v, want none", tenants, err)
	}
}

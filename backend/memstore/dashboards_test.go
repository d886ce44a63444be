package memstore

import (
	"context"
	"errors"
	"testing"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/dashstore/dashstoretest"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestDashboards(t *testing.T) {
	t.Parallel()
	dashstoretest.Run(t, func(*testing.T) dashstoretest.Subject { return New(Config{}) })
}

// TestDashboardAnnouncedThroughTheSink: the announcement reaches the sink
// (the hub), as any appended event does.
func TestDashboardAnnouncedThroughTheSink(t *testing.T) {
	t.Parallel()
	var got []dashboard.Change
	s := New(Config{Sink: func(tenant string, evs []wire.Event) {
		for i := range evs {
			if c, ok := dashboard.ParseChange(&evs[i]); ok && tenant == "acme" && evs[i].Stream == dashboard.ChangesStream {
				got = append(got, c)
			}
		}
	}})
	if _, err := s.Put(context.Background(), "acme", dashstoretest.Board("ops", "Ops"), "alice"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (dashboard.Change{ID: "ops", Version: 1, Title: "Ops"}) {
		t.Fatalf("sink got %+v, want version 1 of ops", got)
	}
}

// TestDashboardNotSavedWhenNotAnnounced: a tenant at its stream quota cannot
// get the changes stream, so nothing is saved (a page would never learn of
// it).
func TestDashboardNotSavedWhenNotAnnounced(t *testing.T) {
	t.Parallel()
	s := New(Config{MaxStreamsPerTenant: 1})
	ctx := context.Background()
	if err := s.Append(ctx, "acme", "orders", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "acme", dashstoretest.Board("ops", "Ops"), "alice"); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("Put past the quota: got %v, want ErrStreamQuota", err)
	}
	if _, err := s.Get(ctx, "acme", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("Get after a refused Put: got %v, want ErrNotFound", err)
	}
}

package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/dashstore/dashstoretest"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

func TestDashboards(t *testing.T) {
	t.Parallel()
	dashstoretest.Run(t, func(t *testing.T) dashstoretest.Subject {
		return New(Config{Pool: migrated(t).Pool})
	})
}

// TestDashboardPutsTakeTurns: concurrent saves of one dashboard, the first
// one included, get versions 1, 2, 3… with none lost or repeated, and are
// announced in version order (the row lock is held through publish_batch).
func TestDashboardPutsTakeTurns(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	s := New(Config{Pool: migrated(t).Pool})
	ctx := context.Background()
	if err := s.SetStreamQuota(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "acme", "orders", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "acme", dashstoretest.Board("ops", "Ops"), "alice"); !errors.Is(err, store.ErrStreamQuota) {
		t.Fatalf("Put past the quota: got %v, want ErrStreamQuota", err)
	}
	if _, err := s.Get(ctx, "acme", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("Get after a refused Put: got %v, want ErrNotFound", err)
	}
	if tenants, err := s.Tenants(ctx); err != nil || len(tenants) != 0 {
		t.Fatalf("Tenants after a refused Put: got %v, %v, want none", tenants, err)
	}
}

// TestRetentionKeepsEveryDashboardOnItsStream: retention deletes a tenant's
// old dashboard announcements like any stream's events, but first announces
// again every dashboard whose announcements would all go, so the stream
// (what a page's snapshot and a restart's warm-up read) still lists every
// dashboard, at its current version and title; a deleted dashboard is not
// brought back, and another tenant's stream is not touched.
func TestRetentionKeepsEveryDashboardOnItsStream(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c", "gone"} {
		if _, err := s.Put(ctx, "t", dashstoretest.Board(id, "Board "+id), "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "t", dashstoretest.Board("a", "Board a, renamed"), "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "t", "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "u", dashstoretest.Board("x", "X"), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE telltale.events SET stored = now() - interval '48 hours'`); err != nil {
		t.Fatal(err)
	}
	// t's stream: a1 b1 c1 gone1 a2 gone-deleted (seqs 1–6); keep the newest 1.
	if _, err := s.Sweep(ctx, Retention{KeepEvents: 1, KeepFor: time.Hour}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Read(ctx, "t", dashboard.ChangesStream, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]dashboard.Change{}
	for i := range evs {
		c, ok := dashboard.ParseChange(&evs[i])
		if !ok && evs[i].Row == nil {
			t.Fatalf("event %d is no announcement: %+v", i, evs[i])
		}
		if c.Deleted {
			delete(rows, c.ID)
		} else if ok {
			rows[c.ID] = c
		}
		if i > 0 && evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("seqs %d then %d: retention left a hole", evs[i-1].Seq, evs[i].Seq)
		}
	}
	want := map[string]dashboard.Change{
		"a": {ID: "a", Version: 2, Title: "Board a, renamed"},
		"b": {ID: "b", Version: 1, Title: "Board b"},
		"c": {ID: "c", Version: 1, Title: "Board c"},
	}
	if !maps.Equal(rows, want) {
		t.Fatalf("after retention the stream lists %v, want %v", rows, want)
	}
	// Again: what was announced anew is young, so nothing more is added.
	last := evs[len(evs)-1].Seq
	if _, err := s.Sweep(ctx, Retention{KeepEvents: 1, KeepFor: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if evs, err = s.Read(ctx, "t", dashboard.ChangesStream, 0, 100); err != nil || len(evs) == 0 || evs[len(evs)-1].Seq != last {
		t.Fatalf("a second sweep: %d events (%v), want none added after seq %d", len(evs), err, last)
	}
	other, err := s.Read(ctx, "u", dashboard.ChangesStream, 0, 100)
	if err != nil || len(other) != 1 {
		t.Fatalf("the other tenant's stream: %d events (%v), want its 1", len(other), err)
	}
}

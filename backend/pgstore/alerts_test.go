package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// The alert webhook's delivery cursor: none at first, kept, moved only
// forward within an epoch, replaced by another epoch's.
func TestAlertCursor(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	ctx := context.Background()
	if _, ok, err := s.AlertCursor(ctx, "acme"); ok || err != nil {
		t.Fatalf("a cursor before any (ok %v, err %v), want none", ok, err)
	}
	for _, step := range []struct {
		name string
		set  wire.Cursor
		want wire.Cursor
	}{
		{"first", wire.Cursor{Epoch: 1, Seq: 5}, wire.Cursor{Epoch: 1, Seq: 5}},
		{"forward", wire.Cursor{Epoch: 1, Seq: 6}, wire.Cursor{Epoch: 1, Seq: 6}},
		{"back", wire.Cursor{Epoch: 1, Seq: 3}, wire.Cursor{Epoch: 1, Seq: 6}},
		{"new epoch", wire.Cursor{Epoch: 2, Seq: 1}, wire.Cursor{Epoch: 2, Seq: 1}},
	} {
		if err := s.SetAlertCursor(ctx, db.Pool, "acme", step.set); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.AlertCursor(ctx, "acme")
		if err != nil || !ok || got != step.want {
			t.Fatalf("%s: got %+v (ok %v, err %v), want %+v", step.name, got, ok, err, step.want)
		}
	}
	if _, ok, _ := s.AlertCursor(ctx, "globex"); ok {
		t.Fatal("another tenant has the cursor")
	}
}

// A stream's silence counts from its newest stored event, else from the
// first time it was asked about, the same on every later ask (another
// node's, after a restart), until forgotten.
func TestSilentSince(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond).Add(-time.Minute)
	ask := func(stream string, now time.Time) time.Time {
		t.Helper()
		got, err := s.SilentSince(ctx, "acme", stream, now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := ask("quiet", t0); !got.Equal(t0) {
		t.Fatalf("first ask: %v, want now %v", got, t0)
	}
	if got := ask("quiet", t0.Add(30*time.Second)); !got.Equal(t0) {
		t.Fatalf("second ask: %v, want the first's %v", got, t0)
	}
	spoke := t0.Add(10 * time.Second)
	if err := s.Append(ctx, "acme", "quiet", []wire.Event{{Time: spoke.UnixMilli(), Values: map[string]float64{"x": 1}}}); err != nil {
		t.Fatal(err)
	}
	if got := ask("quiet", t0.Add(time.Minute)); !got.Equal(spoke) {
		t.Fatalf("after an event: %v, want its time %v", got, spoke)
	}
	if err := s.ForgetSilence(ctx, "acme", "other"); err != nil {
		t.Fatal(err)
	}
	ask("other", t0)
	if err := s.ForgetSilence(ctx, "acme", "other"); err != nil {
		t.Fatal(err)
	}
	if got := ask("other", t0.Add(time.Hour)); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after forgetting: %v, want the new ask's %v", got, t0.Add(time.Hour))
	}
}

// Upgrading a database whose alerts streams hold rows (sent, or not, by
// the in-memory webhook before) starts delivery after them: an upgrade
// does not send every alert again.
func TestAlertOutboxMigrationStartsAfterExistingRows(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE SCHEMA telltale; CREATE TABLE telltale.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range all {
		if m.Name == "alert_outbox" {
			found = true
			break
		}
		if _, err := db.Pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO telltale.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatal("no alert_outbox migration")
	}
	s := New(Config{Pool: db.Pool})
	a := dashboard.Alert{ID: "d/p/silent", State: dashboard.AlertFiring, Dashboard: "d", Panel: "p", Since: time.Now()}
	if err := s.Append(ctx, "acme", dashboard.AlertsStream, []wire.Event{dashboard.AlertEvent(a), dashboard.AlertEvent(a)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	var epoch int64
	if err := db.Pool.QueryRow(ctx, `SELECT epoch FROM telltale.streams WHERE tenant = 'acme' AND stream = $1`, dashboard.AlertsStream).Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.AlertCursor(ctx, "acme")
	if err != nil || !ok || got != (wire.Cursor{Epoch: uint64(epoch), Seq: 2}) {
		t.Fatalf("cursor after the upgrade %+v (ok %v, err %v), want epoch %d seq 2", got, ok, err, epoch)
	}
}

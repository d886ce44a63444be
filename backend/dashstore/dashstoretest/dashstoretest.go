// Package dashstoretest is the conformance test of dashstore.Store: the
// embedded store and PostgreSQL run the same Run, so that they keep
// dashboards the same way.
//
// It must never be imported by non-test code.
package dashstoretest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Subject is a Store under test, with the read of its event log through
// which the announcements are checked.
type Subject interface {
	dashstore.Store
	Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error)
}

// Board is a valid dashboard with id and title, of one KPI panel per field.
func Board(id, title string, fields ...string) dashboard.Dashboard {
	if len(fields) == 0 {
		fields = []string{"n"}
	}
	d := dashboard.Dashboard{ID: id, Title: title}
	for _, f := range fields {
		d.Panels = append(d.Panels, dashboard.Panel{ID: "p-" + f, Kind: dashboard.KindKPI, Title: f, Stream: "orders", Field: f})
	}
	return d
}

// Run runs every conformance test against a fresh store from open.
func Run(t *testing.T, open func(t *testing.T) Subject) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Subject)
	}{
		{"Versions", testVersions},
		{"Rollback", testRollback},
		{"EqualSpecSavesNothing", testEqualSpec},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"TenantIsolation", testIsolation},
		{"KeepsMaxVersions", testMaxVersions},
		{"CapsDashboards", testMaxDashboards},
		{"Announcements", testAnnouncements},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func put(t *testing.T, s Subject, tenant string, d dashboard.Dashboard, by string) dashstore.Meta {
	t.Helper()
	m, err := s.Put(context.Background(), tenant, d, by)
	if err != nil {
		t.Fatalf("Put %s/%s: %v", tenant, d.ID, err)
	}
	return m
}

func testVersions(t *testing.T, s Subject) {
	ctx := context.Background()
	m1 := put(t, s, "acme", Board("ops", "Ops"), "alice")
	m2 := put(t, s, "acme", Board("ops", "Ops v2", "n", "m"), "bob")
	if m1.Version != 1 || m2.Version != 2 || m1.ID != "ops" || m2.Title != "Ops v2" || m2.By != "bob" || m2.Saved.IsZero() {
		t.Fatalf("Put: got %+v then %+v, want versions 1 and 2 with title, by and time", m1, m2)
	}
	cur, err := s.Get(ctx, "acme", "ops")
	if err != nil || cur.Version != 2 || !reflect.DeepEqual(cur.Spec, Board("ops", "Ops v2", "n", "m")) {
		t.Fatalf("Get: got %+v, %v, want version 2 with its spec", cur, err)
	}
	old, err := s.Version(ctx, "acme", "ops", 1)
	if err != nil || old.Version != 1 || old.By != "alice" || !reflect.DeepEqual(old.Spec, Board("ops", "Ops")) {
		t.Fatalf("Version 1: got %+v, %v, want the first spec", old, err)
	}
	vs, err := s.Versions(ctx, "acme", "ops")
	if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[1].Title != "Ops" {
		t.Fatalf("Versions: got %+v, %v, want 2 then 1", vs, err)
	}
	put(t, s, "acme", Board("fleet", "Fleet"), "alice")
	list, err := s.List(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].ID != "fleet" || list[1].ID != "ops" || list[1].Version != 2 || list[1].Title != "Ops v2" {
		t.Fatalf("List: got %+v, %v, want fleet then ops at version 2", list, err)
	}
}

func testRollback(t *testing.T, s Subject) {
	ctx := context.Background()
	put(t, s, "acme", Board("ops", "Ops"), "alice")
	put(t, s, "acme", Board("ops", "Ops v2", "n", "m"), "alice")
	old, err := s.Version(ctx, "acme", "ops", 1)
	if err != nil {
		t.Fatal(err)
	}
	m := put(t, s, "acme", old.Spec, "bob")
	if m.Version != 3 || m.Title != "Ops" {
		t.Fatalf("rollback: got %+v, want version 3 titled Ops", m)
	}
	cur, err := s.Get(ctx, "acme", "ops")
	if err != nil || !reflect.DeepEqual(cur.Spec, Board("ops", "Ops")) {
		t.Fatalf("after rollback: got %+v, %v, want the first spec", cur, err)
	}
	if vs, _ := s.Versions(ctx, "acme", "ops"); len(vs) != 3 {
		t.Fatalf("after rollback: got versions %+v, want 3 kept", vs)
	}
}

func testEqualSpec(t *testing.T, s Subject) {
	ctx := context.Background()
	m1 := put(t, s, "acme", Board("ops", "Ops"), "alice")
	m2 := put(t, s, "acme", Board("ops", "Ops"), "bob")
	if m2 != m1 && !(m2.Version == m1.Version && m2.By == m1.By && m2.Saved.Equal(m1.Saved)) {
		t.Fatalf("equal spec: got %+v, want the current %+v", m2, m1)
	}
	if vs, _ := s.Versions(ctx, "acme", "ops"); len(vs) != 1 {
		t.Fatalf("equal spec: got versions %+v, want 1", vs)
	}
	if got := changes(t, s, "acme"); len(got) != 1 {
		t.Fatalf("equal spec: got announcements %+v, want only the first save's", got)
	}
}

func testDelete(t *testing.T, s Subject) {
	ctx := context.Background()
	put(t, s, "acme", Board("ops", "Ops"), "alice")
	put(t, s, "acme", Board("ops", "Ops 2"), "alice")
	if err := s.Delete(ctx, "acme", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "acme", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Version(ctx, "acme", "ops", 1); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("Version after Delete: got %v, want ErrNotFound (versions go too)", err)
	}
	if list, err := s.List(ctx, "acme"); err != nil || len(list) != 0 {
		t.Fatalf("List after Delete: got %+v, %v, want none", list, err)
	}
	if tenants, err := s.Tenants(ctx); err != nil || len(tenants) != 0 {
		t.Fatalf("Tenants after the last Delete: got %v, %v, want none", tenants, err)
	}
	if err := s.Delete(ctx, "acme", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("second Delete: got %v, want ErrNotFound", err)
	}
	// Saved again, it starts over.
	if m := put(t, s, "acme", Board("ops", "Ops"), "alice"); m.Version != 1 {
		t.Fatalf("saved after Delete: got version %d, want 1", m.Version)
	}
}

func testNotFound(t *testing.T, s Subject) {
	ctx := context.Background()
	put(t, s, "acme", Board("ops", "Ops"), "alice")
	for name, err := range map[string]error{
		"Get":            func() error { _, err := s.Get(ctx, "acme", "nope"); return err }(),
		"Version":        func() error { _, err := s.Version(ctx, "acme", "nope", 1); return err }(),
		"Version absent": func() error { _, err := s.Version(ctx, "acme", "ops", 2); return err }(),
		"Version zero":   func() error { _, err := s.Version(ctx, "acme", "ops", 0); return err }(),
		"Versions":       func() error { _, err := s.Versions(ctx, "acme", "nope"); return err }(),
		"Delete":         s.Delete(ctx, "acme", "nope"),
	} {
		if !errors.Is(err, dashstore.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", name, err)
		}
	}
	if list, err := s.List(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Errorf("List of a tenant with none: got %+v, %v, want none", list, err)
	}
}

func testIsolation(t *testing.T, s Subject) {
	ctx := context.Background()
	put(t, s, "acme", Board("ops", "Acme secret"), "alice")
	put(t, s, "acme", Board("ops", "Acme secret 2"), "alice")
	if _, err := s.Get(ctx, "globex", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("globex Get of acme's: got %v, want ErrNotFound", err)
	}
	if _, err := s.Version(ctx, "globex", "ops", 1); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("globex Version of acme's: got %v, want ErrNotFound", err)
	}
	if _, err := s.Versions(ctx, "globex", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("globex Versions of acme's: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "globex", "ops"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("globex Delete of acme's: got %v, want ErrNotFound", err)
	}
	if list, _ := s.List(ctx, "globex"); len(list) != 0 {
		t.Fatalf("globex List: got %+v, want none", list)
	}
	// The same id in another tenant is another dashboard.
	if m := put(t, s, "globex", Board("ops", "Globex"), "eve"); m.Version != 1 {
		t.Fatalf("globex's own ops: got version %d, want 1", m.Version)
	}
	if cur, err := s.Get(ctx, "acme", "ops"); err != nil || cur.Title != "Acme secret 2" || cur.Version != 2 {
		t.Fatalf("acme's after globex saved its own: got %+v, %v", cur, err)
	}
	tenants, err := s.Tenants(ctx)
	if err != nil || !reflect.DeepEqual(tenants, []string{"acme", "globex"}) {
		t.Fatalf("Tenants: got %v, %v, want [acme globex]", tenants, err)
	}
	if got := changes(t, s, "globex"); len(got) != 1 || got[0].Title != "Globex" {
		t.Fatalf("globex's announcements: got %+v, want only its own save", got)
	}
}

func testMaxVersions(t *testing.T, s Subject) {
	ctx := context.Background()
	n := dashstore.MaxVersions + 3
	for i := 1; i <= n; i++ {
		put(t, s, "acme", Board("ops", fmt.Sprintf("Ops %d", i)), "alice")
	}
	vs, err := s.Versions(ctx, "acme", "ops")
	if err != nil || len(vs) != dashstore.MaxVersions || vs[0].Version != n || vs[len(vs)-1].Version != n-dashstore.MaxVersions+1 {
		t.Fatalf("after %d saves: got %d versions (%v), want the newest %d", n, len(vs), err, dashstore.MaxVersions)
	}
	if _, err := s.Version(ctx, "acme", "ops", 3); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("a dropped version: got %v, want ErrNotFound", err)
	}
	if v, err := s.Version(ctx, "acme", "ops", 4); err != nil || v.Title != "Ops 4" {
		t.Fatalf("the oldest kept version: got %+v, %v", v, err)
	}
}

func testAnnouncements(t *testing.T, s Subject) {
	ctx := context.Background()
	put(t, s, "acme", Board("ops", "Ops"), "alice")
	put(t, s, "acme", Board("ops", "Ops 2"), "alice")
	put(t, s, "acme", Board("fleet", "Fleet"), "alice")
	if err := s.Delete(ctx, "acme", "ops"); err != nil {
		t.Fatal(err)
	}
	want := []dashboard.Change{
		{ID: "ops", Version: 1, Title: "Ops"},
		{ID: "ops", Version: 2, Title: "Ops 2"},
		{ID: "fleet", Version: 1, Title: "Fleet"},
		{ID: "ops", Deleted: true},
	}
	if got := changes(t, s, "acme"); !reflect.DeepEqual(got, want) {
		t.Fatalf("announcements: got %+v, want %+v", got, want)
	}
	if got := changes(t, s, "globex"); len(got) != 0 {
		t.Fatalf("another tenant's announcements: got %+v, want none", got)
	}
}

// changes reads every announcement on tenant's changes stream, in order.
func changes(t *testing.T, s Subject, tenant string) []dashboard.Change {
	t.Helper()
	evs, err := s.Read(context.Background(), tenant, dashboard.ChangesStream, 0, 1000)
	if err != nil {
		t.Fatalf("read %s's %s: %v", tenant, dashboard.ChangesStream, err)
	}
	var out []dashboard.Change
	for i := range evs {
		c, ok := dashboard.ParseChange(&evs[i])
		if !ok {
			t.Fatalf("%s's %s seq %d: not an announcement: %+v", tenant, dashboard.ChangesStream, evs[i].Seq, evs[i])
		}
		out = append(out, c)
	}
	return out
}

// testMaxDashboards: a tenant keeps at most MaxDashboards; one more is
// refused with ErrTooMany and announces nothing, while the ones it has still
// save, another tenant is not counted against it, and a delete makes room.
func testMaxDashboards(t *testing.T, s Subject) {
	ctx := context.Background()
	for i := range dashstore.MaxDashboards {
		put(t, s, "acme", Board(fmt.Sprintf("d%03d", i), "D"), "alice")
	}
	before, err := s.Read(ctx, "acme", dashboard.ChangesStream, 0, 2*dashstore.MaxDashboards)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "acme", Board("one-more", "One more"), "alice"); !errors.Is(err, dashstore.ErrTooMany) {
		t.Fatalf("dashboard %d: got %v, want ErrTooMany", dashstore.MaxDashboards+1, err)
	}
	if _, err := s.Get(ctx, "acme", "one-more"); !errors.Is(err, dashstore.ErrNotFound) {
		t.Fatalf("the refused dashboard: got %v, want ErrNotFound", err)
	}
	after, err := s.Read(ctx, "acme", dashboard.ChangesStream, 0, 2*dashstore.MaxDashboards)
	if err != nil || len(after) != len(before) {
		t.Fatalf("the refusal announced something: %d events before, %d after (%v)", len(before), len(after), err)
	}
	if m := put(t, s, "acme", Board("d000", "D, again"), "alice"); m.Version != 2 {
		t.Fatalf("a new version of a kept dashboard: got version %d, want 2", m.Version)
	}
	put(t, s, "umbrella", Board("ops", "Ops"), "bob")
	if err := s.Delete(ctx, "acme", "d001"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "acme", Board("one-more", "One more"), "alice")
}

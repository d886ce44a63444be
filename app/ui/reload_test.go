package ui

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

// TestReloadCoalescesAndOrdersVersions: a burst of saves costs one fetch in
// flight and then one of the newest; a version not newer than the one
// drawn is never fetched or drawn; a failed fetch waits before the next.
func TestReloadCoalescesAndOrdersVersions(t *testing.T) {
	now := time.Unix(1000, 0)
	r := reload{version: 2}
	at := func(v int) {
		r.snap, r.changes = true, []dashboard.Change{{ID: "other", Version: 9}, {ID: "ops", Version: v}}
	}

	at(2)
	if v := r.observe("ops", now); v != 0 {
		t.Fatalf("version 2 on screen, stream says 2: fetch %d, want none", v)
	}
	at(3)
	if v := r.observe("ops", now); v != 3 {
		t.Fatalf("stream says 3: fetch %d, want 3", v)
	}
	for _, v := range []int{4, 5, 6} { // the burst, while 3 is in flight
		at(v)
		if got := r.observe("ops", now); got != 0 {
			t.Fatalf("version %d during a fetch: fetch %d, want none (one in flight)", v, got)
		}
	}
	if d := r.fetched(3, 3, nil, now); d != 3 {
		t.Fatalf("fetched 3 over 2: draw %d, want 3", d)
	}
	r.version = 3
	if v := r.observe("ops", now); v != 6 {
		t.Fatalf("after the fetch, stream at 6: fetch %d, want 6 (the newest, once)", v)
	}
	if d := r.fetched(6, 0, nil, now); d != 6 {
		t.Fatalf("a server that does not say the version: draw %d, want the one asked, 6", d)
	}
	r.version = 6
	if v := r.observe("ops", now); v != 0 {
		t.Fatalf("6 drawn, stream at 6: fetch %d, want none", v)
	}

	// An answer overtaken by a newer one is not drawn.
	r = reload{version: 7, fetching: true}
	if d := r.fetched(5, 5, nil, now); d != 0 {
		t.Fatalf("7 drawn, answer 5: draw %d, want none", d)
	}

	// A failed fetch waits reloadRetry.
	r = reload{version: 1}
	at(2)
	r.observe("ops", now)
	r.fetched(2, 0, errors.New("offline"), now)
	if v := r.observe("ops", now.Add(reloadRetry/2)); v != 0 {
		t.Fatalf("retried after %v: want a wait of %v", reloadRetry/2, reloadRetry)
	}
	if v := r.observe("ops", now.Add(reloadRetry)); v != 2 {
		t.Fatalf("after the wait: fetch %d, want 2", v)
	}
}

// TestReloadDeleted: a dashboard seen on the changes stream whose row goes
// away was deleted; one never seen there (a built-in) is not; one saved
// again is back.
func TestReloadDeleted(t *testing.T) {
	now := time.Unix(1000, 0)
	var r reload
	r.observe("ops", now) // before the snapshot: nothing known
	r.snap, r.changes = true, nil
	if r.observe("builtin", now); r.deleted {
		t.Fatal("a dashboard never on the stream (a built-in) reads as deleted")
	}
	r = reload{snap: true, changes: []dashboard.Change{{ID: "ops", Version: 1}}, version: 1}
	if r.observe("ops", now); r.deleted || !r.stored {
		t.Fatalf("on the stream: deleted %v stored %v, want stored", r.deleted, r.stored)
	}
	r.changes = nil
	if r.observe("ops", now); !r.deleted {
		t.Fatal("its row went away: want deleted")
	}
	r.changes = []dashboard.Change{{ID: "ops", Version: 2}}
	if v := r.observe("ops", now); r.deleted || v != 2 {
		t.Fatalf("saved again: deleted %v, fetch %d; want back, fetch 2", r.deleted, v)
	}
}

func panel(id string, kind dashboard.Kind, stream string, series ...string) dashboard.Panel {
	return dashboard.Panel{ID: id, Kind: kind, Stream: stream, Series: series}
}

// TestStreamPlan: which streams stay (with their state), go and come.
func TestStreamPlan(t *testing.T) {
	old := &dashboard.Dashboard{Panels: []dashboard.Panel{
		panel("a", dashboard.KindKPI, "orders"), panel("b", dashboard.KindTimeSeries, "metrics", "x"), panel("c", dashboard.KindTable, "audit"),
	}}
	next := &dashboard.Dashboard{Panels: []dashboard.Panel{
		panel("b", dashboard.KindTimeSeries, "metrics", "x", "y"), panel("d", dashboard.KindTable, "fleet"), panel("a", dashboard.KindKPI, "orders"),
	}}
	keep, drop, add := streamPlan(old, next)
	if got := fmt.Sprint(keep, drop, add); got != "[orders metrics] [audit] [fleet]" {
		t.Fatalf("keep, drop, add = %s; want [orders metrics] [audit] [fleet]", got)
	}
	if keep, drop, add := streamPlan(old, old); len(drop)+len(add) != 0 || !slices.Equal(keep, old.Streams()) {
		t.Fatalf("the same spec: keep %v drop %v add %v, want all kept", keep, drop, add)
	}
}

// TestRemounts: the grid starts over unless the same panels stay in the
// same places with their charts unchanged.
func TestRemounts(t *testing.T) {
	base := func() *dashboard.Dashboard {
		return &dashboard.Dashboard{Panels: []dashboard.Panel{
			panel("k", dashboard.KindKPI, "orders"), panel("c", dashboard.KindTimeSeries, "metrics", "x"), panel("t", dashboard.KindTable, "audit"),
		}}
	}
	tests := []struct {
		name   string
		change func(d *dashboard.Dashboard)
		want   bool
	}{
		{"the same", func(*dashboard.Dashboard) {}, false},
		{"a title and a KPI's field", func(d *dashboard.Dashboard) { d.Title = "New"; d.Panels[0].Field = "n"; d.Panels[2].Title = "T" }, false},
		{"a chart's series", func(d *dashboard.Dashboard) { d.Panels[1].Series = []string{"x", "y"} }, true},
		{"a chart's title", func(d *dashboard.Dashboard) { d.Panels[1].Title = "Load" }, true},
		{"reordered", func(d *dashboard.Dashboard) { d.Panels[0], d.Panels[1] = d.Panels[1], d.Panels[0] }, true},
		{"a panel added", func(d *dashboard.Dashboard) { d.Panels = append(d.Panels, panel("n", dashboard.KindKPI, "x")) }, true},
		{"a kind changed", func(d *dashboard.Dashboard) { d.Panels[0].Kind = dashboard.KindTable }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := base()
			tt.change(next)
			if got := remounts(base(), next); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMergeBoards: the picker's list follows the changes stream once its
// snapshot arrived: titles, deletes of stored dashboards, new ones; the
// built-ins stay.
func TestMergeBoards(t *testing.T) {
	listed := []board{{ID: "default", Title: "Demo"}, {ID: "ops", Title: "Ops", Version: 2}, {ID: "gone", Title: "Gone", Version: 1}}
	changes := []dashboard.Change{{ID: "zeta", Title: "Zeta", Version: 1}, {ID: "ops", Title: "Operations", Version: 3}, {ID: "alpha", Title: "Alpha", Version: 1}}
	onStream := map[string]bool{"zeta": true, "ops": true, "alpha": true, "gone": true}
	if got := mergeBoards(listed, changes, onStream, false); !slices.Equal(got, listed) {
		t.Fatalf("before the snapshot: %v, want the list as listed", got)
	}
	want := []board{{ID: "default", Title: "Demo"}, {ID: "ops", Title: "Operations", Version: 3}, {ID: "alpha", Title: "Alpha", Version: 1}, {ID: "zeta", Title: "Zeta", Version: 1}}
	if got := mergeBoards(listed, changes, onStream, true); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A stored dashboard the stream never showed (its announcement older
	// than what the stream keeps) is not taken for deleted.
	delete(onStream, "gone")
	want = []board{{ID: "default", Title: "Demo"}, {ID: "ops", Title: "Operations", Version: 3}, {ID: "gone", Title: "Gone", Version: 1}, {ID: "alpha", Title: "Alpha", Version: 1}, {ID: "zeta", Title: "Zeta", Version: 1}}
	if got := mergeBoards(listed, changes, onStream, true); !slices.Equal(got, want) {
		t.Fatalf("a dashboard the stream never showed: got %v, want %v", got, want)
	}
	if got := mergeBoards(nil, changes[:1], onStream, true); len(got) != 1 || got[0].ID != "zeta" {
		t.Fatalf("no list (offline): %v, want the stream's", got)
	}
}

// TestTraceLeavesOutTheChangesStream: telltaleStats counts the dashboard's
// data, not the page's own following of its changes (tests count
// snapshots exactly).
func TestTraceLeavesOutTheChangesStream(t *testing.T) {
	var tr trace
	tr.record(dashboard.ChangesStream, 1, 3, true)
	tr.record("metrics", 1, 5, true)
	if tr.snapshots != 1 || len(tr.last) != 1 {
		t.Fatalf("%d snapshots, streams %v; want 1, metrics only", tr.snapshots, tr.last)
	}
}

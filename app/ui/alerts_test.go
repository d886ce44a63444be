package ui

import (
	"slices"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// The banner lists the firing alerts of the dashboard on screen only: not
// a resolved one, not another dashboard's.
func TestFiringAlertsOfTheDashboard(t *testing.T) {
	st := &livestate.Stream{Name: dashboard.AlertsStream}
	since := time.UnixMilli(1_700_000_000_000)
	for _, a := range []dashboard.Alert{
		{ID: "ops/b/silent", State: dashboard.AlertFiring, Dashboard: "ops", Panel: "b", Message: "ops · B: silent", Since: since},
		{ID: "ops/a/p95", State: dashboard.AlertFiring, Dashboard: "ops", Panel: "a", Message: "ops · A: slow", Since: since},
		{ID: "ops/c/p95", State: dashboard.AlertResolved, Dashboard: "ops", Panel: "c", Since: since},
		{ID: "fleet/x/p95", State: dashboard.AlertFiring, Dashboard: "fleet", Panel: "x", Since: since},
	} {
		ev := dashboard.AlertEvent(a)
		ev.Stream, ev.Epoch, ev.Seq = dashboard.AlertsStream, 1, st.Seq+1
		if _, err := st.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	got := firing(map[string]*livestate.Stream{dashboard.AlertsStream: st}, "ops")
	if !slices.Equal(got, []string{"ops · A: slow", "ops · B: silent"}) {
		t.Fatalf("firing %q, want ops' two firing alerts, newest first", got)
	}
	// Resolved: its row says so, and it leaves the banner.
	ev := dashboard.AlertEvent(dashboard.Alert{ID: "ops/a/p95", State: dashboard.AlertResolved, Dashboard: "ops", Panel: "a", Since: since})
	ev.Stream, ev.Epoch, ev.Seq = dashboard.AlertsStream, 1, st.Seq+1
	if _, err := st.Apply(&ev); err != nil {
		t.Fatal(err)
	}
	if got := firing(map[string]*livestate.Stream{dashboard.AlertsStream: st}, "ops"); !slices.Equal(got, []string{"ops · B: silent"}) {
		t.Fatalf("after a resolve: %q, want ops/b/silent alone", got)
	}
	if got := firing(map[string]*livestate.Stream{}, "ops"); got != nil {
		t.Fatalf("without the stream: %+v", got)
	}
}

// A page follows its tenant's alerts and changes besides its dashboard's
// streams, and neither counts as the dashboard's data.
func TestPageFollowsTheAlertsStream(t *testing.T) {
	d := &dashboard.Dashboard{ID: "ops", Panels: []dashboard.Panel{{ID: "k", Kind: dashboard.KindKPI, Stream: "orders", Field: "n"}}}
	if got := pageStreams(d); !slices.Equal(got, []string{"orders", dashboard.ChangesStream, dashboard.AlertsStream}) {
		t.Fatalf("page streams %v", got)
	}
	var tr trace
	tr.record(dashboard.AlertsStream, 1, 3, true)
	if tr.snapshots != 0 || len(tr.last) != 0 {
		t.Fatalf("the alerts stream counted as data: %d snapshots, %v", tr.snapshots, tr.last)
	}
}

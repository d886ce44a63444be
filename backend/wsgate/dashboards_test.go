package wsgate

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// TestDashboardChangesFollowTheTenant: a token limited to other streams
// still subscribes to its tenant's telltale.dashboards (what the page
// follows to switch dashboards), and gets its own tenant's changes only;
// a subscription of another tenant's token to the same name gets its own
// tenant's, never these.
func TestDashboardChangesFollowTheTenant(t *testing.T) {
	ts := startTenants(t)
	ctx := context.Background()
	const acmeBoard, globexBoard = "acme-board-marker", "globex-board-marker"
	for tenant, title := range map[string]string{"acme": acmeBoard, "globex": globexBoard} {
		ev := dashboard.ChangeEvent(dashboard.Change{ID: "ops", Version: 1, Title: title})
		if err := ts.store.Append(ctx, tenant, dashboard.ChangesStream, []wire.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, token, want, never string
	}{
		{"acme, limited to fleet.*", ts.token(t, "acme", "fleet.*"), acmeBoard, globexBoard},
		{"acme, every stream", ts.token(t, "acme"), acmeBoard, globexBoard},
		{"globex, limited to orders", ts.token(t, "globex", "orders"), globexBoard, acmeBoard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, all, err := session(t, ts.url, tc.token, 300*time.Millisecond, wire.Sub{Stream: dashboard.ChangesStream})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(all, []byte(tc.never)) {
				t.Fatalf("the other tenant's dashboard change arrived: %q", all)
			}
			snap := false
			for _, f := range got {
				switch f := f.(type) {
				case wire.Error:
					t.Fatalf("got error %+v, want the changes stream", f)
				case wire.Snapshot:
					snap = f.Stream == dashboard.ChangesStream
				}
			}
			if !snap || !bytes.Contains(all, []byte(tc.want)) {
				t.Fatalf("got %+v, want a snapshot of %s holding its own change", got, dashboard.ChangesStream)
			}
			if bytes.Contains(all, []byte(acmeMark)) || bytes.Contains(all, []byte(globexMark)) {
				t.Fatalf("the limited token got data of its other streams: %q", all)
			}
		})
	}
}

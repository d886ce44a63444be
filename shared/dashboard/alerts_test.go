package dashboard

import (
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// An alert's row reads back as the alert, also after the trip through a
// snapshot frame (msgpack), as the page gets it.
func TestAlertEventRoundTrips(t *testing.T) {
	t.Parallel()
	since := time.UnixMilli(time.Now().UnixMilli())
	for _, a := range []Alert{
		{ID: "ops/orders/p95", State: AlertFiring, Dashboard: "ops", Panel: "orders", Message: "ops · Orders: p95 event→paint 3.1 s", Since: since},
		{ID: "ops/orders/silent", State: AlertResolved, Dashboard: "ops", Panel: "orders", Since: since},
	} {
		ev := AlertEvent(a)
		if got, ok := ParseAlert(ev.Row); !ok || got != a {
			t.Errorf("ParseAlert(AlertEvent(%+v)) = %+v, %v", a, got, ok)
		}
		b, err := wire.Encode(wire.Snapshot{Stream: AlertsStream, Epoch: 1, Seq: 1, State: wire.State{Rows: []wire.Row{*ev.Row}}})
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		rows := f.(wire.Snapshot).State.Rows
		if got, ok := ParseAlert(&rows[0]); !ok || !got.Since.Equal(a.Since) || got.State != a.State || got.Message != a.Message {
			t.Errorf("after msgpack: %+v, %v, want %+v", got, ok, a)
		}
	}
	if _, ok := ParseAlert(&wire.Row{Key: "x", Fields: map[string]any{"state": "bogus"}}); ok {
		t.Error("a row with an unknown state reads as an alert")
	}
	if !Reserved(AlertsStream) {
		t.Error("the alerts stream is not reserved")
	}
}

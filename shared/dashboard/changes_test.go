package dashboard

import "testing"

func TestChangeEventRoundTrips(t *testing.T) {
	t.Parallel()
	for _, c := range []Change{{ID: "ops", Version: 3, Title: "Ops"}, {ID: "ops", Deleted: true}} {
		ev := ChangeEvent(c)
		got, ok := ParseChange(&ev)
		if !ok || got != c {
			t.Errorf("ParseChange(ChangeEvent(%+v)) = %+v, %v", c, got, ok)
		}
	}
	if !Reserved(ChangesStream) || Reserved("orders") {
		t.Error("Reserved: want the changes stream reserved and orders not")
	}
}

package aggregate

import (
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// TestRestore: a state rebuilt from the log and told what its derived
// stream holds sends only what differs, deletes included.
func TestRestore(t *testing.T) {
	t.Run("gauge groups", func(t *testing.T) {
		spec := mustSpec(t, agg.Def{Source: "o", Fn: "count", GroupBy: "g", Window: "last 10s"})
		evs := []*wire.Event{row(0, "1", "", "g", "a"), row(5000, "2", "", "g", "b")}
		before := NewState(spec)
		for _, e := range evs {
			before.Add(e)
		}
		held := &wire.State{}
		for _, e := range before.Emit(time.UnixMilli(5000)) {
			held.Rows = append(held.Rows, *e.Row)
		}
		after := NewState(spec)
		for _, e := range evs {
			after.Add(e)
		}
		after.Restore(held)
		if got, want := render(after.Emit(time.UnixMilli(12_000))), "-a;"; got != want {
			t.Fatalf("got %s, want %s (b as it was, a gone while down)", got, want)
		}
	})
	t.Run("gauge value", func(t *testing.T) {
		spec := mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "current"})
		after := NewState(spec)
		after.Add(row(0, "1", "insert"))
		after.Add(row(0, "2", "insert"))
		after.Restore(&wire.State{Values: map[string]float64{agg.Value: 2}})
		if got := after.Emit(time.UnixMilli(0)); got != nil {
			t.Fatalf("got %s, want nothing: the stream holds 2", render(got))
		}
		after.Restore(&wire.State{Values: map[string]float64{agg.Value: 3}})
		if got, want := render(after.Emit(time.UnixMilli(0))), "value=2;"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
	t.Run("buckets", func(t *testing.T) {
		spec := mustSpec(t, agg.Def{Source: "o", Fn: "count", GroupBy: "g", Top: 1, Window: "1m"})
		evs := []*wire.Event{row(0, "1", "", "g", "a"), row(1, "2", "", "g", "b"), row(min1, "3", "", "g", "a")}
		before := NewState(spec)
		for _, e := range evs {
			before.Add(e)
		}
		// The stream as a page folds it: columns aligned, NaN where a
		// bucket has no sample of a column.
		held := &wire.State{Points: wire.Points{TS: []int64{0, min1}, Cols: []wire.Column{
			{Name: "a", Vals: []float64{1, 1}}, {Name: "other", Vals: []float64{1, nan()}}}}}
		if got, want := render(before.Emit(time.UnixMilli(0))), "@0 a=1 other=1;@60000 a=1;"; got != want {
			t.Fatalf("before: got %s, want %s", got, want)
		}
		after := NewState(spec)
		for _, e := range evs {
			after.Add(e)
		}
		after.Add(row(2, "4", "", "g", "b")) // late, while down
		after.Restore(held)
		// b overtook a while down; a keeps its column, other empties.
		if got, want := render(after.Emit(time.UnixMilli(0))), "@0 b=2 a=1 other=0;"; got != want {
			t.Fatalf("got %s, want %s (only the bucket that changed)", got, want)
		}
	})
	t.Run("buckets after an emit", func(t *testing.T) {
		// Emit keeps a list of the buckets Add dirtied; Restore dirties
		// buckets that Add did not touch since, and they are sent too.
		spec := mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "1m"})
		s := NewState(spec)
		s.Add(row(0, "1", ""))
		s.Add(row(min1, "2", ""))
		if got, want := render(s.Emit(time.UnixMilli(min1))), "@0 value=1;@60000 value=1;"; got != want {
			t.Fatalf("first emit: got %s, want %s", got, want)
		}
		s.Restore(&wire.State{Points: wire.Points{TS: []int64{0, min1}, Cols: []wire.Column{{Name: agg.Value, Vals: []float64{1, 5}}}}})
		if got, want := render(s.Emit(time.UnixMilli(min1))), "@60000 value=1;"; got != want {
			t.Fatalf("after Restore: got %s, want %s (the bucket the stream holds otherwise)", got, want)
		}
	})
}

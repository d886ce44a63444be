package livestate

import (
	"errors"
	"math"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

func ev(seq uint64) *wire.Event {
	return &wire.Event{Stream: "s", Epoch: 1, Seq: seq, Time: int64(seq)}
}

func TestApplyOrdering(t *testing.T) {
	tests := []struct {
		name        string
		seqs        []uint64
		wantSeq     uint64
		wantApplied int
		wantErr     error
	}{
		{"in order", []uint64{1, 2, 3}, 3, 3, nil},
		{"duplicate ignored", []uint64{1, 2, 2, 1, 3}, 3, 3, nil},
		{"gap refused", []uint64{1, 3}, 1, 1, ErrGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Stream{Name: "s", Epoch: 1}
			applied := 0
			var err error
			for _, q := range tt.seqs {
				var ok bool
				ok, err = s.Apply(ev(q))
				if err != nil {
					break
				}
				if ok {
					applied++
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got err %v, want %v", err, tt.wantErr)
			}
			if s.Seq != tt.wantSeq || applied != tt.wantApplied {
				t.Fatalf("got seq %d applied %d, want seq %d applied %d", s.Seq, applied, tt.wantSeq, tt.wantApplied)
			}
		})
	}
}

func TestApplyOtherEpoch(t *testing.T) {
	s := Stream{Name: "s", Epoch: 2}
	if _, err := s.Apply(ev(1)); !errors.Is(err, ErrEpoch) {
		t.Fatalf("got %v, want ErrEpoch", err)
	}
}

func TestRowsUpsertDeleteCap(t *testing.T) {
	var st wire.State
	lim := Limits{Rows: 3}
	for _, k := range []string{"a", "b", "c", "d"} {
		Fold(&st, &wire.Event{Row: &wire.Row{Key: k}}, lim)
	}
	Fold(&st, &wire.Event{Row: &wire.Row{Key: "c", Fields: map[string]any{"status": "late"}}}, lim)
	Fold(&st, &wire.Event{Row: &wire.Row{Key: "b", Op: wire.RowDelete}}, lim)
	var keys []string
	for _, r := range st.Rows {
		keys = append(keys, r.Key)
	}
	if got, want := keys, []string{"c", "d"}; !equal(got, want) {
		t.Fatalf("got rows %v, want %v", got, want)
	}
	if st.Rows[0].Fields["status"] != "late" {
		t.Fatalf("got %v, want the upserted fields", st.Rows[0].Fields)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPointsAlignAndTrim(t *testing.T) {
	var st wire.State
	lim := Limits{Points: 4}
	Fold(&st, &wire.Event{Points: &wire.Points{TS: []int64{1, 2}, Cols: []wire.Column{{Name: "a", Vals: []float64{10, 20}}}}}, lim)
	Fold(&st, &wire.Event{Points: &wire.Points{TS: []int64{3}, Cols: []wire.Column{{Name: "b", Vals: []float64{300}}}}}, lim)
	p := st.Points
	if len(p.TS) != 3 || len(p.Col("a")) != 3 || len(p.Col("b")) != 3 {
		t.Fatalf("got lengths ts=%d a=%d b=%d, want 3 each", len(p.TS), len(p.Col("a")), len(p.Col("b")))
	}
	if !math.IsNaN(p.Col("a")[2]) || !math.IsNaN(p.Col("b")[0]) || p.Col("b")[2] != 300 {
		t.Fatalf("got a=%v b=%v, want NaN where a series had no sample", p.Col("a"), p.Col("b"))
	}
	// Misaligned batches are dropped whole.
	Fold(&st, &wire.Event{Points: &wire.Points{TS: []int64{4, 5}, Cols: []wire.Column{{Name: "a", Vals: []float64{1}}}}}, lim)
	if len(st.Points.TS) != 3 {
		t.Fatalf("got %d timestamps after a misaligned batch, want 3", len(st.Points.TS))
	}
	for i := int64(4); i <= 20; i++ {
		Fold(&st, &wire.Event{Points: &wire.Points{TS: []int64{i}, Cols: []wire.Column{{Name: "a", Vals: []float64{float64(i)}}}}}, lim)
	}
	p = st.Points
	if n := len(p.TS); n < 4 || n > 5 {
		t.Fatalf("got %d points, want between limit 4 and 5/4 of it", n)
	}
	if p.TS[len(p.TS)-1] != 20 || p.Col("a")[len(p.TS)-1] != 20 {
		t.Fatalf("got last ts %d, want 20", p.TS[len(p.TS)-1])
	}
	for i := range p.Cols {
		if len(p.Cols[i].Vals) != len(p.TS) {
			t.Fatalf("column %s has %d values for %d timestamps", p.Cols[i].Name, len(p.Cols[i].Vals), len(p.TS))
		}
	}
}

func TestResetCopiesPoints(t *testing.T) {
	snap := &wire.Snapshot{Stream: "s", Epoch: 1, Seq: 5, State: wire.State{Points: wire.Points{TS: []int64{1}, Cols: []wire.Column{{Name: "a", Vals: []float64{1}}}}}}
	var s Stream
	s.Reset(snap)
	if _, err := s.Apply(&wire.Event{Stream: "s", Epoch: 1, Seq: 6, Points: &wire.Points{TS: []int64{2}, Cols: []wire.Column{{Name: "a", Vals: []float64{2}}}}}); err != nil {
		t.Fatal(err)
	}
	if len(snap.State.Points.TS) != 1 {
		t.Fatalf("applying after Reset changed the snapshot: %v", snap.State.Points.TS)
	}
}

func TestEmptyStreamAdoptsFirstEventsEpoch(t *testing.T) {
	s := Stream{Name: "s"}
	if ok, err := s.Apply(&wire.Event{Epoch: 42, Seq: 1}); !ok || err != nil || s.Epoch != 42 {
		t.Fatalf("got applied %v err %v epoch %d, want seq 1 of epoch 42 to continue an empty stream", ok, err, s.Epoch)
	}
	fresh := Stream{Name: "s"}
	if _, err := fresh.Apply(&wire.Event{Epoch: 42, Seq: 5}); !errors.Is(err, ErrEpoch) {
		t.Fatalf("got %v, want ErrEpoch for seq 5 on an empty stream", err)
	}
}

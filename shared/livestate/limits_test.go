package livestate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

func wide(prefix string, n int, ts int64) *wire.Points {
	p := &wire.Points{TS: []int64{ts}}
	for i := 0; i < n; i++ {
		p.Cols = append(p.Cols, wire.Column{Name: fmt.Sprintf("%s%d", prefix, i), Vals: []float64{1}})
	}
	return p
}

func gauges(prefix string, n int) map[string]float64 {
	m := make(map[string]float64, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("%s%04d", prefix, i)] = 1
	}
	return m
}

func TestCheckNamesTheCap(t *testing.T) {
	lim := Limits{Series: 10, Keys: 20, RowFields: 3, RowBytes: 100}
	held := wire.State{Values: gauges("g", 15)}
	Fold(&held, &wire.Event{Points: wide("s", 8, 1)}, lim)
	fields := map[string]any{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
	tests := []struct {
		name    string
		evs     []wire.Event
		wantCap string
		wantGot int
	}{
		{"fits", []wire.Event{{Points: wide("s", 8, 2), Values: gauges("g", 15)}}, "", 0},
		{"series in one event", []wire.Event{{Points: wide("n", 3, 2)}}, CapSeries, 11},
		{"series across a batch", []wire.Event{{Points: wide("n", 2, 2)}, {Points: wide("m", 1, 3)}}, CapSeries, 11},
		{"held series do not count again", []wire.Event{{Points: wide("s", 8, 2)}, {Points: wide("n", 2, 3)}}, "", 0},
		{"gauge names", []wire.Event{{Values: gauges("h", 3)}, {Values: gauges("i", 3)}}, CapKeys, 21},
		{"row fields", []wire.Event{{Row: &wire.Row{Key: "k", Fields: fields}}}, CapRowFields, 4},
		{"row bytes", []wire.Event{{Row: &wire.Row{Key: "k", Fields: map[string]any{"s": strings.Repeat("x", 200)}}}}, CapRowBytes, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(&held, "wide", tt.evs, lim)
			if tt.wantCap == "" {
				if err != nil {
					t.Fatalf("got %v, want it to fit", err)
				}
				return
			}
			if err == nil || err.Cap != tt.wantCap || err.Got != tt.wantGot || err.Stream != "wide" {
				t.Fatalf("got %+v, want cap %s reaching %d on stream wide", err, tt.wantCap, tt.wantGot)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantCap) || !strings.Contains(msg, "wide") {
				t.Fatalf("got message %q, want it to name the cap and the stream", msg)
			}
		})
	}
}

// The fold keeps the caps whatever path an event came by (PostgreSQL's
// publish() is not checked by ingest), and the event Apply leaves is what
// the state took, so forwarding it keeps subscribers equal to the hub.
func TestApplyTrimsPastTheCaps(t *testing.T) {
	lim := Limits{Series: 100, Keys: 50, RowFields: 2}
	s := Stream{Name: "wide", Limits: lim}
	for seq := uint64(1); seq <= 30; seq++ {
		ev := &wire.Event{Epoch: 1, Seq: seq, Points: wide(fmt.Sprintf("e%d-", seq), 10, int64(seq)), Values: gauges(fmt.Sprintf("e%d-", seq), 5)}
		if ok, err := s.Apply(ev); !ok || err != nil {
			t.Fatalf("seq %d: got applied %v err %v", seq, ok, err)
		}
		if seq <= 10 && s.Trimmed != nil {
			t.Fatalf("seq %d: got trimmed %v, want it whole under the caps", seq, s.Trimmed)
		}
		if seq > 10 {
			if s.Trimmed == nil {
				t.Fatalf("seq %d: got nothing trimmed, want a cap named", seq)
			}
			if ev.Points != nil {
				t.Fatalf("seq %d: the applied event still carries %d new series", seq, len(ev.Points.Cols))
			}
		}
	}
	if n := len(s.State.Points.Cols); n != 100 {
		t.Fatalf("got %d series, want the cap of 100", n)
	}
	if n := len(s.State.Values); n != 50 {
		t.Fatalf("got %d gauges, want the cap of 50", n)
	}
	row := &wire.Event{Epoch: 1, Seq: 31, Row: &wire.Row{Key: "r", Fields: map[string]any{"a": 1.0, "b": 1.0, "c": 1.0}}}
	if _, err := s.Apply(row); err != nil || s.Trimmed == nil || s.Trimmed.Cap != CapRowFields || len(s.State.Rows) != 0 || row.Row != nil {
		t.Fatalf("got err %v trimmed %v rows %d, want the row left out and row_fields named", err, s.Trimmed, len(s.State.Rows))
	}
	// A held series keeps getting samples at the cap.
	if _, err := s.Apply(&wire.Event{Epoch: 1, Seq: 32, Points: wide("e1-", 1, 99)}); err != nil || s.Trimmed != nil {
		t.Fatalf("got err %v trimmed %v, want a held series to fit", err, s.Trimmed)
	}
	if c := s.State.Points.Col("e1-0"); c[len(c)-1] != 1 {
		t.Fatalf("got %v, want the held series' new sample", c)
	}
}

func TestTrimKeepsTheSameGaugesEverywhere(t *testing.T) {
	lim := Limits{Keys: 10}
	ev := wire.Event{Values: gauges("g", 40)}
	var a, b wire.State
	for range 5 { // map order differs run to run; what is kept must not
		a, b = wire.State{}, wire.State{}
		Fold(&a, &ev, lim)
		Fold(&b, &ev, lim)
		for k := range a.Values {
			if _, ok := b.Values[k]; !ok {
				t.Fatalf("got %v and %v, want the same gauges kept", a.Values, b.Values)
			}
		}
	}
	if _, ok := a.Values["g0000"]; !ok || len(a.Values) != 10 {
		t.Fatalf("got %v, want the first 10 names in byte order", a.Values)
	}
	if len(ev.Values) != 40 {
		t.Fatalf("Fold changed the event: %d gauges left", len(ev.Values))
	}
}

func TestRowSize(t *testing.T) {
	r := &wire.Row{Key: "o-1", Op: wire.RowInsert, Fields: map[string]any{"status": "late", "n": 3.0, "tags": []any{"a", true, nil}}}
	// key 3 + op 6 + map 2 + status 6+4 + n 1+8 + tags 4 + list 2 + 1 + 1 + 1
	if got, want := RowSize(r), 39; got != want {
		t.Fatalf("got %d, want %d", got, want)
	}
	var le *LimitError
	if !errors.As(error(&LimitError{Cap: CapSeries}), &le) {
		t.Fatal("LimitError is not an error")
	}
}

func TestLimitsOver(t *testing.T) {
	base := Limits{Points: 3000, Series: 1000}
	got := Limits{Series: 5000, RowBytes: 1 << 17}.Over(base)
	if want := (Limits{Points: 3000, Series: 5000, RowBytes: 1 << 17}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// A ragged table (the hub's) goes out on the wire exactly as the dense one
// a client folds from the same events: late series, silent series, series
// that come back, and the cut at 5/4 of the kept window.
func TestRaggedEncodesAsDense(t *testing.T) {
	dense := Stream{Name: "m", Limits: Limits{Points: 8}}
	ragged := Stream{Name: "m", Limits: Limits{Points: 8, Ragged: true}}
	var evs []*wire.Event
	for seq := uint64(1); seq <= 40; seq++ {
		p := &wire.Points{TS: []int64{int64(seq)}}
		if seq%3 != 0 || seq > 30 {
			p.Cols = append(p.Cols, wire.Column{Name: "steady", Vals: []float64{float64(seq)}})
		}
		if seq >= 5 && seq <= 12 || seq >= 35 {
			p.Cols = append(p.Cols, wire.Column{Name: "burst", Vals: []float64{float64(seq * 10)}})
		}
		if seq >= 20 {
			p.Cols = append(p.Cols, wire.Column{Name: fmt.Sprintf("late%d", seq%4), Vals: []float64{float64(seq)}})
		}
		evs = append(evs, &wire.Event{Epoch: 1, Seq: seq, Points: p})
	}
	for i, ev := range evs {
		a, b := *ev, *ev
		if _, err := dense.Apply(&a); err != nil {
			t.Fatal(err)
		}
		if _, err := ragged.Apply(&b); err != nil {
			t.Fatal(err)
		}
		if i+1 == 20 {
			if v := ragged.State.Points.Col("late0"); len(v) != 1 || len(ragged.State.Points.TS) < 8 {
				t.Fatalf("got late0 holding %d values for %d rows, want only its own sample", len(v), len(ragged.State.Points.TS))
			}
		}
		got := encodeDecode(t, &ragged)
		want := encodeDecode(t, &dense)
		if g, w := fmt.Sprint(got.TS, got.Cols), fmt.Sprint(want.TS, want.Cols); g != w {
			t.Fatalf("after seq %d:\ngot  %s\nwant %s", i+1, g, w)
		}
	}
}

func encodeDecode(t *testing.T, s *Stream) wire.Points {
	t.Helper()
	st := s.State
	st.Points = Aligned(&st.Points)
	b, err := wire.Encode(wire.Snapshot{Stream: s.Name, Epoch: s.Epoch, Seq: s.Seq, State: st})
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	p := f.(wire.Snapshot).State.Points
	if !p.Valid() {
		t.Fatalf("decoded snapshot is not aligned: %+v", p)
	}
	return p
}

// A client folds with zero caps: it keeps what its server sent (already cut
// to the tenant's caps, which may be above the defaults), while the
// server's check applies the defaults.
func TestZeroCapsAreDefaultsToCheckAndNoneToFold(t *testing.T) {
	ev := wire.Event{Epoch: 1, Seq: 1, Points: wide("s", DefaultSeries+500, 1)}
	if err := Check(&wire.State{}, "m", []wire.Event{ev}, Limits{}); err == nil || err.Limit != DefaultSeries {
		t.Fatalf("got %v, want the default series cap of %d", err, DefaultSeries)
	}
	client := Stream{Name: "m"}
	if _, err := client.Apply(&ev); err != nil || client.Trimmed != nil || len(client.State.Points.Cols) != DefaultSeries+500 {
		t.Fatalf("got err %v trimmed %v and %d series, want all %d kept", err, client.Trimmed, len(client.State.Points.Cols), DefaultSeries+500)
	}
}

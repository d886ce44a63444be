package aggregate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

func mustSpec(t testing.TB, d agg.Def) *agg.Spec {
	t.Helper()
	s, err := agg.Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func row(ms int64, key string, op wire.RowOp, kv ...any) *wire.Event {
	f := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i].(string)] = kv[i+1]
	}
	return &wire.Event{Time: ms, Row: &wire.Row{Key: key, Op: op, Fields: f}}
}

// render writes derived events in one line each, to compare with a want.
func render(evs []wire.Event) string {
	var b strings.Builder
	for _, e := range evs {
		switch {
		case e.Points != nil:
			for i, ts := range e.Points.TS {
				fmt.Fprintf(&b, "@%d", ts)
				for _, c := range e.Points.Cols {
					fmt.Fprintf(&b, " %s=%g", c.Name, c.Vals[i])
				}
				b.WriteString(";")
			}
		case e.Row != nil && e.Row.Op == wire.RowDelete:
			fmt.Fprintf(&b, "-%s;", e.Row.Key)
		case e.Row != nil:
			fmt.Fprintf(&b, "%s=%g;", e.Row.Key, e.Row.Fields[agg.Value])
		case e.Values != nil:
			fmt.Fprintf(&b, "value=%g;", e.Values[agg.Value])
		}
	}
	return b.String()
}

const min1 = int64(60_000)

func TestStateTumbling(t *testing.T) {
	at := time.UnixMilli(10 * min1)
	tests := []struct {
		name   string
		def    agg.Def
		events []*wire.Event
		want   string
	}{
		{"count per minute", agg.Def{Fn: "count", Window: "1m"},
			[]*wire.Event{row(0, "a", "insert"), row(30_000, "b", "insert"), row(min1+1, "c", ""), row(5, "a", "update"), row(6, "b", "delete")},
			"@0 value=2;@60000 value=1;"},
		{"count of a field", agg.Def{Fn: "count", Field: "total", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "total", 1.0), row(1, "b", ""), row(2, "c", "", "total", nil)},
			"@0 value=1;"},
		{"sum", agg.Def{Fn: "sum", Field: "total", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "total", 10.5), row(1, "b", "", "total", int64(2)), row(2, "c", "", "total", json.Number("3")), row(3, "d", "", "total", "4.5"), row(4, "e", "", "total", true), row(min1, "f", "", "total", "x")},
			"@0 value=20;"},
		{"avg min max last", agg.Def{Fn: "avg", Field: "x", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "x", 1.0), row(1, "b", "", "x", 2.0), row(2, "c", "", "x", 6.0)},
			"@0 value=3;"},
		{"min", agg.Def{Fn: "min", Field: "x", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "x", 4.0), row(1, "b", "", "x", -2.0), row(2, "c", "", "x", 6.0)},
			"@0 value=-2;"},
		{"max", agg.Def{Fn: "max", Field: "x", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "x", 4.0), row(1, "b", "", "x", -2.0), row(2, "c", "", "x", 6.0)},
			"@0 value=6;"},
		{"last by event time", agg.Def{Fn: "last", Field: "x", Window: "1m"},
			[]*wire.Event{row(5, "a", "", "x", 4.0), row(1, "b", "", "x", -2.0), row(5, "c", "", "x", 7.0)},
			"@0 value=7;"},
		{"rate per second", agg.Def{Fn: "rate", Window: "10s"},
			[]*wire.Event{row(0, "a", ""), row(1, "b", ""), row(2, "c", ""), row(3, "d", ""), row(4, "e", "")},
			"@0 value=0.5;"},
		{"rate of a field", agg.Def{Fn: "rate", Field: "x", Window: "10s"},
			[]*wire.Event{row(0, "a", "", "x", 30.0), row(1, "b", "", "x", 20.0)},
			"@0 value=5;"},
		{"distinct", agg.Def{Fn: "distinct", Field: "c", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "c", "x"), row(1, "b", "", "c", "y"), row(2, "c", "", "c", "x"), row(3, "d", "", "c", 3.0), row(4, "e", "", "c", int64(3))},
			"@0 value=3;"},
		{"filter", agg.Def{Fn: "count", Filter: "status in (paid, shipped) and total > 100", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "status", "paid", "total", 150.0), row(1, "b", "", "status", "new", "total", 150.0),
				row(2, "c", "", "status", "shipped", "total", 100.0), row(3, "d", "", "status", "shipped"), row(4, "e", "", "status", "shipped", "total", "101")},
			"@0 value=2;"},
		{"filter != skips rows without the field", agg.Def{Fn: "count", Filter: "status != paid", Window: "1m"},
			[]*wire.Event{row(0, "a", "", "status", "paid"), row(1, "b", "", "status", "new"), row(2, "c", "")},
			"@0 value=1;"},
		{"filter on _op observes updates", agg.Def{Fn: "count", Filter: "_op in (insert, update)", Window: "1m"},
			[]*wire.Event{row(0, "a", "insert"), row(1, "a", "update"), row(2, "b", ""), row(3, "a", "delete")},
			"@0 value=2;"},
		{"group by, top 2 and other", agg.Def{Fn: "sum", Field: "x", GroupBy: "region", Top: 2, Window: "1m"},
			[]*wire.Event{row(0, "a", "", "region", "eu", "x", 10.0), row(1, "b", "", "region", "us", "x", 5.0),
				row(2, "c", "", "region", "asia", "x", 3.0), row(3, "d", "", "x", 1.0), row(4, "e", "", "region", "eu", "x", 1.0)},
			"@0 eu=11 us=5 other=4;"},
		{"gauge values", agg.Def{Fn: "max", Field: "depth", Window: "1m"},
			[]*wire.Event{{Time: 0, Values: map[string]float64{"depth": 3}}, {Time: 1, Values: map[string]float64{"depth": 9, "x": 100}}, {Time: 2, Values: map[string]float64{"x": 100}}},
			"@0 value=9;"},
		{"count of gauge updates", agg.Def{Fn: "count", Window: "1m"},
			[]*wire.Event{{Time: 0, Values: map[string]float64{"depth": 3}}, {Time: 1, Values: map[string]float64{"x": 100}}},
			"@0 value=2;"},
		{"points at their own times", agg.Def{Fn: "sum", Field: "a", Window: "1m"},
			[]*wire.Event{{Time: 999_999, Points: &wire.Points{TS: []int64{0, 1, min1}, Cols: []wire.Column{{Name: "a", Vals: []float64{1, 2, 4}}, {Name: "b", Vals: []float64{9, 9, 9}}}}}},
			"@0 value=3;@60000 value=4;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.def.Source = "orders"
			s := NewState(mustSpec(t, tt.def))
			for _, e := range tt.events {
				s.Add(e)
			}
			if got := render(s.Emit(at)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if got := s.Emit(at); got != nil {
				t.Fatalf("second Emit: got %s, want nothing", render(got))
			}
			if got := render(s.Full(at)); got != tt.want {
				t.Fatalf("Full: got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStateLateAndHistory(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "1m"}))
	s.Add(row(0, "a", ""))
	s.Add(row(2*min1, "b", ""))
	if got, want := render(s.Emit(time.UnixMilli(0))), "@0 value=1;@120000 value=1;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	s.Add(row(10, "c", "")) // closed bucket: updated, emitted again, counted
	s.Add(row(2*min1+5, "d", ""))
	if got, want := render(s.Emit(time.UnixMilli(0))), "@0 value=2;@120000 value=2;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if s.Late() != 1 {
		t.Fatalf("late %d, want 1", s.Late())
	}
	// Past the history kept: dropped, never emitted.
	s.Add(row(int64(MaxBuckets+5)*min1, "e", ""))
	s.Add(row(min1, "f", ""))
	if got, want := render(s.Emit(time.UnixMilli(0))), fmt.Sprintf("@%d value=1;", int64(MaxBuckets+5)*min1); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if s.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", s.Dropped())
	}
	if got := strings.Count(render(s.Full(time.UnixMilli(0))), "@"); got != 1 {
		t.Fatalf("Full after the history moved: %d buckets, want 1", got)
	}
}

// TestStateBucketKeepsItsColumns: a group once a column of a bucket stays
// one, out of other, when another overtakes it: a page keeps the columns an
// upsert does not name, so dropping it would leave a stale point behind and
// count its rows twice.
func TestStateBucketKeepsItsColumns(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", GroupBy: "g", Top: 1, Window: "1m"}))
	s.Add(row(0, "a", "", "g", "us"))
	s.Add(row(1, "b", "", "g", "eu"))
	if got, want := render(s.Emit(time.UnixMilli(0))), "@0 eu=1 other=1;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	s.Add(row(2, "c", "", "g", "us"))
	s.Add(row(3, "d", "", "g", "us"))
	if got, want := render(s.Emit(time.UnixMilli(0))), "@0 us=3 eu=1 other=0;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	s.Add(row(min1, "e", "", "g", "eu"))
	s.Add(row(min1+1, "f", "", "g", "us"))
	if got, want := render(s.Emit(time.UnixMilli(0))), "@60000 eu=1 other=1;"; got != want {
		t.Fatalf("a new bucket starts afresh: got %s, want %s", got, want)
	}
}

func TestStateSliding(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "last 1m"}))
	// The window is the 60 one-second steps up to now's.
	s.Add(row(0, "a", ""))
	s.Add(row(30_000, "b", ""))
	s.Add(row(59_999, "c", ""))
	steps := []struct {
		now  int64
		want string
	}{
		{59_999, "value=3;"},
		{59_999, ""},         // nothing changed
		{60_000, "value=2;"}, // second 0 left
		{89_999, ""},
		{90_000, "value=1;"},
		{200_000, "value=0;"}, // idle: the count falls to 0
	}
	for _, st := range steps {
		if got := render(s.Emit(time.UnixMilli(st.now))); got != st.want {
			t.Fatalf("at %d: got %q, want %q", st.now, got, st.want)
		}
	}
	// An avg of an idle window has no value: nothing is emitted.
	a := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "avg", Field: "x", Window: "last 10s"}))
	a.Add(row(0, "a", "", "x", 4.0))
	if got := render(a.Emit(time.UnixMilli(1000))); got != "value=4;" {
		t.Fatalf("avg: got %s", got)
	}
	if got := render(a.Emit(time.UnixMilli(60_000))); got != "" {
		t.Fatalf("avg of nothing: got %s, want nothing", got)
	}
}

func TestStateSlidingGroups(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "sum", Field: "x", GroupBy: "g", Window: "last 10s"}))
	s.Add(row(0, "a", "", "g", "a", "x", 1.0))
	s.Add(row(5000, "b", "", "g", "b", "x", 2.0))
	if got, want := render(s.Emit(time.UnixMilli(5000))), "b=2;a=1;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	s.Add(row(6000, "c", "", "g", "b", "x", 3.0))
	if got, want := render(s.Emit(time.UnixMilli(6000))), "b=5;"; got != want {
		t.Fatalf("got %s, want %s (only what changed)", got, want)
	}
	if got, want := render(s.Emit(time.UnixMilli(10_000))), "-a;"; got != want {
		t.Fatalf("got %s, want %s (a's only row left the window)", got, want)
	}
}

func TestStateCalendar(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 12, 6, 0, 0, 0, 0, paris).UnixMilli()
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "sum", Field: "total", Window: "today", TZ: "Europe/Paris"}))
	s.Add(row(midnight-1000, "a", "", "total", 5.0))
	s.Add(row(midnight-500, "b", "", "total", 6.0))
	if got := render(s.Emit(time.UnixMilli(midnight - 1))); got != "value=11;" {
		t.Fatalf("before midnight: got %s, want value=11;", got)
	}
	if got := render(s.Emit(time.UnixMilli(midnight))); got != "value=0;" {
		t.Fatalf("at midnight in Paris: got %s, want value=0;", got)
	}
	s.Add(row(midnight+10, "c", "", "total", 7.0))
	s.Add(row(midnight-10, "d", "", "total", 100.0)) // yesterday: not today's
	if got := render(s.Emit(time.UnixMilli(midnight + 20))); got != "value=7;" {
		t.Fatalf("after midnight: got %s, want value=7;", got)
	}
	if s.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", s.Dropped())
	}
	// This hour in a zone half an hour off UTC starts at half past (UTC).
	h := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "this hour", TZ: "Asia/Kolkata"}))
	base := time.Date(2026, 12, 6, 10, 29, 0, 0, time.UTC).UnixMilli()
	h.Add(row(base, "a", ""))
	h.Add(row(base+2*60_000, "b", "")) // 10:31 UTC is 16:01 in Kolkata: a new hour
	if got := render(h.Emit(time.UnixMilli(base + 2*60_000))); got != "value=1;" {
		t.Fatalf("this hour in Kolkata: got %s, want value=1;", got)
	}
}

func TestStateCurrent(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "orders", Fn: "count", GroupBy: "status", Window: "current"}))
	now := time.UnixMilli(0)
	s.Add(row(0, "o1", "insert", "status", "new"))
	s.Add(row(0, "o2", "insert", "status", "new"))
	s.Add(row(0, "o3", "insert", "status", "paid"))
	if got, want := render(s.Emit(now)), "new=2;paid=1;"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	s.Add(row(1, "o1", "update", "status", "packed"))
	if got, want := render(s.Emit(now)), "new=1;packed=1;"; got != want {
		t.Fatalf("update moves a row: got %s, want %s", got, want)
	}
	s.Add(row(2, "o2", "delete"))
	if got, want := render(s.Emit(now)), "-new;"; got != want {
		t.Fatalf("delete removes it: got %s, want %s", got, want)
	}
	if got, want := render(s.Full(now)), "packed=1;paid=1;"; got != want {
		t.Fatalf("Full: got %s, want %s", got, want)
	}
}

func TestStateCurrentExactUnderDeletes(t *testing.T) {
	for _, tt := range []struct {
		fn   string
		want string
	}{
		{"min", "value=2;"}, {"max", "value=5;"}, {"p50", "value=3.5;"}, {"sum", "value=7;"}, {"avg", "value=3.5;"}, {"distinct", "value=2;"},
	} {
		t.Run(tt.fn, func(t *testing.T) {
			s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: tt.fn, Field: "x", Filter: "x < 100", Window: "current"}))
			s.Add(row(0, "a", "insert", "x", 1.0))
			s.Add(row(0, "b", "insert", "x", 5.0))
			s.Add(row(0, "c", "insert", "x", 9.0))
			s.Add(row(0, "d", "insert", "x", 2.0))
			s.Add(row(0, "a", "delete"))
			s.Add(row(0, "c", "update", "x", 500.0)) // leaves the filter
			if got := render(s.Emit(time.UnixMilli(0))); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestStateManyGroups: a high-cardinality group_by keeps at most MaxGroups
// by name; the rest still count, in other.
func TestStateManyGroups(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", GroupBy: "user", Top: 3, Window: "1m"}))
	for i := range 5000 {
		s.Add(row(int64(i), fmt.Sprint(i), "", "user", fmt.Sprint(i%1000)))
	}
	evs := s.Emit(time.UnixMilli(0))
	if len(evs) != 1 || len(evs[0].Points.Cols) != 4 {
		t.Fatalf("got %s, want 3 groups and other", render(evs))
	}
	total := 0.0
	for _, c := range evs[0].Points.Cols {
		total += c.Vals[0]
	}
	if total != 5000 {
		t.Fatalf("groups add up to %g, want 5000", total)
	}
	if s.Size() > 200_000 {
		t.Fatalf("size %d bytes for 1000 distinct groups, want bounded by MaxGroups", s.Size())
	}
}

func TestNumber(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want float64
		ok   bool
	}{
		{1.5, 1.5, true}, {int64(-3), -3, true}, {uint8(7), 7, true}, {json.Number("2.25"), 2.25, true}, {"12.50", 12.5, true},
		{"abc", 0, false}, {true, 0, false}, {nil, 0, false}, {math.NaN(), 0, false}, {"Inf", 0, false}, {[]any{1.0}, 0, false},
	} {
		got, ok := number(tt.v)
		if got != tt.want || ok != tt.ok {
			t.Errorf("number(%#v) = %v %v, want %v %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
	for v, want := range map[any]string{3.0: "3", int64(3): "3", json.Number("3.0"): "3", "x": "x", false: "false"} {
		if got := text(v); got != want {
			t.Errorf("text(%#v) = %q, want %q", v, got, want)
		}
	}
}

func TestComputerOfM4(t *testing.T) {
	if _, ok := New(mustSpec(t, agg.Def{Source: "m", Fn: "m4", Window: "1s"})).(*State); ok {
		t.Fatal("m4 is computed by M4, not State")
	}
	if _, ok := New(mustSpec(t, agg.Def{Source: "m", Fn: "count", Window: "1s"})).(*State); !ok {
		t.Fatal("count is computed by State")
	}
}

// TestStatePercentiles: within the sketch's 1% of the value at the rank.
func TestStatePercentiles(t *testing.T) {
	for _, tt := range []struct {
		fn   string
		want float64 // of 1..1000
	}{{"p50", 500}, {"p90", 900}, {"p95", 950}, {"p99", 990}} {
		for _, w := range []string{"1m", "last 1m", "today"} {
			s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: tt.fn, Field: "ms", Window: w}))
			for i := 1000; i >= 1; i-- {
				s.Add(row(int64(i), fmt.Sprint(i), "", "ms", float64(i)))
			}
			evs := s.Emit(time.UnixMilli(1000))
			var got float64
			if len(evs) != 1 {
				t.Fatalf("%s %s: got %s", tt.fn, w, render(evs))
			}
			if evs[0].Points != nil {
				got = evs[0].Points.Cols[0].Vals[0]
			} else {
				got = evs[0].Values[agg.Value]
			}
			if math.Abs(got-tt.want) > SketchAccuracy*tt.want+1 {
				t.Errorf("%s %s: got %g, want %g within 1%%", tt.fn, w, got, tt.want)
			}
		}
	}
}

// TestStateSlidingDistinct: a value leaves a sliding window's distinct
// only with the last step that has it.
func TestStateSlidingDistinct(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "distinct", Field: "c", Window: "last 10s"}))
	s.Add(row(0, "1", "", "c", "x"))
	s.Add(row(5000, "2", "", "c", "x"))
	s.Add(row(5001, "3", "", "c", "y"))
	for _, st := range []struct {
		now  int64
		want string
	}{{5001, "value=2;"}, {10_000, ""}, {15_000, "value=0;"}} {
		if got := render(s.Emit(time.UnixMilli(st.now))); got != st.want {
			t.Fatalf("at %d: got %q, want %q", st.now, got, st.want)
		}
	}
	if len(s.win) != 0 {
		t.Fatalf("an empty window keeps %d groups of values", len(s.win))
	}
}

// TestStateFutureEvents: an event far ahead of now (a producer's clock off
// by a day) is dropped instead of emptying every window.
func TestStateFutureEvents(t *testing.T) {
	s := NewState(mustSpec(t, agg.Def{Source: "o", Fn: "count", Window: "last 1m"}))
	s.Add(row(1000, "a", ""))
	if got := render(s.Emit(time.UnixMilli(2000))); got != "value=1;" {
		t.Fatalf("got %s", got)
	}
	s.Add(row(2000+86_400_000, "b", ""))
	s.Add(row(2000+30_000, "c", "")) // a little ahead: kept
	if got := render(s.Emit(time.UnixMilli(3000))); got != "value=2;" {
		t.Fatalf("got %s, want value=2;", got)
	}
	if s.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", s.Dropped())
	}
}

// TestPercentileCont: the selection gives what a sort does, duplicates and
// all.
func TestPercentileCont(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 300; n += 7 {
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(r.IntN(20)) // many equal values
		}
		sorted := slices.Sorted(slices.Values(vals))
		for _, q := range []float64{0, 0.5, 0.9, 0.95, 0.99, 1} {
			x := q * float64(n-1)
			lo := math.Floor(x)
			want := sorted[int(lo)]
			if int(lo)+1 < n {
				want += (x - lo) * (sorted[int(lo)+1] - sorted[int(lo)])
			}
			if got := percentileCont(slices.Clone(vals), q); math.Abs(got-want) > 1e-9 {
				t.Fatalf("n %d q %g: got %g, want %g", n, q, got, want)
			}
		}
	}
}

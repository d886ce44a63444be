package agg

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		def     Def
		wantErr string // "" means valid
		check   func(t *testing.T, s *Spec)
	}{
		{"count per minute", Def{Source: "orders", Fn: "count", Window: "1m"}, "", func(t *testing.T, s *Spec) {
			if s.Kind != Tumbling || s.Width != time.Minute || s.EmitMs != DefaultEmitMs || s.Top != 0 {
				t.Errorf("got kind %v width %v emit %d top %d", s.Kind, s.Width, s.EmitMs, s.Top)
			}
		}},
		{"sliding", Def{Source: "orders", Fn: "p95", Field: "pick_ms", Window: "last 5m"}, "", func(t *testing.T, s *Spec) {
			if s.Kind != Sliding || s.Width != 5*time.Minute {
				t.Errorf("got kind %v width %v", s.Kind, s.Width)
			}
		}},
		{"today in Paris", Def{Source: "orders", Fn: "sum", Field: "total", Window: "today", TZ: "Europe/Paris"}, "", func(t *testing.T, s *Spec) {
			if s.Kind != Calendar || s.Unit != "day" || (s.Loc.String() != "Europe/Paris" && runtime.GOOS != "js") {
				t.Errorf("got kind %v unit %q loc %v", s.Kind, s.Unit, s.Loc)
			}
		}},
		{"this hour", Def{Source: "orders", Fn: "count", Window: "this hour"}, "", func(t *testing.T, s *Spec) {
			if s.Kind != Calendar || s.Unit != "hour" || s.Loc != time.UTC {
				t.Errorf("got kind %v unit %q loc %v", s.Kind, s.Unit, s.Loc)
			}
		}},
		{"current by status", Def{Source: "orders", Fn: "count", GroupBy: "status", Window: "current"}, "", func(t *testing.T, s *Spec) {
			if s.Kind != Current || s.Top != DefaultTop {
				t.Errorf("got kind %v top %d", s.Kind, s.Top)
			}
		}},
		{"filter", Def{Source: "orders", Fn: "sum", Field: "total", Filter: "status in (paid, 'on hold') and total > 100", Window: "1m"}, "", func(t *testing.T, s *Spec) {
			if len(s.Filter) != 2 || s.Filter[0].Field != "status" || s.Filter[0].Vals[1] != "paid" || s.Filter[1].Num != 100 {
				t.Errorf("got %+v", s.Filter)
			}
		}},
		{"m4", Def{Source: "metrics", Fn: "m4", Window: "1s"}, "", nil},
		{"every fn", Def{Source: "o", Fn: "distinct", Field: "customer", Window: "1h"}, "", nil},
		{"no source", Def{Fn: "count", Window: "1m"}, "no source stream", nil},
		{"bad source", Def{Source: "Orders", Fn: "count", Window: "1m"}, `source "Orders": stream name may hold only`, nil},
		{"derived source", Def{Source: "agg.0123456789abcdef", Fn: "count", Window: "1m"}, `source "agg.0123456789abcdef" is a derived stream`, nil},
		{"m4 source", Def{Source: "m4.1000.metrics", Fn: "count", Window: "1m"}, "is a derived stream", nil},
		{"bad window", Def{Source: "o", Fn: "count", Window: "5x"}, `window "5x" is not a duration`, nil},
		{"no window", Def{Source: "o", Fn: "count"}, "has no window", nil},
		{"window too long", Def{Source: "o", Fn: "count", Window: "2h"}, `window "2h" is outside 1s–1h`, nil},
		{"window too short", Def{Source: "o", Fn: "count", Window: "500ms"}, `outside 1s–1h in whole seconds`, nil},
		{"fractional window", Def{Source: "o", Fn: "count", Window: "1.5s"}, `whole seconds`, nil},
		{"sliding too long", Def{Source: "o", Fn: "count", Window: "last 25h"}, `window "last 25h" is outside last 1s–last 24h`, nil},
		{"sliding not a duration", Def{Source: "o", Fn: "count", Window: "last week"}, `window "last week" is not "last" and a duration`, nil},
		{"unknown fn", Def{Source: "o", Fn: "median", Field: "x", Window: "1m"}, `fn "median" is not one of count, sum`, nil},
		{"no fn", Def{Source: "o", Window: "1m"}, "has no fn", nil},
		{"sum without field", Def{Source: "o", Fn: "sum", Window: "1m"}, "fn sum needs a field", nil},
		{"field path", Def{Source: "o", Fn: "sum", Field: "row.total", Window: "1m"}, `field "row.total" is not a field: name the row's field itself ("total")`, nil},
		{"field with a space", Def{Source: "o", Fn: "sum", Field: "to tal", Window: "1m"}, `field "to tal" is not a field`, nil},
		{"group_by not a field", Def{Source: "o", Fn: "count", GroupBy: "a/b", Window: "1m"}, `group_by "a/b" is not a field`, nil},
		{"m4 sliding", Def{Source: "o", Fn: "m4", Window: "last 1m"}, `fn m4 needs a tumbling window`, nil},
		{"m4 grouped", Def{Source: "o", Fn: "m4", GroupBy: "g", Window: "1s"}, `fn m4 downsamples`, nil},
		{"rate current", Def{Source: "o", Fn: "rate", Window: "current"}, `fn rate has no meaning over rows as they are now`, nil},
		{"last current", Def{Source: "o", Fn: "last", Field: "x", Window: "current"}, `fn last has no meaning`, nil},
		{"top without group", Def{Source: "o", Fn: "count", Top: 5, Window: "1m"}, "top 5 needs a group_by", nil},
		{"top too large", Def{Source: "o", Fn: "count", GroupBy: "g", Top: 51, Window: "1m"}, "top 51 is outside 1–50", nil},
		{"top negative", Def{Source: "o", Fn: "count", GroupBy: "g", Top: -1, Window: "1m"}, "top -1 is outside", nil},
		{"emit too fast", Def{Source: "o", Fn: "count", Window: "1m", EmitMs: 10}, "emit_ms 10 is outside 50–60000", nil},
		{"emit too slow", Def{Source: "o", Fn: "count", Window: "1m", EmitMs: 60001}, "emit_ms 60001 is outside", nil},
		{"tz on a bucket", Def{Source: "o", Fn: "count", Window: "1m", TZ: "Europe/Paris"}, `tz "Europe/Paris" is only for a calendar window`, nil},
		{"filter without operator", Def{Source: "o", Fn: "count", Window: "1m", Filter: "status"}, `filter "status": status has no operator`, nil},
		{"filter not a number", Def{Source: "o", Fn: "count", Window: "1m", Filter: "total > lots"}, `total > "lots": want a number`, nil},
		{"filter or", Def{Source: "o", Fn: "count", Window: "1m", Filter: "a = 1 or b = 2"}, `want "and" between conditions, got "or"`, nil},
		{"filter open quote", Def{Source: "o", Fn: "count", Window: "1m", Filter: "a = 'x"}, `not closed`, nil},
		{"filter open list", Def{Source: "o", Fn: "count", Window: "1m", Filter: "a in (x, y"}, `a in (...): want , or )`, nil},
		{"filter bang", Def{Source: "o", Fn: "count", Window: "1m", Filter: "a ! 1"}, `want !=`, nil},
		{"filter on m4", Def{Source: "o", Fn: "m4", Window: "1s", Filter: "a = 1"}, `filter: fn m4`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.def)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if !strings.HasPrefix(s.Stream(), Prefix) || len(s.Stream()) != len(Prefix)+16 {
				t.Errorf("stream %q, want %s and 16 hex digits", s.Stream(), Prefix)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// TestStreamIsCanonical: two spellings of one aggregate are one derived
// stream; any difference that changes the numbers is another.
func TestStreamIsCanonical(t *testing.T) {
	base := Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1m"}
	name := func(d Def) string {
		t.Helper()
		s, err := Compile(d)
		if err != nil {
			t.Fatal(err)
		}
		return s.Stream()
	}
	same := []func(*Def){
		func(d *Def) { d.Top = DefaultTop },
		func(d *Def) { d.EmitMs = DefaultEmitMs },
		func(d *Def) { d.Window = "60s" },
	}
	for i, f := range same {
		d := base
		f(&d)
		if got, want := name(d), name(base); got != want {
			t.Errorf("same #%d: got %s, want %s", i, got, want)
		}
	}
	other := []func(*Def){
		func(d *Def) { d.Top = 5 },
		func(d *Def) { d.EmitMs = 1000 },
		func(d *Def) { d.Window = "last 1m" },
		func(d *Def) { d.Source = "orders2" },
		func(d *Def) { d.GroupBy = "" },
		func(d *Def) { d.Filter = "total > 1" },
	}
	for i, f := range other {
		d := base
		f(&d)
		if name(d) == name(base) {
			t.Errorf("other #%d is the same stream", i)
		}
	}
	a := Def{Source: "o", Fn: "count", Window: "today", Filter: "b in (y, x, x) and a > 1"}
	b := Def{Source: "o", Fn: "count", Window: "today", TZ: "UTC", Filter: `a > 1.0 and b in ("x", 'y')`}
	if name(a) != name(b) {
		t.Errorf("spellings of one filter and zone are two streams")
	}
}

// TestStreamNames: a derived stream's name is stored with its events and
// computed by the browser too, so it must not change between versions or
// builds: these are the names of the example file's aggregates, in the
// server and in app.wasm (which has no zone data: the name hashes the
// zone's name, not its rules).
func TestStreamNames(t *testing.T) {
	for _, tt := range []struct {
		def  Def
		want string
	}{
		{Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1m"}, "agg.76b8977f68f544ee"},
		{Def{Source: "orders", Fn: "sum", Field: "total", Filter: "status != cancelled", Window: "today", TZ: "Europe/Paris"}, "agg.bcf9cea2f4bcafb4"},
		{Def{Source: "orders", Fn: "count", Filter: "status in (new, paid, packed)", GroupBy: "status", Window: "current"}, "agg.39f719947aaf0513"},
	} {
		s, err := Compile(tt.def)
		if err != nil {
			t.Fatal(err)
		}
		if s.Stream() != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.def, s.Stream(), tt.want)
		}
	}
}

// TestUnknownZone: the server refuses a zone it does not know; the browser,
// which links no zone data, takes the server's word for it.
func TestUnknownZone(t *testing.T) {
	_, err := Compile(Def{Source: "o", Fn: "count", Window: "today", TZ: "Mars/Olympus"})
	if runtime.GOOS == "js" {
		if err != nil {
			t.Fatalf("js: got %v, want nil", err)
		}
		return
	}
	if want := `tz "Mars/Olympus" is not an IANA time zone`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}

func TestFilterString(t *testing.T) {
	conds, err := ParseFilter(`total >= 10 and status in (paid, "on hold", paid) AND region != eu and n <= -2.5 and k = 'a b' and z < 3 and y > 1e3`)
	if err != nil {
		t.Fatal(err)
	}
	got := FilterString(conds)
	want := `k = "a b" and n <= -2.5 and region != "eu" and status in ("on hold", "paid") and total >= 10 and y > 1000 and z < 3`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	again, err := ParseFilter(got)
	if err != nil || FilterString(again) != want {
		t.Fatalf("round trip: got %s, %v", FilterString(again), err)
	}
	quoted, err := ParseFilter(`a = 'say "hi"' and b = "it's"`)
	if got, want := FilterString(quoted), `a = 'say "hi"' and b = "it's"`; err != nil || got != want {
		t.Fatalf("quotes: got %s, %v, want %s", got, err, want)
	}
}

func TestDerived(t *testing.T) {
	for s, want := range map[string]bool{"agg.1": true, "m4.1000.x": true, "orders": false, "aggregates": false} {
		if Derived(s) != want {
			t.Errorf("Derived(%q) = %v, want %v", s, !want, want)
		}
	}
}

// FuzzParseFilter: a filter an operator writes never panics the parser, and
// what it accepts reads back the same from its canonical spelling.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"status in (paid, 'on hold') and total > 100", `a = "x y" AND b != 3`, "n <= -2.5e3", "a in ()", "'", "a ! 1", "_op = update"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		conds, err := ParseFilter(src)
		if err != nil {
			return
		}
		canon := FilterString(conds)
		again, err := ParseFilter(canon)
		if err != nil {
			t.Fatalf("%q accepted, its spelling %q refused: %v", src, canon, err)
		}
		if FilterString(again) != canon {
			t.Fatalf("%q: %q reads back as %q", src, canon, FilterString(again))
		}
	})
}

// FuzzCompile: Compile never panics, what it accepts is named by a valid
// stream name, and its normalised Def compiles to the same stream.
func FuzzCompile(f *testing.F) {
	f.Add("orders", "count", "", "", "region", 0, "1m", "", 0)
	f.Add("orders", "p95", "pick_ms", "status in (a, b) and x > 1", "", 0, "last 5m", "", 500)
	f.Add("orders", "sum", "total", "", "", 0, "today", "Europe/Paris", 0)
	f.Add("o", "distinct", "c", "", "g", 3, "current", "", 0)
	f.Fuzz(func(t *testing.T, source, fn, field, filter, groupBy string, top int, window, tz string, emitMs int) {
		d := Def{Source: source, Fn: fn, Field: field, Filter: filter, GroupBy: groupBy, Top: top, Window: window, TZ: tz, EmitMs: emitMs}
		s, err := Compile(d)
		if err != nil {
			return
		}
		if err := wire.ValidStream(s.Stream()); err != nil {
			t.Fatalf("%+v: stream %q: %v", d, s.Stream(), err)
		}
		again, err := Compile(s.Def)
		if err != nil {
			t.Fatalf("%+v compiles, its normalised %+v does not: %v", d, s.Def, err)
		}
		if again.Stream() != s.Stream() {
			t.Fatalf("%+v: %s, normalised %s", d, s.Stream(), again.Stream())
		}
	})
}

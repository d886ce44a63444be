package aggregate

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// TestStateSharedReadsAndReuse feeds the same rows to two sets of states:
// one as the engine does (add, the fields read once per row for every
// state), whose buckets reuse their cells and whose sliding windows keep
// their closed steps merged; the other by Add, with neither (no spare
// cells, the closed steps merged again at every emit). They must emit the
// same, through 8 minutes of 1 s buckets (the ring of 360 turns over),
// late rows, updates, deletes, missing fields and a filter.
func TestStateSharedReadsAndReuse(t *testing.T) {
	var defs []agg.Def
	for _, w := range []string{"1s", "1m", "last 1m", "last 5m", "today", "current"} {
		for _, fn := range agg.Fns {
			if fn == "m4" {
				continue
			}
			d := agg.Def{Source: "orders", Fn: fn, Window: w, GroupBy: "region", Field: "total"}
			if fn == "distinct" {
				d.Field = "customer"
			}
			defs = append(defs, d)
			u := d
			u.GroupBy, u.Filter = "", "status in (new, paid)"
			defs = append(defs, u)
		}
	}
	var fast, slow []*State
	var kept []agg.Def
	for _, d := range defs {
		spec, err := agg.Compile(d)
		if err != nil {
			continue // last and rate over current
		}
		kept = append(kept, d)
		fast, slow = append(fast, NewState(spec)), append(slow, NewState(spec))
	}
	defs = kept
	r := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"new", "paid", "shipped"}
	now := int64(1_700_000_000_000)
	for i := range 4000 {
		now += r.Int64N(240)
		ts := now
		if r.IntN(20) == 0 {
			ts -= r.Int64N(10_000) // late
		}
		f := map[string]any{"status": statuses[r.IntN(3)]}
		if r.IntN(10) > 0 {
			f["region"] = fmt.Sprint("r", r.IntN(12))
		}
		if r.IntN(10) > 0 {
			f["total"] = float64(r.IntN(100_000)) / 100
		}
		if r.IntN(10) > 0 {
			f["customer"] = fmt.Sprint("c", r.IntN(300))
		}
		op := wire.RowInsert
		switch r.IntN(10) {
		case 0:
			op = wire.RowDelete
		case 1:
			op = wire.RowUpdate
		case 2:
			op = wire.RowUpsert
		}
		ev := &wire.Event{Time: ts, Row: &wire.Row{Key: fmt.Sprint("k", r.IntN(200)), Op: op, Fields: f}}
		var rf rowFields
		for j := range fast {
			fast[j].add(ev, &rf)
			for k := range slow[j].ring {
				slow[j].ring[k].spare = nil
			}
			slow[j].Add(ev)
		}
		if i%25 != 24 {
			continue
		}
		for j := range fast {
			slow[j].closed.valid = false
			at := time.UnixMilli(now)
			got, want := render(fast[j].Emit(at)), render(slow[j].Emit(at))
			if got != want {
				t.Fatalf("%+v after %d rows: got %s, want %s", defs[j], i+1, got, want)
			}
		}
	}
	for j := range fast {
		at := time.UnixMilli(now + 1000)
		if got, want := render(fast[j].Full(at)), render(slow[j].Full(at)); got != want {
			t.Fatalf("%+v full: got %s, want %s", defs[j], got, want)
		}
	}
}

// TestRowFieldsReadOnce: a field is read from the row's map once, and a
// missing one is remembered as missing.
func TestRowFieldsReadOnce(t *testing.T) {
	fields := map[string]any{"region": "eu", "total": 3.5}
	var rf rowFields
	for range 3 {
		if v, ok := rf.get(fields, "region"); !ok || v != "eu" {
			t.Fatalf("region: got %v %v, want eu true", v, ok)
		}
		if v, ok := rf.get(fields, "nope"); ok || v != nil {
			t.Fatalf("nope: got %v %v, want nil false", v, ok)
		}
	}
	if rf.n != 2 {
		t.Fatalf("got %d fields kept, want 2", rf.n)
	}
	fields["region"] = "us" // not read again
	if v, _ := rf.get(fields, "region"); v != "eu" {
		t.Fatalf("got %v, want the value read first (eu)", v)
	}
	for i := range rowFieldsKept + 2 {
		rf.get(fields, fmt.Sprint("f", i))
	}
	if rf.n != rowFieldsKept {
		t.Fatalf("got %d fields kept, want at most %d", rf.n, rowFieldsKept)
	}
	if v, ok := (*rowFields)(nil).get(fields, "total"); !ok || v != 3.5 {
		t.Fatalf("nil: got %v %v, want 3.5 true", v, ok)
	}
}

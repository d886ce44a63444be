package sla

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// compactKeepsTheAnswer: reports over five hours (12:00 to 16:59), saved as minutes, answer
// a day's query (hourly points) the same once merged into hours, since
// sketches merge exactly; compacting again merges nothing.
func compactKeepsTheAnswer(t *testing.T, st Store) {
	t.Helper()
	ctx := context.Background()
	s := New(Config{Store: st})
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		now := t0.Add(time.Duration(i) * time.Minute)
		r := pageLike(rng, fmt.Sprint("screen-", i%7), now)
		r.Panels = r.Panels[:3]
		if i%9 == 0 {
			r.Panels[0].Stale = []wire.StalePeriod{{Start: now.Add(-2 * time.Second).UnixNano(), Ms: 500, Cause: sla.CauseSilent}}
		}
		take(t, s, "acme", r, now)
		take(t, s, "globex", report(fmt.Sprint("g", i), now, 10), now)
	}
	if err := s.Flush(ctx, t0, true); err != nil {
		t.Fatal(err)
	}
	from, to := t0.Add(-2*time.Hour), t0.Add(22*time.Hour)
	before, err := s.Query(ctx, "acme", "d", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if Step(from, to) != time.Hour || len(before.Panels) != 3 || len(before.Panels[0].Minutes) != 5 || len(before.Panels[0].Stale) != 34 {
		t.Fatalf("before: got %d panels, %+v; want 3 panels of 5 hourly points, 34 stale periods", len(before.Panels), before.Panels[0].Minutes)
	}
	// Minutes are read from from, not from its hour.
	if a, err := s.Query(ctx, "acme", "d", t0.Add(90*time.Minute), t0.Add(100*time.Minute).Truncate(time.Minute)); err != nil || len(a.Panels) != 3 ||
		len(a.Panels[0].Minutes) != 10 || a.Panels[0].Painted != 10*200 {
		t.Fatalf("ten minutes: got %+v, %v; want ten minutes of 200 events", a, err)
	}
	n, err := st.Compact(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 300*3+300 {
		t.Fatalf("compact: got %d, %v; want %d minutes merged", n, err, 300*3+300)
	}
	after, err := s.Query(ctx, "acme", "d", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("after compacting:\n got %+v\nwant %+v", after, before)
	}
	if n, err := st.Compact(ctx, t0.Add(24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("compacting again: got %d, %v; want nothing to do", n, err)
	}
	// A query of minutes within a compacted hour reads the whole hour.
	if a, err := s.Query(ctx, "acme", "d", t0.Add(90*time.Minute), t0.Add(100*time.Minute)); err != nil || len(a.Panels) != 3 || len(a.Panels[0].Minutes) != 1 {
		t.Fatalf("minutes of a compacted hour: got %+v, %v; want that hour", a, err)
	}
}

func TestMemoryCompactKeepsTheAnswer(t *testing.T) { compactKeepsTheAnswer(t, NewMemoryStore()) }

func TestPGCompactKeepsTheAnswer(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	if _, err := pgstore.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	compactKeepsTheAnswer(t, NewPGStore(db.Pool))
	var minutes, hours int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE NOT hour), count(*) FILTER (WHERE hour) FROM telltale.sla_rollups`).Scan(&minutes, &hours); err != nil {
		t.Fatal(err)
	}
	if minutes != 0 || hours != 5*3+5 {
		t.Fatalf("rows: %d minutes, %d hours; want none, and one per hour per panel (%d)", minutes, hours, 5*3+5)
	}
}

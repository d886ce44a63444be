package sla

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
)

// Rollups saved to PostgreSQL answer the same after a restart (a new
// Service and pool on the same database), open minutes included (saved at
// shutdown), and merge with a minute saved twice; Prune deletes old ones.
func TestPGRollupsSurviveARestart(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	old := report("s0", t0.Add(-40*24*time.Hour), 10)
	s := New(Config{Store: NewPGStore(db.Pool)})
	take(t, s, "acme", report("s1", t0, 10, 20, 30, 400), t0)
	take(t, s, "acme", report("s2", t0.Add(time.Minute), 50, 60), t0.Add(time.Minute))
	take(t, s, "globex", report("g", t0, 7), t0)
	if err := s.Take("acme", old, t0.Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The first minute closes and is saved; the second is still open.
	if err := s.Flush(ctx, t0.Add(3*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	take(t, s, "acme", report("s3", t0, 80), t0.Add(time.Second)) // late, into the saved minute
	want := query(t, s, "acme", "d")
	wantAll := query(t, s, "acme", "")
	if len(want.Panels) != 1 || want.Panels[0].Painted != 7 || want.Screens != 3 {
		t.Fatalf("before the restart: got %+v", want)
	}
	// Shutdown saves what is open.
	if err := s.Flush(ctx, t0, true); err != nil {
		t.Fatal(err)
	}

	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	restarted := New(Config{Store: NewPGStore(pool)})
	if got := query(t, restarted, "acme", "d"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the restart:\n got %+v\nwant %+v", got, want)
	}
	if got := query(t, restarted, "acme", ""); !reflect.DeepEqual(got, wantAll) {
		t.Fatalf("the whole tenant after the restart:\n got %+v\nwant %+v", got, wantAll)
	}
	if got := query(t, restarted, "globex", "d"); len(got.Panels) != 1 || got.Panels[0].Painted != 1 {
		t.Fatalf("globex after the restart: got %+v", got)
	}
	n, err := NewPGStore(pool).Prune(ctx, t0.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("prune: got %d, %v; want the one 40-day-old rollup", n, err)
	}
}

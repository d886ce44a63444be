package pgstore

import (
	"context"
	"testing"
	"time"
)

// TestStagedVacuumWaitsForNoWriter: vacuuming the staging table does not
// wait for its writers. A writer of a watched table holds ROW EXCLUSIVE on
// telltale.staged until its commit, and at the writers' maximum one nearly
// always does. A VACUUM that finds the table's last pages empty (after a
// move, new rows fill its first pages) tried to give them back, asking for
// ACCESS EXCLUSIVE every 50 ms for 5 s; the sequencer, vacuuming on its own
// connection, made no pass meanwhile: every watched stream stalled (2.07 s
// in a 45 s ingest run, commit→hub p99 1.7 s). Both the sequencer's VACUUM
// and a plain one (autovacuum's) must return at once.
func TestStagedVacuumWaitsForNoWriter(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	// Pages of moved rows, every one of them empty once vacuumed.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(1, 3000) g`); err != nil {
		t.Fatal(err)
	}
	var moved int
	if err := db.Pool.QueryRow(ctx, `SELECT moved FROM telltale.sequence_staged(5000)`).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	if moved != 3000 {
		t.Fatalf("a pass moved %d, want 3000", moved)
	}
	// A writer's transaction: the lock an INSERT into a watched table
	// takes on the staging table, held to its commit.
	writer, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(ctx)
	if _, err := writer.Exec(ctx, `LOCK TABLE telltale.staged IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ name, sql string }{
		{"the sequencer's", vacuumStaged},
		{"a plain one (autovacuum's)", `VACUUM telltale.staged`},
	} {
		start := time.Now()
		if _, err := db.Pool.Exec(ctx, v.sql); err != nil {
			t.Fatalf("%s: %v", v.sql, err)
		}
		// Milliseconds for these few pages; waiting for the lock: 5 s.
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s VACUUM took %v with a writer's transaction open, want well under the 5 s it waits for the table's lock", v.name, took)
		}
	}
	if err := writer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Rows staged after the vacuums (on its kept pages) move as before.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(3001, 3010) g`); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT moved FROM telltale.sequence_staged(5000)`).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	var events, last int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), max(seq) FROM telltale.events`).Scan(&events, &last); err != nil {
		t.Fatal(err)
	}
	if moved != 10 || events != 3010 || last != 3010 || staged(t, db) != 0 {
		t.Fatalf("after the vacuums: moved %d, %d events up to seq %d, %d staged: want 10, 3010, 3010, 0", moved, events, last, staged(t, db))
	}
}

// TestStagedPassReadsNoEmptyPages: a pass finds its streams through the
// primary key, not by reading the staging table's heap, whatever its
// statistics say. The heap holds the pages a backlog needed: until a vacuum
// as dead rows (statistics from an ANALYZE during the backlog say 20,000
// rows: SELECT DISTINCT then read every page at every pass, 0.9-1.3 ms over
// 858 pages, 100 passes a second), and after it as empty pages that
// vacuums no longer truncate (migration 0014; statistics say empty).
func TestStagedPassReadsNoEmptyPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		vacuum bool
	}{
		{"dead rows, statistics of the backlog", false},
		{"vacuumed, statistics say empty", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			passReadsNoEmptyPages(t, tc.vacuum)
		})
	}
}

func passReadsNoEmptyPages(t *testing.T, vacuum bool) {
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	// One connection for all that touches the staging table, so the
	// counters it flushes below hold all of it: nothing of this set-up is
	// flushed late, by another connection, during the pass.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`ALTER TABLE telltale.staged SET (autovacuum_enabled = false)`)
	exec(`INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(1, 20000) g`)
	exec(`ANALYZE telltale.staged`)
	for range 4 {
		exec(`SELECT telltale.sequence_staged(5000)`)
	}
	if vacuum {
		exec(`VACUUM telltale.staged`)
		exec(`ANALYZE telltale.staged`)
	} else {
		// A pass that finds nothing: the index learns its entries are dead
		// (the first look after a move visits their rows once).
		exec(`SELECT telltale.sequence_staged(5000)`)
	}
	var pages int
	if err := conn.QueryRow(ctx, `SELECT pg_relation_size('telltale.staged') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages < 200 {
		t.Fatalf("the staging table has %d pages after a 20,000-row backlog moved, want them kept (>= 200)", pages)
	}
	// Three streams staged (tenants), ten rows each.
	exec(`INSERT INTO orders SELECT 20000 + g, (ARRAY['acme', 'bolt', 'cake'])[g % 3 + 1], 'new' FROM generate_series(1, 30) g`)

	reads := func() (scans, blocks int) {
		t.Helper()
		// Flush this backend's counters, then read them afresh.
		if _, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT s.seq_scan, io.heap_blks_read + io.heap_blks_hit
			FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid)
			WHERE s.relid = 'telltale.staged'::regclass`).Scan(&scans, &blocks); err != nil {
			t.Fatal(err)
		}
		return scans, blocks
	}
	scans0, blocks0 := reads()
	var streams, moved int
	if err := conn.QueryRow(ctx, `SELECT count(*), sum(moved) FROM telltale.sequence_staged(5000)`).Scan(&streams, &moved); err != nil {
		t.Fatal(err)
	}
	if streams != 3 || moved != 30 {
		t.Fatalf("a pass moved %d events of %d streams, want 30 of 3", moved, streams)
	}
	scans1, blocks1 := reads()
	if scans1 != scans0 {
		t.Fatalf("a pass over 3 streams made %d sequential scans of the staging table (%d pages), want none", scans1-scans0, pages)
	}
	// Vacuumed, the index holds only the 30 rows: a few pages are all a
	// pass may read. (Before the vacuum, the pass's moves may still visit
	// dead rows' pages, once, while a transaction anywhere in the database
	// keeps the index from learning they are dead, as the moves did
	// before 0014.)
	if vacuum && blocks1-blocks0 > pages/4 {
		t.Fatalf("a pass over 3 streams read %d of the staging table's %d pages, want a few", blocks1-blocks0, pages)
	}
}

package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestStoredMigrationDoesNotRewrite: migration 9 changes the insert
// functions only, not a table that already holds events (the table's file,
// pg_class.relfilenode, is the same before and after: a rewrite gives it a
// new one), and the rows written before it read back their stored stamp
// (the column's default since migration 5).
func TestStoredMigrationDoesNotRewrite(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE SCHEMA telltale; CREATE TABLE telltale.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version >= 9 {
			break
		}
		if _, err := db.Pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO telltale.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish_batch('acme', 'orders', array_fill('{"values":{"n":1}}'::jsonb, ARRAY[1000]))`); err != nil {
		t.Fatal(err)
	}
	var fileBefore, fileAfter uint32
	relfile := `SELECT relfilenode FROM pg_class WHERE oid = 'telltale.events'::regclass`
	if err := db.Pool.QueryRow(ctx, relfile).Scan(&fileBefore); err != nil {
		t.Fatal(err)
	}
	applied, err := Migrate(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied[:1]) != "[9]" {
		t.Fatalf("applied %v, want migration 9 first", applied)
	}
	if err := db.Pool.QueryRow(ctx, relfile).Scan(&fileAfter); err != nil {
		t.Fatal(err)
	}
	if fileAfter != fileBefore {
		t.Fatalf("the events table's file went from %d to %d: migration 9 rewrote the table", fileBefore, fileAfter)
	}
	s := New(Config{Pool: db.Pool})
	old, err := s.Read(ctx, "acme", "orders", 0, 1)
	if err != nil || len(old) != 1 {
		t.Fatalf("got %d old events (err %v), want 1", len(old), err)
	}
	if old[0].Stored == 0 || old[0].Stored > time.Now().Add(time.Minute).UnixNano() {
		t.Fatalf("an event written before migration 9 got Stored %d, want its row's", old[0].Stored)
	}
}

// TestStoredStamp: every path that writes an event stamps when its row was
// written, and every path that reads it gives the stamp back: the Go
// publisher (its own copy, the cache the follower delivers from, and a read),
// SQL's telltale.publish and a watched table, which also get Created (they
// have no producer's stamp) so the commit → hub stage can be measured.
func TestStoredStamp(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	var mu sync.Mutex
	sunk := map[string][]wire.Event{}
	runFollower(t, Config{Pool: db.Pool, ScanInterval: 200 * time.Millisecond, Sink: func(tenant string, evs []wire.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			sunk[tenant+"/"+ev.Stream] = append(sunk[tenant+"/"+ev.Stream], ev)
		}
	}})
	s := New(Config{Pool: db.Pool})

	created := time.Now().Add(-time.Second).UnixNano()
	before := time.Now().Add(-time.Minute) // the database's clock may differ a little from ours
	evs := []wire.Event{{Created: created}, {}}
	if err := s.Append(ctx, "acme", "go", evs); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`SELECT telltale.publish('acme', 'sql', '{"values":{"n":1}}')`, // the stream's first event: publish_batch
		`SELECT telltale.publish('acme', 'sql', '{"values":{"n":2}}')`, // the next: publish's own insert
		`CREATE TABLE shop_orders (id int PRIMARY KEY, shop text)`,
		`SELECT telltale.watch('shop_orders', 'watched', 'shop')`,
		`INSERT INTO shop_orders VALUES (1, 'acme')`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	after := time.Now().Add(time.Minute)
	check := func(how string, ev wire.Event) {
		t.Helper()
		if ev.Stored < before.UnixNano() || ev.Stored > after.UnixNano() {
			t.Fatalf("%s %s seq %d: got Stored %v, want about now", how, ev.Stream, ev.Seq, time.Unix(0, ev.Stored))
		}
		if ev.Created == 0 || ev.Created > ev.Stored {
			t.Fatalf("%s %s seq %d: got Created %d, want one at or before Stored %d", how, ev.Stream, ev.Seq, ev.Created, ev.Stored)
		}
	}
	for i := range evs {
		check("published", evs[i])
	}
	for _, stream := range []string{"go", "sql", "watched"} {
		want := map[string]int{"go": 2, "sql": 2, "watched": 1}[stream]
		read, err := s.Read(ctx, "acme", stream, 0, 10)
		if err != nil || len(read) != want {
			t.Fatalf("%s: read %d events (err %v), want %d", stream, len(read), err, want)
		}
		var got []wire.Event
		poll.Until(t, 10*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			if got = sunk["acme/"+stream]; len(got) < want {
				return errors.New(stream + ": not all delivered yet")
			}
			return nil
		})
		for i := range read {
			check("read", read[i])
			check("delivered", got[i])
			if got[i].Stored != read[i].Stored || got[i].Created != read[i].Created {
				t.Fatalf("%s seq %d: delivered stamps %d/%d, read %d/%d: want the same", stream, read[i].Seq, got[i].Created, got[i].Stored, read[i].Created, read[i].Stored)
			}
		}
		if stream == "go" {
			if read[0].Created/1000 != created/1000 || read[0].Stored != evs[0].Stored {
				t.Fatalf("go: read Created %d Stored %d, want the producer's %d and the publisher's %d", read[0].Created, read[0].Stored, created, evs[0].Stored)
			}
		}
	}
}

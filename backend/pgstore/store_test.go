package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

func migrated(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.New(t)
	if _, err := Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	first, err := Migrate(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Migrations()
	if len(first) != len(all) {
		t.Fatalf("first run applied %v, want all %d migrations", first, len(all))
	}
	again, err := Migrate(ctx, db.Pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v (err %v), want nothing", again, err)
	}
}

// TestSeqContiguousInCommitOrder is the ordering rule: many connections
// publish in interleaved transactions, some rolled back, while a reader
// polls. The reader must never see seq n+1 before n, and at the end the
// committed seqs must be exactly 1..N.
func TestSeqContiguousInCommitOrder(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, perWriter = 8, 60
	var committed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < perWriter; i++ {
				n := 1 + rng.IntN(3)
				err := func() error {
					tx, err := db.Pool.Begin(ctx)
					if err != nil {
						return err
					}
					defer tx.Rollback(ctx)
					for j := 0; j < n; j++ {
						if _, err := tx.Exec(ctx, `SELECT telltale.publish('t', 'race', '{"values":{"x":1}}')`); err != nil {
							return err
						}
						if rng.IntN(4) == 0 {
							time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond) // hold the lock a while
						}
					}
					if rng.IntN(5) == 0 {
						return tx.Rollback(ctx)
					}
					if err := tx.Commit(ctx); err != nil {
						return err
					}
					committed.Add(int64(n))
					return nil
				}()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	readerErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		var last int64
		for {
			select {
			case <-stop:
				readerErr <- nil
				return
			default:
			}
			rows, err := db.Pool.Query(ctx, `SELECT seq FROM telltale.events WHERE tenant = 't' AND stream = 'race' AND seq > $1 ORDER BY seq`, last)
			if err != nil {
				readerErr <- err
				return
			}
			seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				readerErr <- err
				return
			}
			for _, s := range seqs {
				if s != last+1 {
					readerErr <- fmt.Errorf("reader at seq %d saw %d: a later seq became visible before an earlier one", last, s)
					return
				}
				last = s
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-readerErr; err != nil {
		t.Fatal(err)
	}
	var count, maxSeq, lastSeq int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(max(seq), 0) FROM telltale.events WHERE tenant = 't' AND stream = 'race'`).Scan(&count, &maxSeq); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT last_seq FROM telltale.streams WHERE tenant = 't' AND stream = 'race'`).Scan(&lastSeq); err != nil {
		t.Fatal(err)
	}
	if count != committed.Load() || maxSeq != count || lastSeq != count {
		t.Fatalf("got %d events, max seq %d, last_seq %d; want all three equal to the %d committed", count, maxSeq, lastSeq, committed.Load())
	}
	t.Logf("%d events committed by %d writers with rollbacks, seqs 1..%d with no gap", count, writers, maxSeq)
}

type sink struct {
	mu   sync.Mutex
	seqs map[string][]uint64
}

func (s *sink) publish(tenant string, evs []wire.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		k := tenant + "/" + ev.Stream
		s.seqs[k] = append(s.seqs[k], ev.Seq)
	}
}

func (s *sink) check(k string, want int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.seqs[k]
	for i, q := range got {
		if q != uint64(i+1) {
			return fmt.Errorf("%s: position %d has seq %d: lost, duplicated or reordered", k, i, q)
		}
	}
	if len(got) != want {
		return fmt.Errorf("%s: %d events so far, want %d", k, len(got), want)
	}
	return nil
}

// TestFollowerSurvivesLostListen publishes through both paths, kills the
// LISTEN connection with pg_terminate_backend, publishes while it is down,
// and checks the hub side saw every event exactly once, in order, and that
// health said degraded meanwhile.
func TestFollowerSurvivesLostListen(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	// A pre-existing stream: Run must warm it before following.
	s0 := New(Config{Pool: db.Pool})
	if err := s0.Append(ctx, "acme", "metrics", make([]wire.Event, 5)); err != nil {
		t.Fatal(err)
	}
	rec := &sink{seqs: map[string][]uint64{}}
	logs := &lockedLog{}
	s := runFollower(t, Config{Pool: db.Pool, Sink: rec.publish, ScanInterval: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	poll.Until(t, 10*time.Second, func() error { return rec.check("acme/metrics", 5) })
	publish := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('acme', 'orders', '{"values":{"n":1}}')`); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(20)
	if err := s0.Append(ctx, "acme", "orders", make([]wire.Event, 30)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error { return rec.check("acme/orders", 50) })

	admin, err := pgx.Connect(ctx, pgtest.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = 'telltale-listen'`, db.Name).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d LISTEN connections (err %v), want 1", killed, err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if ok, _ := s.Health(); ok {
			return errors.New("still healthy after its LISTEN connection was terminated")
		}
		return nil
	})
	publish(25)
	poll.Until(t, 15*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return rec.check("acme/orders", 75)
	})
	if n := s.m.reconnects.Load(); n < 1 {
		t.Fatalf("got %d reconnects, want at least 1", n)
	}
	// The log says it was lost and that it recovered, not only the loss.
	poll.Until(t, 5*time.Second, func() error {
		got := logs.String()
		lost, back := strings.Index(got, "pg listen connection lost"), strings.Index(got, "pg listen connection recovered")
		if lost < 0 || back < lost {
			return fmt.Errorf("log %q: want the loss, then the recovery", got)
		}
		return nil
	})
}

// lockedLog is a log destination tests read while the follower writes.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRetentionKeepsCountOrTime(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// busy: 30 events stored two days ago, then 10 recent ones.
	// quiet: 30 events stored two days ago, with a keep_events override.
	// replayed: 10 events just stored whose event time is two days old.
	if err := s.Append(ctx, "t", "busy", make([]wire.Event, 40)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "t", "quiet", make([]wire.Event, 30)); err != nil {
		t.Fatal(err)
	}
	old := make([]wire.Event, 10)
	for i := range old {
		old[i].Time = time.Now().Add(-48 * time.Hour).UnixMilli()
	}
	if err := s.Append(ctx, "t", "replayed", old); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE telltale.events SET stored = now() - interval '48 hours' WHERE (stream = 'busy' AND seq <= 30) OR stream = 'quiet'`)
	exec(`UPDATE telltale.streams SET keep_events = 25 WHERE stream = 'quiet'`)
	n, err := s.Sweep(ctx, Retention{KeepEvents: 5, KeepFor: time.Hour, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	count := func(stream string) (c, min int64) {
		if err := db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(seq), 0) FROM telltale.events WHERE stream = $1`, stream).Scan(&c, &min); err != nil {
			t.Fatal(err)
		}
		return
	}
	// busy: the 30 old ones go (beyond the newest 5 and stored over an hour
	// ago); the 10 recent stay although only 5 are required by count.
	if c, min := count("busy"); c != 10 || min != 31 {
		t.Fatalf("busy kept %d events from seq %d, want 10 from 31", c, min)
	}
	// quiet: its override keeps the newest 25 however old.
	if c, min := count("quiet"); c != 25 || min != 6 {
		t.Fatalf("quiet kept %d events from seq %d, want 25 from 6", c, min)
	}
	// replayed: old event times, but just stored: nothing goes.
	if c, _ := count("replayed"); c != 10 {
		t.Fatalf("replayed kept %d events, want all 10: retention must age by storage time", c)
	}
	if n != 35 {
		t.Fatalf("deleted %d, want 35", n)
	}
}

func TestIngestKeysAndAppendAll(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s := New(Config{Pool: db.Pool})
	ctx := context.Background()
	key, err := s.NewIngestKey(ctx, "acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if tenant, ok, err := s.Tenant(ctx, key); err != nil || !ok || tenant != "acme" {
		t.Fatalf("got %q %v %v, want acme", tenant, ok, err)
	}
	if _, ok, err := s.Tenant(ctx, key+"x"); ok || err != nil {
		t.Fatalf("got ok %v err %v, want an unknown key", ok, err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE telltale.ingest_keys SET revoked_at = now()`); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Tenant(ctx, key); ok || err != nil {
		t.Fatalf("revoked key: got ok %v err %v, want refused", ok, err)
	}
	batch := map[string][]wire.Event{"b": make([]wire.Event, 2), "a": make([]wire.Event, 3)}
	if err := s.AppendAll(ctx, "acme", batch); err != nil {
		t.Fatal(err)
	}
	if batch["a"][2].Seq != 3 || batch["b"][1].Seq != 2 {
		t.Fatalf("got seqs a=%d b=%d, want 3 and 2", batch["a"][2].Seq, batch["b"][1].Seq)
	}
	// A failure in any stream stores nothing of the batch. Streams are
	// written in name order, so "a" is in before "b" fails.
	if _, err := db.Pool.Exec(ctx, `CREATE FUNCTION fail_b() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.stream = 'b' THEN RAISE EXCEPTION 'b refused'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER fail_b BEFORE INSERT ON telltale.events FOR EACH ROW EXECUTE FUNCTION fail_b()`); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAll(ctx, "acme", map[string][]wire.Event{"a": make([]wire.Event, 1), "b": make([]wire.Event, 1)}); err == nil {
		t.Fatal("got nil, want the trigger's refusal")
	}
	var n, last int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM telltale.events`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("got %d events (err %v), want the 5 of the good batch only", n, err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT last_seq FROM telltale.streams WHERE stream = 'a'`).Scan(&last); err != nil || last != 3 {
		t.Fatalf("stream a at last_seq %d (err %v), want 3: the failed batch must not use up seqs", last, err)
	}
}

func TestWatchedTable(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE TABLE shop_orders (id int PRIMARY KEY, shop text, status text, total numeric)`)
	exec(`SELECT telltale.watch('shop_orders', 'orders', 'shop')`)
	exec(`INSERT INTO shop_orders VALUES (1, 'acme', 'new', 10.5), (2, 'acme', 'new', 20)`)
	exec(`UPDATE shop_orders SET status = 'packed' WHERE id = 1`)
	exec(`UPDATE shop_orders SET shop = 'globex' WHERE id = 2`) // moves tenant
	exec(`DELETE FROM shop_orders WHERE id = 1`)
	// A rolled-back change publishes nothing.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO shop_orders VALUES (3, 'acme', 'new', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	s := New(Config{Pool: db.Pool})
	type step struct {
		key, op, status string
	}
	read := func(tenant string) []step {
		evs, err := s.Read(ctx, tenant, "orders", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []step
		for _, ev := range evs {
			st, _ := ev.Row.Fields["status"].(string)
			out = append(out, step{ev.Row.Key, string(ev.Row.Op), st})
		}
		return out
	}
	wantAcme := []step{{"1", "insert", "new"}, {"2", "insert", "new"}, {"1", "update", "packed"}, {"2", "delete", "new"}, {"1", "delete", "packed"}}
	if got := read("acme"); fmt.Sprint(got) != fmt.Sprint(wantAcme) {
		t.Fatalf("acme got %v, want %v", got, wantAcme)
	}
	if got, want := read("globex"), []step{{"2", "update", "new"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("globex got %v, want %v", got, want)
	}
	evs, _ := s.Read(ctx, "acme", "orders", 0, 1)
	if total, _ := evs[0].Row.Fields["total"].(float64); total != 10.5 {
		t.Fatalf("total field is %v, want 10.5 as a number", evs[0].Row.Fields["total"])
	}

	// A row without a tenant is refused with a message, not a cryptic error.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO shop_orders VALUES (9, NULL, 'new', 1)`); err == nil || !strings.Contains(err.Error(), "has tenant NULL in column shop") {
		t.Fatalf("got %v, want a refusal naming the tenant column", err)
	}
	for _, bad := range []string{
		`SELECT telltale.watch('shop_orders', 'Bad Name', 'shop')`,
		`SELECT telltale.watch('shop_orders', 'orders', 'nope')`,
	} {
		if _, err := db.Pool.Exec(ctx, bad); err == nil {
			t.Fatalf("%s: got nil, want an error", bad)
		}
	}
	exec(`CREATE TABLE no_pk (a int, shop text)`)
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.watch('no_pk', 'x', 'shop')`); err == nil || !strings.Contains(err.Error(), "no primary key") {
		t.Fatalf("got %v, want a refusal for a table without a primary key", err)
	}

	exec(`SELECT telltale.unwatch('shop_orders')`)
	exec(`INSERT INTO shop_orders VALUES (4, 'acme', 'new', 1)`)
	if got := read("acme"); len(got) != len(wantAcme) {
		t.Fatalf("after unwatch acme has %d events, want still %d", len(got), len(wantAcme))
	}
}

// TestThrottledWakeUpsLoseNothing: a burst of single-event publishes inside
// the 10 ms notify window, then silence. Most of those commits send no
// wake-up; with the scan effectively off, the follower's linger must still
// deliver every event at once.
func TestThrottledWakeUpsLoseNothing(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	rec := &sink{seqs: map[string][]uint64{}}
	cfg := Config{Pool: db.Pool, ScanInterval: time.Hour}
	cfg.Sink = rec.publish
	s := runFollower(t, cfg)
	for round := 1; round <= 3; round++ {
		for i := 0; i < 40; i++ {
			if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('t', 'burst', '{"values":{"x":1}}')`); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		poll.Until(t, 5*time.Second, func() error { return rec.check("t/burst", 40*round) }) // the scan is 1 h away
		t.Logf("round %d: the burst's last event arrived %v after its commit", round, time.Since(start).Round(time.Millisecond))
	}
	var notified int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM telltale.events`).Scan(&notified); err != nil {
		t.Fatal(err)
	}
	if n := s.m.notifications.Load(); n >= 120 {
		t.Fatalf("got %d wake-ups for 120 publishes: the throttle did not throttle", n)
	} else {
		t.Logf("%d wake-ups for %d publishes", n, notified)
	}
}

// TestNewStreamIsReadFromItsStart: a stream born after the follower started
// and already past WarmEvents when first seen must still reach the hub from
// seq 1 (the ingest benchmark at full speed found this losing a head).
func TestNewStreamIsReadFromItsStart(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	rec := &sink{seqs: map[string][]uint64{}}
	cfg := Config{Pool: db.Pool, ScanInterval: time.Hour, WarmEvents: 100}
	cfg.Sink = rec.publish
	s := runFollower(t, cfg)
	if err := s.Append(ctx, "t", "born-late", make([]wire.Event, 2500)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error { return rec.check("t/born-late", 2500) })
}

// TestFollowerSurvivesPostgresRestart restarts the server under a running
// follower: it must report degraded, reconnect, and deliver what was
// published before and after, each event once and in order.
func TestFollowerSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	cl := pgtest.NewCluster(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, cl.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // after the follower's cleanup, which is registered later
	if _, err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	rec := &sink{seqs: map[string][]uint64{}}
	s := runFollower(t, Config{Pool: pool, Sink: rec.publish, ScanInterval: 200 * time.Millisecond})
	if err := s.Append(ctx, "t", "orders", make([]wire.Event, 10)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error { return rec.check("t/orders", 10) })

	// The degraded window can be short (a fast restart, then a reconnect
	// within a backoff step), so watch health throughout the restart.
	var sawDegraded atomic.Bool
	watch, stopWatch := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watch)
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			if ok, _ := s.Health(); !ok {
				sawDegraded.Store(true)
			}
			time.Sleep(time.Millisecond) // the sampling period of this health watch, not a wait for a condition
		}
	}()
	reconnects := s.m.reconnects.Load()
	cl.Restart(t)
	// Producers retry until the server is back (the pool drops dead
	// connections on their first error).
	poll.Until(t, 20*time.Second, func() error {
		return s.Append(ctx, "t", "orders", make([]wire.Event, 10))
	})
	poll.Until(t, 20*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return rec.check("t/orders", 20)
	})
	close(stopWatch)
	<-watch
	if !sawDegraded.Load() || s.m.reconnects.Load() == reconnects {
		t.Fatalf("degraded seen %v, reconnects %d→%d: want both to show the lost connection", sawDegraded.Load(), reconnects, s.m.reconnects.Load())
	}
}

// runFollower runs s.Run for the test, waits until it is healthy, and stops
// it at cleanup (failing the test if Run returned an error).
func runFollower(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return nil
	})
	return s
}

// follow starts a follower with the scan effectively off, so only wake-ups
// and lingering can deliver.
func follow(t *testing.T, db *pgtest.DB) (*Store, *sink) {
	t.Helper()
	rec := &sink{seqs: map[string][]uint64{}}
	return runFollower(t, Config{Pool: db.Pool, Sink: rec.publish, ScanInterval: time.Hour}), rec
}

// TestQueuedPublisherIsNotStranded: two big batches to one stream at once.
// The second waits for the first's row lock; it must still wake the
// follower itself rather than wait for the scan (review finding).
func TestQueuedPublisherIsNotStranded(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s, rec := follow(t, db)
	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Append(ctx, "t", "big", make([]wire.Event, 3000)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		poll.Until(t, 5*time.Second, func() error { return rec.check("t/big", 6000*round) }) // the scan is 1 h away
	}
}

func TestHostileSQLPublishes(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	s, rec := follow(t, db)
	ctx := context.Background()
	for _, bad := range []string{
		`SELECT telltale.publish_batch('t', 'h', ARRAY[['{}','{}'],['{}','{}']]::jsonb[])`,
		`SELECT telltale.publish_batch('t', 'h', ARRAY['{}','{}']::jsonb[], ARRAY[now()])`,
		`SELECT telltale.publish('t', 'h', '[1,2]')`,
		`SELECT telltale.publish_batch('t', 'h', ARRAY['{}']::jsonb[], ARRAY['infinity'::timestamptz])`,
	} {
		if _, err := db.Pool.Exec(ctx, bad); err == nil {
			t.Fatalf("%s: got nil, want a refusal", bad)
		}
	}
	// A body that is an object but not of our shape travels empty and does
	// not stop the stream.
	for _, body := range []string{`{"values":{"x":1}}`, `{"values":{"x":"one"}}`, `{"values":{"x":2}}`} {
		if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('t', 'h', $1)`, body); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 5*time.Second, func() error { return rec.check("t/h", 3) })
	if n := s.m.badBodies.Load(); n != 1 {
		t.Fatalf("got %d bad bodies counted, want 1", n)
	}
}

// TestRecreatedStreamIsANewEpoch: a stream deleted and recreated gets a new
// epoch; its wake-ups must not be read as the old stream's continuation.
func TestRecreatedStreamIsANewEpoch(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	var mu sync.Mutex
	var got []wire.Event
	ctx := context.Background()
	s := runFollower(t, Config{Pool: db.Pool, ScanInterval: time.Hour, Sink: func(_ string, evs []wire.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
	}})
	if err := s.Append(ctx, "t", "re", make([]wire.Event, 3)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 3 {
			return fmt.Errorf("%d events", len(got))
		}
		return nil
	})
	if _, err := db.Pool.Exec(ctx, `DELETE FROM telltale.events WHERE stream = 're'; DELETE FROM telltale.streams WHERE stream = 're'`); err != nil {
		t.Fatal(err)
	}
	evs := make([]wire.Event, 6)
	if err := s.Append(ctx, "t", "re", evs); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 9 {
			return fmt.Errorf("%d events, want 9", len(got))
		}
		for i, ev := range got[3:] {
			if ev.Epoch != evs[0].Epoch || ev.Seq != uint64(i+1) {
				return fmt.Errorf("event %d of the new stream: epoch %d seq %d, want epoch %d seq %d", i, ev.Epoch, ev.Seq, evs[0].Epoch, i+1)
			}
		}
		return nil
	})
}

func TestCompositeKeysDoNotCollide(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TABLE pairs (a text, b text, shop text, PRIMARY KEY (a, b))`,
		`SELECT telltale.watch('pairs', 'pairs', 'shop')`,
		`INSERT INTO pairs VALUES ('x:y', 'z', 'acme'), ('x', 'y:z', 'acme')`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	evs, err := New(Config{Pool: db.Pool}).Read(ctx, "acme", "pairs", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Row.Key == evs[1].Row.Key {
		t.Fatalf("got keys %q and %q, want two different keys", evs[0].Row.Key, evs[1].Row.Key)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO pairs VALUES ('q', 'r', 'Acme Corp')`); err == nil || !strings.Contains(err.Error(), "in column shop") {
		t.Fatalf("got %v, want a refusal naming the tenant column", err)
	}
}

// TestSilentListenIsProbedNotDropped: long silences are probed with a ping;
// a live connection survives them and still delivers.
func TestSilentListenIsProbedNotDropped(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	rec := &sink{seqs: map[string][]uint64{}}
	cfg := Config{Pool: db.Pool, ScanInterval: time.Hour, ListenProbe: 20 * time.Millisecond}
	cfg.Sink = rec.publish
	s := runFollower(t, cfg)
	time.Sleep(200 * time.Millisecond) // ten probe periods of silence
	if err := s.Append(ctx, "t", "quiet", make([]wire.Event, 3)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error { return rec.check("t/quiet", 3) })
	if n := s.m.reconnects.Load(); n != 0 {
		t.Fatalf("got %d reconnects, want 0: probing a live connection must not drop it", n)
	}
}

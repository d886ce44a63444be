package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// rowSink keeps the row events a follower delivers, per stream, in order.
type rowSink struct {
	mu  sync.Mutex
	evs map[string][]wire.Event
}

func newRowSink() *rowSink { return &rowSink{evs: map[string][]wire.Event{}} }

func (r *rowSink) publish(tenant string, evs []wire.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.evs[tenant+"/"+ev.Stream] = append(r.evs[tenant+"/"+ev.Stream], ev)
	}
}

// rows returns the stream's events once it holds want of them, with seqs
// 1..want, each once, in order; else an error saying what is wrong.
func (r *rowSink) rows(k string, want int) ([]wire.Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.evs[k]
	for i, ev := range got {
		if ev.Seq != uint64(i+1) {
			return nil, fmt.Errorf("%s: position %d has seq %d: lost, duplicated or reordered", k, i, ev.Seq)
		}
	}
	if len(got) != want {
		return nil, fmt.Errorf("%s: %d events so far, want %d", k, len(got), want)
	}
	return append([]wire.Event(nil), got...), nil
}

func watchedOrders(t *testing.T, db *pgtest.DB) {
	t.Helper()
	for _, sql := range []string{
		`CREATE TABLE orders (id int PRIMARY KEY, shop text NOT NULL, status text)`,
		`SELECT telltale.watch('orders', 'orders', 'shop')`,
	} {
		if _, err := db.Pool.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func staged(t *testing.T, db *pgtest.DB) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM telltale.staged`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStagedConcurrentWriters: 8 writers insert into one watched table (one
// stream) at once, while two nodes' sequencers run. Both nodes deliver seqs
// 1..n, every row once, and each writer's rows in the order it committed
// them. Only wake-ups and lingering looks deliver (the scan is off).
func TestStagedConcurrentWriters(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	nodes := []*rowSink{newRowSink(), newRowSink()}
	for _, n := range nodes {
		runFollower(t, Config{Pool: db.Pool, Sink: n.publish, ScanInterval: time.Hour})
	}
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := db.Pool.Exec(ctx, `INSERT INTO orders VALUES ($1, 'acme', 'new')`, w*1000+i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for node, n := range nodes {
		var got []wire.Event
		poll.Until(t, 10*time.Second, func() (err error) {
			got, err = n.rows("acme/orders", writers*each)
			return err
		})
		next := map[int]int{} // writer → its next row
		for _, ev := range got {
			id, _ := strconv.Atoi(ev.Row.Key)
			w, i := id/1000, id%1000
			if i != next[w] {
				t.Fatalf("node %d seq %d: writer %d's row %d, want its row %d: a writer's commits out of order or doubled", node, ev.Seq, w, i, next[w])
			}
			next[w]++
		}
	}
	if n := staged(t, db); n != 0 {
		t.Fatalf("%d events still staged, want 0", n)
	}
}

// TestStagedLongTransaction: a transaction that wrote a watched row and stays
// open neither blocks the table's other writers (they waited for its commit
// when the trigger took the stream's row lock) nor holds back their events;
// when it commits, its event comes next, with no hole and no duplicate.
func TestStagedLongTransaction(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	rec := newRowSink()
	runFollower(t, Config{Pool: db.Pool, Sink: rec.publish, ScanInterval: time.Hour})
	// The stream's first event creates its row (once per stream's life, the
	// one write writers of a new stream share).
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders VALUES (0, 'acme', 'new')`); err != nil {
		t.Fatal(err)
	}
	long, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, `INSERT INTO orders VALUES (1, 'acme', 'long')`); err != nil {
		t.Fatal(err)
	}
	for id := 2; id <= 11; id++ {
		// Before migration 0011 this waited for the long transaction.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := db.Pool.Exec(wctx, `INSERT INTO orders VALUES ($1, 'acme', 'new')`, id)
		cancel()
		if err != nil {
			t.Fatalf("insert %d while another writer's transaction is open: %v", id, err)
		}
	}
	var got []wire.Event
	poll.Until(t, 10*time.Second, func() (err error) {
		got, err = rec.rows("acme/orders", 11)
		return err
	})
	for i, ev := range got {
		want := i + 1 // rows 0, 2, 3, …, 11: commit order, row 1 not committed yet
		if i == 0 {
			want = 0
		}
		if ev.Row.Key != strconv.Itoa(want) {
			t.Fatalf("seq %d is row %s, want row %d", ev.Seq, ev.Row.Key, want)
		}
	}
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() (err error) {
		got, err = rec.rows("acme/orders", 12)
		return err
	})
	if got[11].Row.Key != "1" || got[11].Row.Fields["status"] != "long" {
		t.Fatalf("seq 12 is row %s, want the long transaction's row 1", got[11].Row.Key)
	}
}

// TestStagedSameRowOrder: two updates of one row, the second waiting for the
// first's row lock, arrive in the order they committed, although the second
// transaction took its transaction id first (ordering by transaction id, as
// an xmin-based sequencer would, puts them the other way round and leaves
// the dashboard showing the older value).
func TestStagedSameRowOrder(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE other (n int); INSERT INTO orders VALUES (7, 'acme', 'new')`); err != nil {
		t.Fatal(err)
	}
	second, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Rollback(ctx)
	first, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	var secondXid, firstXid int64
	if err := second.QueryRow(ctx, `INSERT INTO other VALUES (1) RETURNING pg_current_xact_id()::text::bigint`).Scan(&secondXid); err != nil {
		t.Fatal(err)
	}
	if err := first.QueryRow(ctx, `UPDATE orders SET status = 'packed' WHERE id = 7 RETURNING pg_current_xact_id()::text::bigint`).Scan(&firstXid); err != nil {
		t.Fatal(err)
	}
	if secondXid >= firstXid {
		t.Fatalf("transaction ids %d, %d: want the second writer's first", secondXid, firstXid)
	}
	updated := make(chan error, 1)
	go func() {
		_, err := second.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = 7`) // waits for first
		if err == nil {
			err = second.Commit(ctx)
		}
		updated <- err
	}()
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
	evs, err := New(Config{Pool: db.Pool}).Read(ctx, "acme", "orders", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%d %v", ev.Seq, ev.Row.Fields["status"]))
	}
	if want := []string{"1 new", "2 packed", "3 shipped"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestStagedSequencerKilled: the sequencer's connection is terminated in the
// middle of a move (held inside its transaction by a trigger on the events
// table). Nothing it was moving is lost or doubled: the move rolls back and
// the next pass, on a new connection, moves it all, with what was staged
// meanwhile.
func TestStagedSequencerKilled(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	rec := newRowSink()
	s := runFollower(t, Config{Pool: db.Pool, Sink: rec.publish, ScanInterval: time.Hour})
	hold, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	for _, sql := range []string{
		`SELECT pg_advisory_lock(4242)`,
		`CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$`,
		`CREATE TRIGGER stall BEFORE INSERT ON telltale.events FOR EACH ROW EXECUTE FUNCTION stall()`,
	} {
		if _, err := hold.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(1, 50) g`); err != nil {
		t.Fatal(err)
	}
	var pid int
	poll.Until(t, 10*time.Second, func() error {
		err := db.Pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'telltale-sequence' AND wait_event = 'advisory'`).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("the sequencer is not inside a move yet")
		}
		return err
	})
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(51, 60) g`); err != nil {
		t.Fatal(err)
	}
	if n := staged(t, db); n != 60 {
		t.Fatalf("%d events staged after the killed move, want all 60", n)
	}
	// The next pass, on a new connection, waits in the trigger too: let it go.
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_unlock(4242)`); err != nil {
		t.Fatal(err)
	}
	var got []wire.Event
	poll.Until(t, 10*time.Second, func() (err error) {
		got, err = rec.rows("acme/orders", 60)
		return err
	})
	for i, ev := range got {
		if ev.Row.Key != strconv.Itoa(i+1) {
			t.Fatalf("seq %d is row %s, want %d", ev.Seq, ev.Row.Key, i+1)
		}
	}
	var events, last int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM telltale.events), last_seq FROM telltale.streams`).Scan(&events, &last); err != nil {
		t.Fatal(err)
	}
	if events != 60 || last != 60 || staged(t, db) != 0 {
		t.Fatalf("%d events, last_seq %d, %d staged: want 60, 60, 0", events, last, staged(t, db))
	}
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return nil
	})
}

// TestStage: SQL producers that need no seq back stage like watched tables;
// what the events table would refuse is refused in the producer's own
// transaction, never left staged for a sequencer that cannot move it.
func TestStage(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	s := New(Config{Pool: db.Pool})
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.stage('acme', 'gauges', '{"values":{"x":1}}')`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, sql, want string
		quota           int // the tenant's stream quota for this case
	}{
		{"not an object", `SELECT telltale.stage('acme', 'gauges', '[1]')`, "staged_body_check", 1000},
		{"bad stream name", `SELECT telltale.stage('acme', 'Bad Name', '{}')`, "streams_stream_check", 1000},
		{"over the quota", `SELECT telltale.stage('acme', 'second', '{}')`, "already has 1 streams", 1},
	} {
		if err := s.SetStreamQuota(ctx, tt.quota); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, tt.sql); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Fatalf("%s: got %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	evs, err := s.Read(ctx, "acme", "gauges", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Seq != 1 || evs[0].Values["x"] != 1 {
		t.Fatalf("got %+v, want the one staged event as seq 1", evs)
	}
	if n := staged(t, db); n != 0 {
		t.Fatalf("%d events still staged, want 0", n)
	}
}

// TestStagedBacklogMovesInLinearTime: a backlog (a bulk insert into a watched
// table, or rows staged while no node ran) moves in one pass of linear cost
// whatever the planner believes about the staging table. Its statistics say
// empty here, as they do after a quiet spell; the move once joined each
// staged row against the re-run "first 5,000 ids" subquery (a nested-loop
// semi join), and 5,000 rows took 31 s to move instead of milliseconds.
func TestStagedBacklogMovesInLinearTime(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	watchedOrders(t, db)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `ANALYZE telltale.staged`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO orders SELECT g, 'acme', 'new' FROM generate_series(1, 12000) g`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// Linear: tens of ms a pass, seconds on a loaded machine; quadratic:
	// minutes.
	if _, err := conn.Exec(ctx, `SET statement_timeout = '15s'`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET statement_timeout`)
	moved := 0
	for _, want := range []int{sequenceBatch, sequenceBatch, 12000 - 2*sequenceBatch} {
		var n int
		if err := conn.QueryRow(ctx, `SELECT moved FROM telltale.sequence_staged($1)`, sequenceBatch).Scan(&n); err != nil {
			t.Fatalf("after %d moved: %v", moved, err)
		}
		if n != want {
			t.Fatalf("a pass moved %d, want %d", n, want)
		}
		moved += n
	}
	var events, first, last, keys int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), min(seq), max(seq), count(DISTINCT body->'row'->>'key') FROM telltale.events`).Scan(&events, &first, &last, &keys); err != nil {
		t.Fatal(err)
	}
	if events != 12000 || first != 1 || last != 12000 || keys != 12000 || staged(t, db) != 0 {
		t.Fatalf("%d events, seqs %d..%d, %d keys, %d staged: want 12000, 1..12000, 12000, 0", events, first, last, keys, staged(t, db))
	}
	var outOfOrder int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM telltale.events WHERE (body->'row'->>'key')::int <> seq`).Scan(&outOfOrder); err != nil {
		t.Fatal(err)
	}
	if outOfOrder != 0 {
		t.Fatalf("%d events out of staging order", outOfOrder)
	}
}

// TestWatchedUnder0011KeepsWorking: tables watched before migration 12 keep
// their triggers, which now run 12's watch_trigger, and stage the same events
// as before, byte for byte (single and composite keys; insert, update, a
// tenant move, a key change, delete); rows staged before the migration move
// after it, seqs contiguous.
func TestWatchedUnder0011KeepsWorking(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE SCHEMA telltale; CREATE TABLE telltale.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range all {
		if m.Version >= 12 {
			break
		}
		exec(m.SQL)
		if _, err := db.Pool.Exec(ctx, `INSERT INTO telltale.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"before", "after"} {
		exec(`CREATE TABLE one_` + p + ` (id int PRIMARY KEY, shop text, status text, total numeric)`)
		exec(`SELECT telltale.watch('one_` + p + `', 'one', 'shop')`)
		exec(`CREATE TABLE two_` + p + ` (a text, b int, shop text, note text, PRIMARY KEY (a, b))`)
		exec(`SELECT telltale.watch('two_` + p + `', 'two', 'shop')`)
	}
	changes := func(p string) {
		exec(`INSERT INTO one_` + p + ` VALUES (1, 'acme', 'new', 10.5), (2, 'acme', 'new', NULL), (3, 'acme', 'x', 1)`)
		exec(`UPDATE one_` + p + ` SET status = 'packed' WHERE id = 1`)
		exec(`UPDATE one_` + p + ` SET shop = 'globex' WHERE id = 2`)
		exec(`UPDATE one_` + p + ` SET id = 30 WHERE id = 3`)
		exec(`DELETE FROM one_` + p + ` WHERE id = 1`)
		exec(`INSERT INTO two_` + p + ` VALUES ('x:y', 1, 'acme', 'a'), ('x', 2, 'acme', NULL)`)
		exec(`UPDATE two_` + p + ` SET note = 'b' WHERE b = 1`)
		exec(`UPDATE two_` + p + ` SET b = 3, shop = 'globex' WHERE b = 2`)
		exec(`DELETE FROM two_` + p + ` WHERE b = 1`)
	}
	// What is staged, without the stamps, in staging order.
	bodies := func() []string {
		t.Helper()
		rows, err := db.Pool.Query(ctx, `SELECT tenant || '/' || stream || ' ' || body::text FROM telltale.staged ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	changes("before")
	before := bodies()
	if len(before) != 15 {
		t.Fatalf("0011 staged %d events, want 15: %v", len(before), before)
	}
	applied, err := Migrate(ctx, db.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != 12 {
		t.Fatalf("applied %v, want 12 first", applied)
	}
	changes("after")
	after := bodies()[len(before):]
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a table watched under 0011 now stages\n%v\nwant what 0011 staged\n%v", after, before)
	}
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.sequence_staged(5000)`); err != nil {
		t.Fatal(err)
	}
	var bad int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT s.tenant, s.stream, s.last_seq, count(e.seq) n, min(e.seq) lo, max(e.seq) hi
		FROM telltale.streams s LEFT JOIN telltale.events e USING (tenant, stream) GROUP BY 1, 2, 3) x
		WHERE n <> last_seq OR lo <> 1 OR hi <> last_seq`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 || staged(t, db) != 0 {
		t.Fatalf("%d streams without seqs 1..last_seq, %d staged: want 0, 0", bad, staged(t, db))
	}
}

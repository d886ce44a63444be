package leader_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/backend/leader"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// node is one elector under test, with what its terms did.
type node struct {
	el     *leader.Elector
	terms  atomic.Int32
	inTerm atomic.Bool
	stop   func()
}

// startNode starts an elector whose connections are named name
// (application_name).
func startNode(t *testing.T, dsn, name string, retry time.Duration) *node {
	t.Helper()
	n := &node{}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = name
	n.el = leader.New(leader.Config{Retry: retry,
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.el.Run(ctx, func(ctx context.Context) error {
			n.terms.Add(1)
			n.inTerm.Store(true)
			<-ctx.Done()
			n.inTerm.Store(false)
			return nil
		})
	}()
	n.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(n.stop)
	return n
}

// leaders returns the nodes that lead now, checking that a leading node
// is in its term and the others are not.
func leaders(nodes []*node) ([]*node, error) {
	var out []*node
	for i, n := range nodes {
		if n.el.Leading() {
			out = append(out, n)
		}
		if n.el.Leading() != n.inTerm.Load() {
			return nil, fmt.Errorf("node %d: Leading %v but in a term %v", i, n.el.Leading(), n.inTerm.Load())
		}
	}
	return out, nil
}

func oneLeader(t *testing.T, nodes []*node) *node {
	t.Helper()
	var l *node
	poll.Until(t, 10*time.Second, func() error {
		ls, err := leaders(nodes)
		if err != nil {
			return err
		}
		if len(ls) != 1 {
			return fmt.Errorf("%d nodes lead, want 1", len(ls))
		}
		l = ls[0]
		return nil
	})
	return l
}

// TestOneLeaderAndTakeOver: of three nodes on one database exactly one
// leads; the leader's transactions go through its lock connection and the
// others' are refused; when PostgreSQL ends the leader's session
// (pg_terminate_backend, as when its process dies) its writes fail at once,
// even before it notices, its term ends, and another node leads within a
// few retry intervals (the old one waits two before trying again); a
// leader that steps down at shutdown hands over too.
func TestOneLeaderAndTakeOver(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	const retry = 50 * time.Millisecond
	nodes := []*node{startNode(t, db.DSN, "a", retry), startNode(t, db.DSN, "b", retry), startNode(t, db.DSN, "c", retry)}
	first := oneLeader(t, nodes)
	// A few retries later still one, in one term.
	time.Sleep(4 * retry)
	if ls, err := leaders(nodes); err != nil || len(ls) != 1 || ls[0] != first {
		t.Fatalf("after a few retries: leaders %v (%v), want the first one alone", ls, err)
	}
	var total int32
	for _, n := range nodes {
		total += n.terms.Load()
	}
	if total != 1 {
		t.Fatalf("%d terms began, want 1", total)
	}

	// The leader writes on its lock connection; the others may not.
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE w (n int)`); err != nil {
		t.Fatal(err)
	}
	write := func(n *node) error {
		return pgx.BeginFunc(ctx, n.el, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO w VALUES (1)`)
			return err
		})
	}
	if err := write(first); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	for _, n := range nodes {
		if n != first {
			if err := write(n); !errors.Is(err, leader.ErrNotLeader) {
				t.Fatalf("a follower's write: got %v, want ErrNotLeader", err)
			}
		}
	}

	// PostgreSQL ends the leader's session: the lock is free, and the old
	// leader's next write fails whether it noticed yet or not.
	var pid int
	if err := db.Pool.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	if err := write(first); err == nil {
		t.Fatal("the old leader wrote after PostgreSQL ended its session")
	}
	var second *node
	poll.Until(t, 10*time.Second, func() error {
		ls, err := leaders(nodes)
		if err != nil {
			return err
		}
		var terms int32
		for _, n := range nodes {
			terms += n.terms.Load()
		}
		if len(ls) != 1 || terms != 2 || ls[0] == first {
			return fmt.Errorf("%d nodes lead after %d terms (the old leader among them: %v), want another one in a second term", len(ls), terms, first.el.Leading())
		}
		second = ls[0]
		return nil
	})
	took := time.Since(killed)
	t.Logf("another node led %v after the leader's session ended (retry %v)", took, retry)
	if timing.Over(t, took, 20*retry) {
		t.Fatalf("took %v to lead again, want under %v", took, 20*retry)
	}
	if err := write(second); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}

	// A clean stop hands over as well: the old leader (campaigning again)
	// or the third node takes the lock.
	second.stop()
	if second.el.Leading() {
		t.Fatal("a stopped node still leads")
	}
	rest := []*node{}
	for _, n := range nodes {
		if n != second {
			rest = append(rest, n)
		}
	}
	oneLeader(t, rest)
}

// TestSteppingDownHandsOverAtOnce: a leader that shuts down unlocks and
// notifies, so another node leads at once, long before its next retry.
func TestSteppingDownHandsOverAtOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	const retry = 10 * time.Second
	a := startNode(t, db.DSN, "a", retry)
	oneLeader(t, []*node{a}) // the first try is at once
	b := startNode(t, db.DSN, "b", retry)
	// b tried and waits: a retry away, or a notification.
	poll.Until(t, 5*time.Second, func() error {
		var q string
		err := db.Pool.QueryRow(context.Background(), `SELECT coalesce(max(query), '') FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'b'`).Scan(&q)
		if err != nil || !strings.Contains(q, "pg_try_advisory_lock") {
			return fmt.Errorf("the second node has not tried yet (last query %q, %v)", q, err)
		}
		return nil
	})
	stopped := time.Now()
	a.stop()
	poll.Until(t, retry/2, func() error {
		if !b.el.Leading() {
			return errors.New("the other node does not lead yet")
		}
		return nil
	})
	t.Logf("the other node led %v after the leader stopped (retry %v)", time.Since(stopped), retry)
}

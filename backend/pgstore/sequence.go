package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The sequencer moves what watched tables (and telltale.stage) staged into
// the events table, giving seqs (migration 0011_staged.sql argues the rule:
// what a move's snapshot sees committed, in staging order, one transaction
// per pass). Writers of a watched table so never wait for one another: the
// only lock on a stream's counter is the sequencer's, held for one move of a
// few milliseconds, never across a user's transaction.
//
// Every node runs one; a move holds an advisory lock on its stream, so nodes
// take turns rather than queue, and a node killed mid-move loses nothing (its
// transaction rolls back, the rows stay staged for the next pass).
type sequencer struct {
	s    *Store
	f    *follower
	pool *pgxpool.Pool // one connection, "telltale-sequence"
	wake chan struct{}
}

const (
	// sequenceBatch bounds the events of one stream one move takes, so a
	// backlog moves in transactions of bounded size; a full move is
	// followed at once by the next.
	sequenceBatch = 5000
	// Writers wake the sequencers at most every 10 ms (migration 0011), so
	// after a move the sequencer looks again 10 ms later, then 20, 40, 80 ms
	// if those find nothing, for commits inside the window that had no
	// wake-up of their own; beyond that the next wake-up or the scan.
	sequenceLinger      = 10 * time.Millisecond
	sequenceLingerSteps = 4
)

func (q *sequencer) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run passes on every wake-up, on lingering looks and every scan interval,
// until ctx ends. It starts with a pass: what was staged while no node ran.
func (q *sequencer) run(ctx context.Context) {
	tick := time.NewTicker(q.s.cfg.ScanInterval)
	defer tick.Stop()
	look := time.NewTimer(0)
	defer look.Stop()
	step := -1 // the lingering look's step; -1: not lingering
	var unvacuumed int
	lastVacuum := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-tick.C:
		case <-look.C:
		}
		moved, full, busy, err := q.pass(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			q.s.log.Warn("pg sequence", "err", err)
			q.s.seqErr.Store("sequencing watched tables failed: " + err.Error())
			// Staged rows wait; the next wake-up, look or scan tries again.
			look.Reset(100 * time.Millisecond)
			continue
		}
		q.s.seqErr.Store("")
		unvacuumed += moved
		if unvacuumed >= vacuumAfter && time.Since(lastVacuum) >= time.Second {
			q.vacuum(ctx)
			unvacuumed, lastVacuum = 0, time.Now()
		}
		switch {
		case full:
			look.Reset(0)
		case moved > 0:
			step = 0
			look.Reset(sequenceLinger)
		case busy:
			// Another node is moving it (a few ms) or a publisher holds
			// it until its commit: look again, backing off to 160 ms.
			step = min(step+1, sequenceLingerSteps)
			look.Reset(sequenceLinger << step)
		case step >= 0 && step+1 < sequenceLingerSteps:
			step++
			look.Reset(sequenceLinger << step)
		default:
			step = -1
		}
	}
}

// pass moves what is staged, every stream, in one transaction, and wakes
// this node's follower for each stream it moved (after the commit: the
// rows' ReadyForQuery follows it). full says a stream had more than one
// move's worth; busy, that a publisher or another node held a stream.
func (q *sequencer) pass(ctx context.Context) (moved int, full, busy bool, err error) {
	q.s.m.seqPasses.Inc()
	rows, err := q.pool.Query(ctx, `SELECT tenant, stream, coalesce(epoch, 0), coalesce(last_seq, 0), moved, busy, err
		FROM telltale.sequence_staged($1)`, sequenceBatch)
	if err != nil {
		return 0, false, false, fmt.Errorf("pass: %w", err)
	}
	type wok struct {
		k key
		w wakeAt
	}
	var woken []wok
	for rows.Next() {
		var (
			k           key
			epoch, last int64
			n           int
			held        bool
			failed      *string
		)
		if err := rows.Scan(&k.tenant, &k.stream, &epoch, &last, &n, &held, &failed); err != nil {
			rows.Close()
			return 0, false, false, fmt.Errorf("pass: %w", err)
		}
		switch {
		case failed != nil:
			// One stream's failure (say, its stream was deleted and the
			// tenant is at its quota) must not hold back the others: it is
			// logged and counted, and its rows stay staged.
			q.s.m.seqErrors.Inc()
			q.s.log.Warn("pg sequence: a stream's staged events could not be moved", "tenant", k.tenant, "stream", k.stream, "err", *failed)
		case held:
			busy = true
		case n > 0:
			moved += n
			full = full || n >= sequenceBatch
			woken = append(woken, wok{k, wakeAt{uint64(epoch), uint64(last)}})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, false, fmt.Errorf("pass: %w", err)
	}
	q.s.m.sequenced.Add(int64(moved))
	for _, w := range woken {
		q.f.wakeLocal(w.k, w.w)
	}
	return moved, full, busy, nil
}

// vacuumAfter is how many moved events make the sequencer vacuum the
// staging table (at most once a second). Autovacuum visits a database about
// once a minute: at 5,000 events/s that is 300,000 dead rows, which every
// move's index scan of the staging table would wade through.
const vacuumAfter = 20000

// vacuumStaged never truncates: giving the table's empty last pages back
// needs an ACCESS EXCLUSIVE lock, which VACUUM asks for every 50 ms for up
// to 5 s while any writer of a watched table holds its ROW EXCLUSIVE (at
// the writers' maximum, nearly always), and this connection makes no pass
// meanwhile: a 2–5 s stall of every watched stream, commit→hub p99 up to
// 5 s (migration 0014, which also turns it off for autovacuum;
// TestStagedVacuumWaitsForNoWriter).
const vacuumStaged = `VACUUM (SKIP_LOCKED, TRUNCATE false) telltale.staged`

func (q *sequencer) vacuum(ctx context.Context) {
	if _, err := q.pool.Exec(ctx, vacuumStaged); err != nil && ctx.Err() == nil {
		q.s.log.Warn("pg sequence: vacuum of the staging table", "err", err)
	}
}

// flushStaged moves what is staged for one stream before a read, waiting
// for a move in progress elsewhere, so that a read started after a watched
// row's commit finds its event. It gives up on a stream held longer than
// 2 s (lock_timeout): the read then returns what is sequenced.
func (s *Store) flushStaged(ctx context.Context, tenant, stream string) {
	var failed *string
	err := s.cfg.Pool.QueryRow(ctx, `SELECT max(err) FROM telltale.sequence_staged(100000, $1, $2, true)`,
		tenant, stream).Scan(&failed)
	if err == nil && failed != nil {
		err = errors.New(*failed)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("pg sequence before a read", "tenant", tenant, "stream", stream, "err", err)
	}
}

package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestLingeringLooksAreShared: many streams woken at about the same time,
// each committing once (another writer, through SQL: every event is read
// from PostgreSQL). Each stream is read once; its lingering looks (four,
// that find nothing here) must not cost a query per stream each: with one
// read per look the follower sent 5 queries per stream (issue 20: 1,354
// reads/s on one node for 69 streams, 2.7–4.8 per wake-up).
func TestLingeringLooksAreShared(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	s, rec := follow(t, db) // the scan is 1 h away: only wake-ups and looks
	const streams = 40
	// One statement: every stream commits at once, like producers that
	// write on a common tick.
	if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('t', 's' || i, '{"values":{"x":1}}') FROM generate_series(1, $1) i`, streams); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		for i := 1; i <= streams; i++ {
			if err := rec.check(fmt.Sprintf("t/s%d", i), 1); err != nil {
				return err
			}
		}
		// Every stream's looks are over: lingerSteps each after its read.
		if n := s.m.looked.Load(); n < streams*lingerSteps {
			return fmt.Errorf("%d lingering looks, want %d", n, streams*lingerSteps)
		}
		return nil
	})
	queries := s.m.reads.Load() + s.m.looks.Load()
	t.Logf("%d streams: %d reads; %d looks at a stream in %d queries", streams, s.m.reads.Load(), s.m.looked.Load(), s.m.looks.Load())
	if s.m.reads.Load() < streams {
		t.Fatalf("got %d reads for %d streams woken, want at least one each", s.m.reads.Load(), streams)
	}
	if queries > 3*streams {
		t.Fatalf("got %d follower queries for %d streams read once each, want at most %d (one read each, looks shared)", queries, streams, 3*streams)
	}
}

// TestOwnCommitsAreNotReadBack: what this node commits reaches the sink
// from its recent cache, and the lane stops at the seq its commit woke it
// for instead of reading PostgreSQL for anything after it (another writer's
// later commit has a wake-up or a lingering look of its own). Before, every
// commit of the node's own ingest cost a read that found nothing (4 for 5
// commits here, besides the looks' reads).
func TestOwnCommitsAreNotReadBack(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx := context.Background()
	s, rec := follow(t, db)
	const commits = 5
	for i := 1; i <= commits; i++ {
		if err := s.Append(ctx, "t", "own", make([]wire.Event, 10)); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, 5*time.Second, func() error { return rec.check("t/own", 10*i) })
	}
	// Lingering over: the last commit's looks found nothing.
	poll.Until(t, 5*time.Second, func() error {
		if n := s.m.looked.Load(); n < lingerSteps {
			return fmt.Errorf("%d lingering looks, want at least %d", n, lingerSteps)
		}
		return nil
	})
	// A commit's notification can still overtake its own put into the
	// cache (Append learns its seqs when it has committed): the lane then
	// reads that commit from PostgreSQL, which is a read that finds it.
	t.Logf("%d commits: %d events from the cache, %d reads of PostgreSQL", commits, s.m.cached.Load(), s.m.reads.Load())
	if n := s.m.emptyReads.Load(); n != 0 {
		t.Fatalf("got %d reads of PostgreSQL that found nothing for %d commits of this node's own, want 0", n, commits)
	}
}

package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
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

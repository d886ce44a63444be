package pgstore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestHealthSaysCatchingUpWhenBehind: a follower whose reads fall behind the
// events table (here: reads held up) reports itself unhealthy, "catching
// up", once a stream has been owed a read for BehindAfter, so /healthz
// answers 503 and a load balancer takes the node out; it is healthy again
// once it has read what was committed.
func TestHealthSaysCatchingUpWhenBehind(t *testing.T) {
	t.Parallel()
	db := migrated(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := &sink{seqs: map[string][]uint64{}}
	s := New(Config{Pool: db.Pool, Sink: rec.publish, ScanInterval: 100 * time.Millisecond, BehindAfter: 300 * time.Millisecond})
	var slow atomic.Bool
	release := make(chan struct{})
	s.beforeRead = func(ctx context.Context) {
		if slow.Load() {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Another node's writer: its commits reach this follower by reads only.
	other := New(Config{Pool: db.Pool})
	if err := other.Append(ctx, "acme", "orders", make([]wire.Event, 3)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return rec.check("acme/orders", 3)
	})
	slow.Store(true)
	if err := other.Append(ctx, "acme", "orders", make([]wire.Event, 2)); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := s.Health(); ok || !strings.Contains(reason, "catching up") {
			return errors.New("still healthy with its reads held up")
		}
		return nil
	})
	slow.Store(false)
	close(release)
	poll.Until(t, 10*time.Second, func() error {
		if ok, reason := s.Health(); !ok {
			return errors.New(reason)
		}
		return rec.check("acme/orders", 5)
	})
}

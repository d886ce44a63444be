package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
	"github.com/telltale/telltale/shared/wire"
)

type answer struct {
	status int
	body   []byte
	took   time.Duration
	err    error
}

// getAsync runs a GET in the background; ctx cancels it.
func (f *fixture) getAsync(ctx context.Context, path, token string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- answer{err: err, took: time.Since(start)}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out <- answer{status: res.StatusCode, body: b, took: time.Since(start)}
	}()
	return out
}

func (f *fixture) waiting() int64 { return f.api.a.waiters.Load() }

func (f *fixture) publish(t *testing.T, tenant string) {
	t.Helper()
	if err := f.store.Append(context.Background(), tenant, "orders", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
		t.Fatal(err)
	}
}

func batchOf(t *testing.T, a answer) wire.Batch {
	t.Helper()
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("got %d %s %v, want 200", a.status, a.body, a.err)
	}
	fr, err := wire.Decode(a.body)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := fr.(wire.Batch)
	if !ok {
		t.Fatalf("got %T, want a batch", fr)
	}
	return b
}

// TestLongPollWakesOnPublish: a poll at the head of the stream is held until
// the next event, answered with it and the stream's head, and another
// tenant's publish on the same name does not wake it.
func TestLongPollWakesOnPublish(t *testing.T) {
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	cur, _ := f.hub.Cursor("acme", "orders")
	got := f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=%d&wait=20s", cur.Epoch, cur.Seq), tok)
	poll.Until(t, 5*time.Second, func() error {
		if n := f.waiting(); n != 1 {
			return fmt.Errorf("%d polls held, want 1", n)
		}
		return nil
	})
	f.publish(t, "globex")
	f.publish(t, "acme")
	a := <-got
	b := batchOf(t, a)
	if len(b.Events) != 1 || b.Events[0].Seq != cur.Seq+1 || b.Head != cur.Seq+1 || b.Sent == 0 {
		t.Fatalf("got %+v, want seq %d with head %d and a sent stamp", b, cur.Seq+1, cur.Seq+1)
	}
	if timing.Over(t, a.took, 10*time.Second) {
		t.Fatalf("the poll took %v: it was not woken by the publish", a.took)
	}
	if n := f.waiting(); n != 0 {
		t.Fatalf("%d polls still counted as held", n)
	}
}

// TestLongPollEnds: a held poll ends empty when its wait is over, at once
// when the client goes away, and at once when the API closes; polls past
// the tenant's bound are refused with 429 instead of held.
func TestLongPollEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(f *fixture, cancel context.CancelFunc)
		wait string
		// want: the status (0: the request was cancelled), and at most how long
		want    int
		atLeast time.Duration
	}{
		{"wait over", func(*fixture, context.CancelFunc) {}, "300ms", http.StatusOK, 300 * time.Millisecond},
		{"client gone", func(_ *fixture, cancel context.CancelFunc) { cancel() }, "20s", 0, 0},
		{"api closed", func(f *fixture, _ context.CancelFunc) { f.api.Close() }, "20s", http.StatusOK, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t)
			tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
			cur, _ := f.hub.Cursor("acme", "orders")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := f.getAsync(ctx, fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=%d&wait=%s", cur.Epoch, cur.Seq, tc.wait), tok)
			poll.Until(t, 5*time.Second, func() error {
				if n := f.waiting(); n != 1 {
					return fmt.Errorf("%d polls held, want 1", n)
				}
				return nil
			})
			tc.end(f, cancel)
			a := <-got
			if timing.Over(t, a.took, 10*time.Second) || a.took < tc.atLeast {
				t.Fatalf("took %v, want between %v and 10s", a.took, tc.atLeast)
			}
			if tc.want == 0 {
				if a.err == nil {
					t.Fatalf("got %d, want the request cancelled", a.status)
				}
			} else if b := batchOf(t, a); len(b.Events) != 0 || b.Head != cur.Seq {
				t.Fatalf("got %+v, want no events and head %d", b, cur.Seq)
			}
			poll.Until(t, 5*time.Second, func() error {
				if n := f.waiting(); n != 0 {
					return fmt.Errorf("%d polls still held", n)
				}
				return nil
			})
		})
	}
}

// TestLongPollBounds: past the per-tenant bound a poll is refused with 429
// and Retry-After; the other tenant still waits; an unknown stream at (0, 0)
// is held, not refused, and wakes when its first event arrives.
func TestLongPollBounds(t *testing.T) {
	f := startWith(t, Config{MaxWaitersPerTenant: 1, MaxWaiters: 10})
	acme, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	globex, _ := f.keys.Mint("globex", "gus", time.Hour, nil, "")
	first := f.getAsync(context.Background(), "/api/v1/streams/fresh/events?epoch=0&after=0&wait=20s", acme)
	poll.Until(t, 5*time.Second, func() error {
		if n := f.waiting(); n != 1 {
			return fmt.Errorf("%d polls held, want 1", n)
		}
		return nil
	})
	cur, _ := f.hub.Cursor("acme", "orders")
	a := <-f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=%d&wait=20s", cur.Epoch, cur.Seq), acme)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("second acme poll: got %d %s, want 429", a.status, a.body)
	}
	gcur, _ := f.hub.Cursor("globex", "orders")
	other := f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=%d&wait=20s", gcur.Epoch, gcur.Seq), globex)
	poll.Until(t, 5*time.Second, func() error {
		if n := f.waiting(); n != 2 {
			return fmt.Errorf("%d polls held, want 2 (acme's and globex's)", n)
		}
		return nil
	})
	if err := f.store.Append(context.Background(), "acme", "fresh", []wire.Event{{Values: map[string]float64{"n": 1}}}); err != nil {
		t.Fatal(err)
	}
	// The cursor (0, 0) is of no epoch: the client must take the snapshot.
	if a := <-first; a.status != http.StatusConflict {
		t.Fatalf("poll of a new stream: got %d %s, want 409 (fetch the snapshot)", a.status, a.body)
	}
	f.publish(t, "globex")
	if b := batchOf(t, <-other); len(b.Events) != 1 {
		t.Fatalf("globex poll got %d events, want 1", len(b.Events))
	}
}

// TestLongPollRevokedWhileHeld: a token revoked while its poll is held gets
// 401 and none of the events that woke it.
func TestLongPollRevokedWhileHeld(t *testing.T) {
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	cur, _ := f.hub.Cursor("acme", "orders")
	got := f.getAsync(context.Background(), fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=%d&wait=20s", cur.Epoch, cur.Seq), tok)
	poll.Until(t, 5*time.Second, func() error {
		if n := f.waiting(); n != 1 {
			return fmt.Errorf("%d polls held, want 1", n)
		}
		return nil
	})
	now := time.Now().Add(time.Second)
	if err := f.store.Revoke(context.Background(), authRevocation("acme", "alice", now)); err != nil {
		t.Fatal(err)
	}
	if err := f.guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "acme")
	if a := <-got; a.status != http.StatusUnauthorized {
		t.Fatalf("got %d %s, want 401", a.status, a.body)
	}
}

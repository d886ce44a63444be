package hub

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/telltale/telltale/shared/wire"
)

// resumer records what a resuming subscription receives, as seqs.
type resumer struct {
	recorder
	mu2      sync.Mutex
	replayed []uint64
	holds    int
}

func (r *resumer) Replay(_ string, _ uint64, events [][]byte) {
	r.mu2.Lock()
	defer r.mu2.Unlock()
	for _, b := range events {
		f, err := wire.Decode(mustBatch(b))
		if err != nil {
			panic(err)
		}
		r.replayed = append(r.replayed, f.(wire.Batch).Events[0].Seq)
	}
}

func (r *resumer) Hold(string) uint64 {
	r.mu2.Lock()
	defer r.mu2.Unlock()
	r.holds++
	return uint64(r.holds)
}

func mustBatch(ev []byte) []byte {
	return wire.EncodeBatch("s", 0, [][]byte{ev})
}

// TestResumeFromRing resumes subscribers from cursors inside the ring while
// another goroutine publishes: each must see exactly the seqs after its
// cursor, replay then live, with no gap and no duplicate at the seam.
func TestResumeFromRing(t *testing.T) {
	t.Parallel()
	h := New(Config{Ring: 1000})
	h.Publish("t", events("m", 5, 1, 500))
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(501); i <= total; i++ {
			h.Publish("t", events("m", 5, i, 1))
		}
	}()
	var subs []*resumer
	var froms []uint64
	for i := 0; i < 40; i++ {
		r := &resumer{}
		c, _ := h.Cursor("t", "m")
		from := c.Seq - uint64(i*10)%c.Seq
		res, _, err := h.SubscribeFrom("t", "m", r, wire.Cursor{Stream: "m", Epoch: 5, Seq: from}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Replayed || len(r.snaps) != 0 {
			t.Fatalf("cursor %d: got %+v with %d snapshots, want a replay from the ring", from, res, len(r.snaps))
		}
		subs = append(subs, r)
		froms = append(froms, from)
	}
	<-done
	for i, r := range subs {
		next := froms[i] + 1
		for _, q := range append(r.replayed, r.seqs...) {
			if q != next {
				t.Fatalf("subscriber %d from %d: got seq %d, want %d", i, froms[i], q, next)
			}
			next++
		}
		if next != total+1 {
			t.Fatalf("subscriber %d ended at %d, want %d", i, next-1, total)
		}
	}
}

func TestResumeThatCannotContinue(t *testing.T) {
	t.Parallel()
	h := New(Config{Ring: 10})
	h.Publish("t", events("m", 5, 1, 100))
	tests := []struct {
		name     string
		from     wire.Cursor
		canFetch bool
		fetch    bool
		reason   string
	}{
		{"other epoch", wire.Cursor{Epoch: 4, Seq: 50}, true, false, "new epoch"},
		{"ahead of the stream", wire.Cursor{Epoch: 5, Seq: 101}, true, false, "ahead"},
		{"older than the ring, no store", wire.Cursor{Epoch: 5, Seq: 50}, false, false, "no longer kept"},
		{"older than the ring, store", wire.Cursor{Epoch: 5, Seq: 50}, true, true, ""},
		{"at the head", wire.Cursor{Epoch: 5, Seq: 100}, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &resumer{}
			res, cancel, err := h.SubscribeFrom("t", "m", r, tt.from, tt.canFetch)
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			if res.Fetch != tt.fetch || (tt.fetch && (res.After != 50 || res.UpTo != 100)) {
				t.Fatalf("got %+v, want fetch=%v of (50, 100]", res, tt.fetch)
			}
			if tt.reason == "" {
				if len(r.snaps) != 0 {
					t.Fatalf("got a snapshot, want none")
				}
				return
			}
			if len(r.snaps) != 1 || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("got %d snapshots, reason %q, want one snapshot saying %q", len(r.snaps), res.Reason, tt.reason)
			}
			s := snapshotOf(t, r.snaps[0])
			if s.Seq != 100 || s.Reason != res.Reason {
				t.Fatalf("got snapshot at %d with reason %q, want 100 and the reason", s.Seq, s.Reason)
			}
		})
	}
}

// TestResumeAheadOnASharedLog: on a log other nodes follow too (SharedLog), a
// cursor of the stream's epoch ahead of this node's seq came from a node
// that read further: it is resumed, not answered with a snapshot, and this
// node's next events reach the subscriber in order (the client skips those
// it holds). Without SharedLog the same cursor gets a snapshot.
func TestResumeAheadOnASharedLog(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{true, false} {
		h := New(Config{Ring: 10, SharedLog: shared})
		h.Publish("t", events("m", 5, 1, 100))
		r := &resumer{}
		res, cancel, err := h.SubscribeFrom("t", "m", r, wire.Cursor{Epoch: 5, Seq: 103}, true)
		if err != nil {
			t.Fatal(err)
		}
		if !shared {
			if len(r.snaps) != 1 || !strings.Contains(res.Reason, "ahead") {
				t.Fatalf("not shared: got %+v and %d snapshots, want one snapshot saying ahead", res, len(r.snaps))
			}
			cancel()
			continue
		}
		if !res.Replayed || res.Fetch || res.Ahead != 3 || len(r.snaps) != 0 || len(r.replayed) != 0 {
			t.Fatalf("shared: got %+v, %d snapshots, replayed %v; want resumed 3 ahead, nothing replayed, no snapshot", res, len(r.snaps), r.replayed)
		}
		h.Publish("t", events("m", 5, 101, 5))
		r.mu.Lock()
		got := fmt.Sprint(r.seqs)
		r.mu.Unlock()
		if got != "[101 102 103 104 105]" {
			t.Fatalf("shared: delivered %s after the resume, want 101 to 105 in order", got)
		}
		cancel()
	}
}

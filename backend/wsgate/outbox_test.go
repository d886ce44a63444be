package wsgate

import (
	"bytes"
	"testing"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/wire"
)

func newTestOutbox(limit int) *outbox {
	r := metrics.New()
	return newOutbox(limit, &gateMetrics{resyncs: r.Counter("r", ""), dropped: r.Counter("d", "")})
}

func TestOutboxUnsubForgetsQueuedFrames(t *testing.T) {
	o := newTestOutbox(1 << 10)
	o.Snapshot("a", bytes.Repeat([]byte{1}, 500))
	o.Deliver("a", 1, [][]byte{{2}})
	o.Snapshot("b", []byte{3})
	o.forget("a")
	items, slow := o.take(nil)
	if slow || len(items) != 1 || items[0].stream != "b" {
		t.Fatalf("got %d items (slow %v), want only b's snapshot", len(items), slow)
	}
}

func TestOutboxSnapshotSupersedesQueue(t *testing.T) {
	o := newTestOutbox(1 << 10)
	o.Snapshot("a", []byte{1})
	o.Deliver("a", 1, [][]byte{{2}})
	o.Snapshot("a", []byte{9})
	items, _ := o.take(nil)
	if len(items) != 1 || items[0].b[0] != 9 {
		t.Fatalf("got %d items, want only the newest snapshot", len(items))
	}
}

func TestOutboxEventOverflowBecomesResync(t *testing.T) {
	o := newTestOutbox(100)
	o.Deliver("a", 1, [][]byte{make([]byte, 60)})
	o.Deliver("b", 1, [][]byte{make([]byte, 30)})
	o.Deliver("a", 2, [][]byte{make([]byte, 60)}) // over the bound: a's backlog → resync
	o.Deliver("a", 3, [][]byte{make([]byte, 1)})  // dropped until a is resubscribed
	items, slow := o.take(nil)
	if slow || len(items) != 2 || items[0].stream != "b" || !items[0].event || items[1].stream != "a" || items[1].event {
		t.Fatalf("got %+v, want b's event then a's resync", items)
	}
}

// TestOutboxControlBound: a client that never reads but keeps subscribing to
// new names does not grow the queue past the control bound: the snapshots
// that do not fit become resync frames. Control frames that are not
// snapshots still mark it slow past the bound.
func TestOutboxControlBound(t *testing.T) {
	o := newTestOutbox(1 << 10) // control bound: 16 MiB
	snap := make([]byte, 1<<20)
	for i := 0; i < 40; i++ {
		o.Snapshot(string(rune('a'+i)), snap)
	}
	items, slow := o.take(nil)
	queued, snaps := 0, 0
	for _, it := range items {
		queued += len(it.b)
		if len(it.b) == len(snap) {
			snaps++
		}
	}
	if slow || snaps != 16 || len(items) != 40 || queued > 16<<20+40*200 {
		t.Fatalf("40 snapshots of 1 MiB: %d items, %d snapshots, %d bytes queued (slow %v); want 16 snapshots and 24 resyncs within the 16 MiB bound", len(items), snaps, queued, slow)
	}
	for i := 0; i < 17; i++ {
		o.push(snap) // not a snapshot: nothing to ask again for
	}
	if _, slow := o.take(nil); !slow {
		t.Fatal("17 MiB of queued control frames did not mark the connection slow")
	}
}

// TestOutboxDefersSnapshotsOverBound: a page that subscribes to several
// large streams at once is not closed as a slow consumer (it was, and
// reconnected five times to get eight 10 MB snapshots): what does not fit
// is a resync, and the client's new sub, once the writer took the queue,
// gets its snapshot. A single snapshot over the bound still goes out.
func TestOutboxDefersSnapshotsOverBound(t *testing.T) {
	o := newTestOutbox(1 << 10) // control bound: 16 MiB
	big := make([]byte, 10<<20)
	names := []string{"r0", "r1", "r2", "r3"}
	for _, n := range names {
		o.Snapshot(n, big)
	}
	o.Deliver("r1", 1, [][]byte{{1}}) // r1 resyncs: its events wait for its snapshot
	items, slow := o.take(nil)
	if slow || len(items) != 4 || len(items[0].b) != len(big) || items[0].stream != "r0" {
		t.Fatalf("got %d items (slow %v), want r0's snapshot and three resyncs", len(items), slow)
	}
	for _, it := range items[1:] {
		f, err := wire.Decode(it.b)
		if rs, ok := f.(wire.Resync); err != nil || !ok || rs.Stream != it.stream {
			t.Fatalf("%s: got %T %v, want its resync", it.stream, f, err)
		}
	}
	// The client subscribes again: one at a time they fit.
	for _, n := range names[1:] {
		o.Snapshot(n, big)
		items, slow = o.take(nil)
		if slow || len(items) != 1 || items[0].stream != n || len(items[0].b) != len(big) {
			t.Fatalf("%s again: got %d items (slow %v), want its snapshot", n, len(items), slow)
		}
	}
	// Alone, a snapshot over the bound is queued (and the connection
	// slow, as before), not deferred again and again.
	huge := make([]byte, 20<<20)
	o.Snapshot("r0", huge)
	if items, _ = o.take(nil); len(items) != 1 || len(items[0].b) != len(huge) {
		t.Fatalf("a lone 20 MiB snapshot: got %d items, want it queued", len(items))
	}
}

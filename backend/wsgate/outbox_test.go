package wsgate

import (
	"bytes"
	"testing"

	"github.com/telltale/telltale/backend/metrics"
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
// new names is marked slow instead of growing the queue.
func TestOutboxControlBound(t *testing.T) {
	o := newTestOutbox(1 << 10) // control bound: 16 MiB
	snap := make([]byte, 1<<20)
	for i := 0; i < 17; i++ {
		o.Snapshot(string(rune('a'+i)), snap)
	}
	if _, slow := o.take(nil); !slow {
		t.Fatal("17 MiB of queued snapshots did not mark the connection slow")
	}
}

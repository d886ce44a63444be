package hub

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

type recorder struct {
	mu      sync.Mutex
	snaps   [][]byte
	seqs    []uint64
	bufs    [][]byte
	resyncs []string
}

func (r *recorder) Deliver(_ string, first uint64, evs [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ev := range evs {
		r.seqs = append(r.seqs, first+uint64(i))
		r.bufs = append(r.bufs, ev)
	}
}

func (r *recorder) Snapshot(_ string, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snaps = append(r.snaps, frame)
}

func (r *recorder) Resync(stream, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resyncs = append(r.resyncs, stream+": "+reason)
}

func events(stream string, epoch, from uint64, n int) []wire.Event {
	evs := make([]wire.Event, n)
	for i := range evs {
		evs[i] = wire.Event{Stream: stream, Epoch: epoch, Seq: from + uint64(i), Values: map[string]float64{"n": float64(from) + float64(i)}}
	}
	return evs
}

func snapshotOf(t *testing.T, b []byte) wire.Snapshot {
	t.Helper()
	f, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := f.(wire.Snapshot)
	if !ok {
		t.Fatalf("got %T, want Snapshot", f)
	}
	return s
}

func TestEncodeOnceShareBytes(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("t", events("m", 1, 1, 1))
	a, b := &recorder{}, &recorder{}
	for _, r := range []*recorder{a, b} {
		if _, err := h.Subscribe("t", "m", r); err != nil {
			t.Fatal(err)
		}
	}
	h.Publish("t", events("m", 1, 2, 1))
	if len(a.bufs) != 1 || len(b.bufs) != 1 {
		t.Fatalf("got %d and %d deliveries, want 1 each", len(a.bufs), len(b.bufs))
	}
	if &a.bufs[0][0] != &b.bufs[0][0] {
		t.Fatal("subscribers got different buffers: the event was encoded more than once")
	}
}

// TestSnapshotHandOver subscribes while another goroutine publishes: every
// subscriber must see exactly the seqs after its snapshot, with no gap.
func TestSnapshotHandOver(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	const total = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= total; i++ {
			h.Publish("t", events("m", 9, i, 1))
		}
	}()
	type sub struct {
		r    *recorder
		snap wire.Snapshot
	}
	var subs []sub
	for i := 0; i < 50; i++ {
		r := &recorder{}
		if _, err := h.Subscribe("t", "m", r); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub{r, snapshotOf(t, r.snaps[0])})
	}
	<-done
	for i, s := range subs {
		st := livestate.Stream{Name: "m", Epoch: s.snap.Epoch, Seq: s.snap.Seq}
		if s.snap.Seq == 0 {
			st.Epoch = 9 // subscribed before the first event: resynced, then continues
		}
		for _, q := range s.r.seqs {
			if q != st.Seq+1 {
				t.Fatalf("subscriber %d: snapshot at %d, got seq %d after %d", i, s.snap.Seq, q, st.Seq)
			}
			st.Seq = q
		}
		if st.Seq != total {
			t.Fatalf("subscriber %d ended at seq %d, want %d", i, st.Seq, total)
		}
	}
}

func TestEpochChangeResyncs(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("t", events("m", 1, 1, 3))
	r := &recorder{}
	if _, err := h.Subscribe("t", "m", r); err != nil {
		t.Fatal(err)
	}
	if s := snapshotOf(t, r.snaps[0]); s.Seq != 3 || s.State.Values["n"] != 3 {
		t.Fatalf("got snapshot seq %d values %v, want seq 3 with n=3", s.Seq, s.State.Values)
	}
	h.Publish("t", events("m", 2, 1, 1))
	if len(r.resyncs) != 1 {
		t.Fatalf("got resyncs %v, want one after the epoch changed", r.resyncs)
	}
	if c, _ := h.Cursor("t", "m"); c.Epoch != 2 || c.Seq != 1 {
		t.Fatalf("got cursor %+v, want epoch 2 seq 1", c)
	}
}

func TestTenantsAreSeparate(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("a", events("m", 1, 1, 1))
	r := &recorder{}
	if _, err := h.Subscribe("b", "m", r); err != nil {
		t.Fatal(err)
	}
	h.Publish("a", events("m", 1, 2, 1))
	if s := snapshotOf(t, r.snaps[0]); s.Seq != 0 || len(s.State.Values) != 0 || len(r.seqs) != 0 {
		t.Fatalf("tenant b saw tenant a's stream: snapshot %+v, deliveries %v", s, r.seqs)
	}
}

func TestCancelForgetsUnusedName(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	cancel, err := h.Subscribe("t", "nobody-publishes", &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	cancel()
	if _, ok := h.Cursor("t", "nobody-publishes"); ok {
		t.Fatal("an unused stream name is still held after its last subscriber left")
	}
	if _, err := h.Subscribe("t", "Bad/Name", &recorder{}); err == nil {
		t.Fatal("got nil, want an error for a bad stream name")
	}
}

func BenchmarkPublish_1000Subs(b *testing.B) {
	h := New(Config{})
	for i := 0; i < 1000; i++ {
		if _, err := h.Subscribe("t", "m", &nopSub{}); err != nil {
			b.Fatal(err)
		}
	}
	evs := events("m", 1, 1, 1)
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		evs[0].Seq = seq
		h.Publish("t", evs)
	}
}

type nopSub struct{ n int }

func (s *nopSub) Deliver(_ string, _ uint64, evs [][]byte) { s.n += len(evs) }
func (s *nopSub) Resync(string, string)                    {}
func (s *nopSub) Snapshot(string, []byte)                  {}

// blocker holds the stream lock inside Deliver until released, standing in
// for a fan-out to very many subscribers.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) Deliver(string, uint64, [][]byte) {
	b.entered <- struct{}{}
	<-b.release
}
func (b *blocker) Resync(string, string)   {}
func (b *blocker) Snapshot(string, []byte) {}

// TestUnsubscribeDoesNotStallOtherStreams: a client leaving stream A while A
// is mid-fan-out must not hold up publishing on stream B.
func TestUnsubscribeDoesNotStallOtherStreams(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("t", events("a", 1, 1, 1))
	h.Publish("t", events("b", 1, 1, 1))
	bl := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
	if _, err := h.Subscribe("t", "a", bl); err != nil {
		t.Fatal(err)
	}
	cancel, err := h.Subscribe("t", "a", &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	go h.Publish("t", events("a", 1, 2, 1))
	<-bl.entered // A's lock is now held by the fan-out
	cancelled := make(chan struct{})
	go func() {
		cancel()
		close(cancelled)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(2); i < 2000; i++ {
			h.Publish("t", events("b", 1, i, 1))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publishing to b stalled while a client left a during a's fan-out")
	}
	close(bl.release)
	<-cancelled
}

// TestWatchWakesOnPublish: a watcher learns of the next publish (and only
// then), and a cancelled watch of a made-up name does not grow the hub.
func TestWatchWakesOnPublish(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.Publish("acme", []wire.Event{{Stream: "orders", Epoch: 1, Seq: 1}})
	woke := make(chan struct{}, 4)
	cur, cancel, err := h.Watch("acme", "orders", func() { woke <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if cur.Epoch != 1 || cur.Seq != 1 {
		t.Fatalf("got cursor %+v, want epoch 1 seq 1", cur)
	}
	select {
	case <-woke:
		t.Fatal("woken before any publish")
	default:
	}
	h.Publish("globex", []wire.Event{{Stream: "orders", Epoch: 1, Seq: 1}})
	h.Publish("acme", []wire.Event{{Stream: "orders", Epoch: 1, Seq: 2}})
	if len(woke) != 1 {
		t.Fatalf("got %d wake-ups, want 1 (acme's publish, not globex's)", len(woke))
	}
	cancel()
	cancel()
	h.Publish("acme", []wire.Event{{Stream: "orders", Epoch: 1, Seq: 3}})
	if len(woke) != 1 {
		t.Fatalf("woken after cancel")
	}
	_, cancel, err = h.Watch("acme", "made-up", func() {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, ok := h.Cursor("acme", "made-up"); ok {
		t.Fatal("a watched made-up name stayed in the hub")
	}
}

// TestChangesStreamKeepsEveryDashboard: a tenant's dashboard changes
// stream is the list of its dashboards, one row each, so its snapshot keeps
// as many rows as a tenant may have dashboards, where another stream keeps
// its 50.
func TestChangesStreamKeepsEveryDashboard(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	const n = 120
	for _, stream := range []string{dashboard.ChangesStream, "orders"} {
		evs := make([]wire.Event, n)
		for i := range evs {
			evs[i] = dashboard.ChangeEvent(dashboard.Change{ID: fmt.Sprintf("d%03d", i), Version: 1, Title: "D"})
			evs[i].Stream, evs[i].Epoch, evs[i].Seq = stream, 1, uint64(i+1)
		}
		h.Publish("t", evs)
	}
	b, err := h.Snapshot("t", dashboard.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(snapshotOf(t, b).State.Rows); got != n {
		t.Fatalf("changes stream: snapshot has %d rows, want all %d dashboards", got, n)
	}
	if b, err = h.Snapshot("t", "orders"); err != nil {
		t.Fatal(err)
	}
	if got := len(snapshotOf(t, b).State.Rows); got != 50 {
		t.Fatalf("another stream: snapshot has %d rows, want its 50", got)
	}
}

// TestSubscribersAddRemove: the list a publish walks holds each subscriber
// once, whatever order they come and go in, and each one's place stays
// right after the last one fills a hole.
func TestSubscribersAddRemove(t *testing.T) {
	t.Parallel()
	subs := make([]*nopSub, 6)
	for i := range subs {
		subs[i] = &nopSub{}
	}
	var ss subscribers
	for _, s := range subs {
		ss.add(s)
	}
	ss.add(subs[2]) // again: still once
	for _, i := range []int{0, 3, 5, 0} {
		ss.remove(subs[i]) // the first, a middle one, the last; then one not there
	}
	want := map[Subscriber]bool{subs[1]: true, subs[2]: true, subs[4]: true}
	if ss.len() != len(want) {
		t.Fatalf("got %d subscribers, want %d", ss.len(), len(want))
	}
	for i, s := range ss.list {
		if !want[s.sub] {
			t.Errorf("got %p at %d, want it removed", s.sub, i)
		}
		if ss.at[s.sub] != i {
			t.Errorf("got place %d for the subscriber at %d, want %d", ss.at[s.sub], i, i)
		}
		delete(want, s.sub)
	}
	if len(want) > 0 {
		t.Errorf("got %d subscribers missing", len(want))
	}
}

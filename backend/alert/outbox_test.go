package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// alertLog is a tenant's alerts stream as the store keeps it.
type alertLog struct {
	mu      sync.Mutex
	epoch   uint64
	evs     []wire.Event
	trimmed uint64 // seqs up to it are no longer kept
}

func (l *alertLog) add(a dashboard.Alert, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := alertEvent(a, at)
	ev.Stream, ev.Epoch, ev.Seq = dashboard.AlertsStream, l.epoch, uint64(len(l.evs))+1
	l.evs = append(l.evs, ev)
}

func (l *alertLog) read(_ context.Context, tenant string, after uint64, limit int) ([]wire.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tenant != "acme" {
		return nil, nil
	}
	if after < l.trimmed {
		return nil, fmt.Errorf("oldest kept is %d: %w", l.trimmed+1, store.ErrTrimmed)
	}
	end := min(len(l.evs), int(after)+limit)
	return append([]wire.Event(nil), l.evs[after:end]...), nil
}

func (l *alertLog) head(tenant string) (wire.Cursor, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tenant != "acme" || len(l.evs) == 0 {
		return wire.Cursor{}, false
	}
	return wire.Cursor{Stream: dashboard.AlertsStream, Epoch: l.epoch, Seq: uint64(len(l.evs))}, true
}

// dedupingReceiver is a webhook endpoint that answers 503 while failing is
// set, hangs while hang is set, and else takes a message once per
// delivery id, as a receiver following the docs does.
type dedupingReceiver struct {
	mu      sync.Mutex
	failing bool
	hang    chan struct{} // non-nil: calls wait for it to close
	calls   int
	ids     []string        // delivery ids taken, in order
	taken   map[string]bool // by delivery id
	repeats int             // 2xx answers to an id already taken
	bodies  []Message
}

func (rc *dedupingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls++
	hang, failing := rc.hang, rc.failing
	rc.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get(DeliveryHeader)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.taken[id] {
		rc.repeats++
		return
	}
	var m Message
	_ = json.Unmarshal(b, &m)
	rc.taken[id] = true
	rc.ids = append(rc.ids, id)
	rc.bodies = append(rc.bodies, m)
}

func (rc *dedupingReceiver) state() (calls int, ids []string, repeats int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, append([]string(nil), rc.ids...), rc.repeats
}

// runOutbox runs an Outbox (one leader's term) over log and cursors to
// url until stop is called.
func runOutbox(t *testing.T, log *alertLog, cursors Cursors, url string) (o *Outbox, reg *metrics.Registry, stop func()) {
	t.Helper()
	reg = metrics.New()
	w := NewWebhook(WebhookConfig{URL: url, Secret: []byte("s3cret"), Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Attempts: 1000, Metrics: reg})
	o = NewOutbox(OutboxConfig{Webhook: w, Read: log.read, Head: log.head, Tenants: func() []string { return []string{"acme", "globex"} },
		Cursors: cursors, Every: 10 * time.Millisecond, Metrics: reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return o, reg, stop
}

func deliveryID(a dashboard.Alert) string {
	return fmt.Sprintf("acme/%s/%s/%d", a.ID, a.State, a.Since.UnixMilli())
}

// A leader wrote a firing row and stopped (killed, drained) while its
// receiver failed or hung: the cursor stays before the row, and the next
// leader's Outbox, on the same cursors, delivers it, then the resolve,
// each once, signed, with the row's "at".
func TestOutboxNextLeaderDeliversWhatTheLastDidNot(t *testing.T) {
	for _, how := range []string{"failing", "hanging"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			rc := &dedupingReceiver{taken: map[string]bool{}, failing: how == "failing"}
			if how == "hanging" {
				rc.hang = make(chan struct{})
			}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			log := &alertLog{epoch: 7}
			cursors := &MemoryCursors{}
			at := firing.Since.Add(1500 * time.Millisecond)
			log.add(firing, at)

			o, _, stop := runOutbox(t, log, cursors, srv.URL)
			o.Notify("acme", firing, at)
			poll.Until(t, 10*time.Second, func() error {
				if calls, _, _ := rc.state(); calls < 1 {
					return errors.New("the receiver was not called yet")
				}
				return nil
			})
			stop() // the leader's term ends mid-delivery
			if c, ok, _ := cursors.Cursor(context.Background(), "acme"); ok && c.Seq != 0 {
				t.Fatalf("cursor at %+v after a message the receiver never took, want before it", c)
			}

			rc.mu.Lock()
			rc.failing = false
			if rc.hang != nil {
				close(rc.hang)
				rc.hang = nil
			}
			rc.mu.Unlock()
			runOutbox(t, log, cursors, srv.URL) // the next leader
			poll.Until(t, 10*time.Second, func() error {
				if _, ids, _ := rc.state(); len(ids) != 1 {
					return fmt.Errorf("%d messages taken, want the firing", len(ids))
				}
				return nil
			})
			resolved := firing
			resolved.State = dashboard.AlertResolved
			log.add(resolved, at.Add(time.Minute))
			poll.Until(t, 10*time.Second, func() error {
				if _, ids, _ := rc.state(); len(ids) != 2 {
					return fmt.Errorf("%d messages taken, want the firing and the resolve", len(ids))
				}
				return nil
			})
			_, ids, _ := rc.state()
			if want := []string{deliveryID(firing), deliveryID(resolved)}; ids[0] != want[0] || ids[1] != want[1] {
				t.Fatalf("taken %q, want %q", ids, want)
			}
			rc.mu.Lock()
			m := rc.bodies[0]
			rc.mu.Unlock()
			if !m.At.Equal(at) || m.State != "firing" || m.Tenant != "acme" {
				t.Fatalf("firing body %+v, want at %v", m, at)
			}
			poll.Until(t, 10*time.Second, func() error {
				if c, _, _ := cursors.Cursor(context.Background(), "acme"); c.Seq != 2 || c.Epoch != 7 {
					return fmt.Errorf("cursor at %+v, want epoch 7 seq 2", c)
				}
				return nil
			})
		})
	}
}

// A new leader on a cursor that the receiver's rows passed sends nothing
// again; rows are sent in seq order across reads (more than one batch).
func TestOutboxStartsAtTheCursorAndKeepsOrder(t *testing.T) {
	t.Parallel()
	rc := &dedupingReceiver{taken: map[string]bool{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	log := &alertLog{epoch: 1}
	var want []string
	for i := range readBatch + 30 {
		a := firing
		a.ID = fmt.Sprintf("d/p%d/p95", i)
		log.add(a, a.Since)
		if i >= 10 {
			want = append(want, deliveryID(a))
		}
	}
	cursors := &MemoryCursors{}
	_ = cursors.SetCursor(context.Background(), "acme", wire.Cursor{Epoch: 1, Seq: 10})
	runOutbox(t, log, cursors, srv.URL)
	poll.Until(t, 10*time.Second, func() error {
		if _, ids, _ := rc.state(); len(ids) != len(want) {
			return fmt.Errorf("%d taken, want %d", len(ids), len(want))
		}
		return nil
	})
	calls, ids, repeats := rc.state()
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("message %d is %s, want %s (in seq order)", i, ids[i], want[i])
		}
	}
	if repeats != 0 || calls != len(want) {
		t.Fatalf("%d calls, %d repeats, want %d and 0", calls, repeats, len(want))
	}
}

// A cursor of another epoch (the stream was made again) delivers the new
// stream from its first row; rows the store no longer keeps are passed
// and counted.
func TestOutboxNewEpochAndTrimmedRows(t *testing.T) {
	t.Parallel()
	rc := &dedupingReceiver{taken: map[string]bool{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	log := &alertLog{epoch: 2}
	log.add(firing, firing.Since)
	cursors := &MemoryCursors{}
	_ = cursors.SetCursor(context.Background(), "acme", wire.Cursor{Epoch: 1, Seq: 40})
	_, reg, stop := runOutbox(t, log, cursors, srv.URL)
	poll.Until(t, 10*time.Second, func() error {
		if _, ids, _ := rc.state(); len(ids) != 1 || ids[0] != deliveryID(firing) {
			return fmt.Errorf("taken %q, want the new epoch's firing", ids)
		}
		if c, _, _ := cursors.Cursor(context.Background(), "acme"); c.Epoch != 2 || c.Seq != 1 {
			return fmt.Errorf("cursor at %+v, want epoch 2 seq 1", c)
		}
		return nil
	})
	stop()

	for i := range 5 {
		a := firing
		a.ID = fmt.Sprintf("d/q%d/p95", i)
		log.add(a, a.Since)
	}
	log.mu.Lock()
	log.trimmed = 4 // seqs 2..4 are gone before they were sent
	log.mu.Unlock()
	_, reg, _ = runOutbox(t, log, cursors, srv.URL)
	poll.Until(t, 10*time.Second, func() error {
		if c, _, _ := cursors.Cursor(context.Background(), "acme"); c.Seq != 6 {
			return fmt.Errorf("cursor at %+v, want seq 6", c)
		}
		return nil
	})
	if got := reg.Lookup("telltale_alert_webhook_rows_skipped_total").Load(); got != 3 {
		t.Fatalf("%d rows counted skipped, want 3 (seqs 2 to 4)", got)
	}
	_, ids, _ := rc.state()
	if len(ids) != 3 || ids[1] != "acme/d/q3/p95/firing/"+fmt.Sprint(firing.Since.UnixMilli()) {
		t.Fatalf("taken %q, want the first firing and the two kept rows (seqs 5 and 6)", ids)
	}
}

// Without a webhook the cursors follow the heads: a webhook configured
// later sends the rows written from then on, not every alert since.
func TestOutboxWithoutWebhookFollowsTheHeads(t *testing.T) {
	t.Parallel()
	log := &alertLog{epoch: 3}
	log.add(firing, firing.Since)
	cursors := &MemoryCursors{}
	o := NewOutbox(OutboxConfig{Read: func(context.Context, string, uint64, int) ([]wire.Event, error) {
		t.Error("read without a webhook")
		return nil, nil
	}, Head: log.head, Tenants: func() []string { return []string{"acme"} }, Cursors: cursors, Every: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	poll.Until(t, 10*time.Second, func() error {
		if c, _, _ := cursors.Cursor(ctx, "acme"); c != (wire.Cursor{Stream: dashboard.AlertsStream, Epoch: 3, Seq: 1}) {
			return fmt.Errorf("cursor at %+v, want the head", c)
		}
		return nil
	})
	cancel()
	<-done

	rc := &dedupingReceiver{taken: map[string]bool{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	runOutbox(t, log, cursors, srv.URL)
	resolved := firing
	resolved.State = dashboard.AlertResolved
	log.add(resolved, firing.Since.Add(time.Minute))
	poll.Until(t, 10*time.Second, func() error {
		if _, ids, _ := rc.state(); len(ids) != 1 || ids[0] != deliveryID(resolved) {
			return fmt.Errorf("taken %q, want the resolve only", ids)
		}
		return nil
	})
}

// The Outbox's look at every tenant (every 10 s) when nothing is new: one
// hub head per tenant against the cursor it holds, no store read.
func BenchmarkOutboxIdlePass_1000Tenants(b *testing.B) {
	b.ReportAllocs()
	tenants := make([]string, 1000)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("tenant-%d", i)
	}
	head := wire.Cursor{Stream: dashboard.AlertsStream, Epoch: 1, Seq: 42}
	cursors := &MemoryCursors{}
	for _, t := range tenants {
		_ = cursors.SetCursor(context.Background(), t, head)
	}
	o := NewOutbox(OutboxConfig{Webhook: NewWebhook(WebhookConfig{URL: "http://127.0.0.1:0/"}), Cursors: cursors,
		Read: func(context.Context, string, uint64, int) ([]wire.Event, error) {
			b.Fatal("read with nothing new")
			return nil, nil
		},
		Head:    func(string) (wire.Cursor, bool) { return head, true },
		Tenants: func() []string { return tenants }})
	ctx := context.Background()
	o.pass(ctx, tenants) // the cursors, read once per term
	b.ResetTimer()
	for b.Loop() {
		o.pass(ctx, tenants)
	}
}

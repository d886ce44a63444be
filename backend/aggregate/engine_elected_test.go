package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// TestElectedEngineComputesOnlyWhileLeading: an engine of one node among
// several (Elected) ignores the tap and forwards a page's want while it
// does not lead (Run not running); a term starts with what pages on other
// nodes want (Wanted) and takes wants off WantsStream as they come; the
// term's end stops every aggregate and hands the pages' m4 streams to the
// next leader, and the next term rebuilds from the store.
func TestElectedEngineComputesOnlyWhileLeading(t *testing.T) {
	s := spec(t, agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	var (
		mu        sync.Mutex
		forwarded []string
	)
	r := newRig(t, []*agg.Spec{s}, func(c *EngineConfig) {
		c.Elected = true
		c.Forward = func(tenant, stream string) error {
			mu.Lock()
			defer mu.Unlock()
			forwarded = append(forwarded, tenant+"/"+stream)
			return nil
		}
		c.Wanted = func() []Want { return []Want{{Tenant: "t", Stream: "m4.500.orders"}} }
	})
	inboxEmpty := func() {
		t.Helper()
		r.eng.inMu.Lock()
		defer r.eng.inMu.Unlock()
		if len(r.eng.inbox) != 0 {
			t.Fatalf("a follower's engine queued %d tapped batches, want none", len(r.eng.inbox))
		}
	}

	// Not leading: the tap keeps nothing, a page's want goes to the leader.
	r.publish("t", "orders", 30)
	inboxEmpty()
	if err := r.eng.Want("t", "m4.1000.orders"); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Want("t", "agg.0000000000000000"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("an unknown derived stream: got %v, want ErrUnknown (checked here, not forwarded)", err)
	}
	mu.Lock()
	if !slices.Equal(forwarded, []string{"t/m4.1000.orders"}) {
		t.Fatalf("forwarded %v, want the page's m4 stream", forwarded)
	}
	mu.Unlock()
	if n := r.eng.Active("t"); n != 0 {
		t.Fatalf("a follower computes %d aggregates, want 0", n)
	}

	// A term: the other nodes' wants, then the source's definitions.
	r.start()
	active := func(n int) {
		t.Helper()
		poll.Until(t, 5*time.Second, func() error {
			if got := r.eng.Active("t"); got != n {
				return fmt.Errorf("%d aggregates active, want %d", got, n)
			}
			return nil
		})
	}
	active(1) // the wanted m4 stream
	r.publish("t", "orders", 10)
	wantValue(t, r, "t", s.Stream(), 40) // rebuilt from the store: the 30 are counted
	active(2)
	// A want off the tenant's WantsStream, as another node writes it.
	if err := r.store.Append(t.Context(), "t", WantsStream, []wire.Event{WantEvent("m4.2000.orders", time.Now())}); err != nil {
		t.Fatal(err)
	}
	active(3)
	// A page here: computed here, not forwarded.
	if err := r.eng.Want("t", "m4.200.orders"); err != nil {
		t.Fatal(err)
	}
	active(4)
	mu.Lock()
	if len(forwarded) != 1 {
		t.Fatalf("forwarded %v while leading, want nothing more", forwarded)
	}
	mu.Unlock()

	// The term ends: nothing is computed, nothing queued.
	r.stop()
	if n := r.eng.Active("t"); n != 0 {
		t.Fatalf("after the term %d aggregates are active, want 0", n)
	}
	if g := r.metric("telltale_agg_active"); g != 0 {
		t.Fatalf("telltale_agg_active %d after the term, want 0", g)
	}
	r.publish("t", "orders", 5)
	inboxEmpty()
	// The pages' m4 streams it computed are handed to the next leader.
	mu.Lock()
	slices.Sort(forwarded)
	if want := []string{"t/m4.1000.orders", "t/m4.200.orders", "t/m4.2000.orders", "t/m4.500.orders"}; !slices.Equal(forwarded, want) {
		t.Fatalf("forwarded %v by the end of the term, want %v", forwarded, want)
	}
	mu.Unlock()

	// The next term rebuilds from the store (once Run runs: a batch tapped
	// before is dropped, and read from the store by the rebuild).
	r.start()
	poll.Until(t, 5*time.Second, func() error {
		if !r.eng.running.Load() {
			return errors.New("the term has not begun")
		}
		return nil
	})
	r.publish("t", "orders", 5)
	wantValue(t, r, "t", s.Stream(), 50)
}

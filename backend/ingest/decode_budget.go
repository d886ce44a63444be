package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/metrics"
)

// decoders bounds how many of one tenant's bodies this node decodes at once
// (Config.TenantDecoders, default 1). Decoding a wide body is milliseconds of
// one goroutine's CPU, and Go preempts a running goroutine only after 10 ms:
// with two of a tenant's bodies decoding on a two-core machine, every other
// tenant's goroutines (the follower, the hub, their sockets' writers) wait
// for a core (bench/results/2026-12-06-neighbours.md). With one at a time, a
// tenant's decoding takes at most one P and another tenant's work always has
// one. A request waits for its tenant's slot after its rate was spent and its
// body read; how many wait is bounded by that rate (and its hold).
type decoders struct {
	per  int           // slots per tenant; ≤ 0: no bound
	wait time.Duration // longest wait for a slot
	// waits counts requests that had to wait, as they start to.
	waits *metrics.Value

	mu      sync.Mutex
	tenants map[string]*decodeSlots
}

type decodeSlots struct {
	ch    chan struct{}
	users int // holding or waiting; the entry goes when none
}

// decodeWait is how long a body waits for its tenant's decode slot before
// the request is answered 503: far longer than any body takes to decode,
// so only a stuck slot would reach it.
const decodeWait = 10 * time.Second

// acquire waits for one of tenant's slots; release must be called after the
// decode. ok is false when ctx ended or the wait reached d.wait.
func (d *decoders) acquire(ctx context.Context, tenant string) (release func(), ok bool) {
	if d == nil || d.per <= 0 {
		return func() {}, true
	}
	d.mu.Lock()
	s := d.tenants[tenant]
	if s == nil {
		s = &decodeSlots{ch: make(chan struct{}, d.per)}
		d.tenants[tenant] = s
	}
	s.users++
	d.mu.Unlock()
	leave := func() {
		d.mu.Lock()
		s.users--
		if s.users == 0 {
			delete(d.tenants, tenant)
		}
		d.mu.Unlock()
	}
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; leave() }, true
	default:
	}
	if d.waits != nil {
		d.waits.Inc()
	}
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; leave() }, true
	case <-ctx.Done():
	case <-t.C:
	}
	leave()
	return nil, false
}

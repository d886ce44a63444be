package ingest

import (
	"context"
	"math"
	"sync"
	"time"
)

// holdPerTenant is how many of one tenant's requests may wait for its
// budget at once (Config.TenantHold); more get 429 at once. A producer's
// few connections fit; many connections cannot make the server hold many.
const holdPerTenant = 4

// Rate is one tenant's own ingest rate (Config.TenantRates), in body bytes:
// Rate a second after a burst of Burst. A zero field keeps the server's
// (Config.TenantRate, Config.TenantBurst); a burst is never less than
// Config.MaxBytes, so a largest body always fits an idle budget.
type Rate struct {
	Rate  float64
	Burst int64
}

// rates is each tenant's ingest budget in body bytes: a token bucket of
// Config.TenantBurst bytes refilled at Config.TenantRate bytes a second, or
// the tenant's own Rate. A tenant past it gets 429 with Retry-After, so one
// tenant's producers cannot take the store, the hub and the CPU from the
// others (the noisy-neighbour benchmark: B's latency beside an unbounded A).
// Tenants come only from verified keys, so the table is as small as the key
// list.
type rates struct {
	rate, burst float64
	hold        time.Duration // longest wait for the budget instead of 429
	sleep       func(ctx context.Context, d time.Duration) error
	tenants     map[string]Rate // overrides, read-only after New
	minBurst    float64         // Config.MaxBytes
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bytesBucket
}

type bytesBucket struct {
	tokens float64 // below zero while held requests have spent ahead
	last   time.Time
	held   int
}

// limit is tenant's rate and burst; a rate ≤ 0 is no limit.
func (r *rates) limit(tenant string) (rate, burst float64) {
	rate, burst = r.rate, r.burst
	if o, ok := r.tenants[tenant]; ok {
		if o.Rate > 0 {
			rate = o.Rate
		}
		if o.Burst > 0 {
			burst = max(float64(o.Burst), r.minBurst)
		}
	}
	return rate, burst
}

// take spends n bytes of tenant's budget. Past it, a request whose bytes
// the budget holds within r.hold is held for them instead (spent ahead:
// the bucket goes below zero, and the next request waits for that too),
// so that a producer over its rate is paced evenly, as the rate says,
// rather than refused and back with a burst a whole-second Retry-After
// later. Otherwise take says how long until the budget holds n (nothing is
// spent then). hold is how long the caller must wait before going on;
// done, when not nil, must be called after it.
func (r *rates) take(tenant string, n int64) (ok bool, hold time.Duration, done func(), retry time.Duration) {
	if r == nil {
		return true, 0, nil, 0
	}
	rate, burst := r.limit(tenant)
	if rate <= 0 {
		return true, 0, nil, 0
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[tenant]
	if b == nil {
		b = &bytesBucket{tokens: burst, last: now}
		r.buckets[tenant] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	need := float64(n)
	if b.tokens >= need {
		b.tokens -= need
		return true, 0, nil, 0
	}
	wait := time.Duration(math.Ceil((need - b.tokens) / rate * float64(time.Second)))
	if wait <= r.hold && b.held < holdPerTenant {
		b.tokens -= need
		b.held++
		return true, wait, func() {
			r.mu.Lock()
			b.held--
			r.mu.Unlock()
		}, 0
	}
	return false, 0, nil, wait
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

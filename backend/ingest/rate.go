package ingest

import (
	"math"
	"sync"
	"time"
)

// rates is each tenant's ingest budget in body bytes: a token bucket of
// Config.TenantBurst bytes refilled at Config.TenantRate bytes a second. A
// tenant past it gets 429 with Retry-After, so one tenant's producers cannot
// take the store, the hub and the CPU from the others (the noisy-neighbour
// benchmark: B's latency beside an unbounded A). Tenants come only from
// verified keys, so the table is as small as the key list.
type rates struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bytesBucket
}

type bytesBucket struct {
	tokens float64
	last   time.Time
}

// take spends n bytes of tenant's budget, or says how long until it holds
// them (nothing is spent then).
func (r *rates) take(tenant string, n int64) (bool, time.Duration) {
	if r == nil || r.rate <= 0 {
		return true, 0
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[tenant]
	if b == nil {
		b = &bytesBucket{tokens: r.burst, last: now}
		r.buckets[tenant] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	if need := float64(n); b.tokens < need {
		return false, time.Duration(math.Ceil((need - b.tokens) / r.rate * float64(time.Second)))
	}
	b.tokens -= float64(n)
	return true, 0
}

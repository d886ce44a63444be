package ingest

import (
	"math"
	"sync"
	"time"
)

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
	tenants     map[string]Rate // overrides, read-only after New
	minBurst    float64         // Config.MaxBytes
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bytesBucket
}

type bytesBucket struct {
	tokens float64
	last   time.Time
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

// take spends n bytes of tenant's budget, or says how long until it holds
// them (nothing is spent then).
func (r *rates) take(tenant string, n int64) (bool, time.Duration) {
	if r == nil {
		return true, 0
	}
	rate, burst := r.limit(tenant)
	if rate <= 0 {
		return true, 0
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
	if need := float64(n); b.tokens < need {
		return false, time.Duration(math.Ceil((need - b.tokens) / rate * float64(time.Second)))
	}
	b.tokens -= float64(n)
	return true, 0
}

package metrics

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// OtherTenant is the tenant label of every tenant outside the top N.
const OtherTenant = "other"

// TopTenants bounds a tenant label's values: the N tenants with the most
// volume (events, say) carry their own name, every other one is "other",
// so a metric's series do not grow with the number of tenants. Volume
// decays by half at every ranking (every Every), so the top follows who is
// busy now; a tenant that leaves it is handed to OnDrop, whose series the
// caller removes: at most N+1 label values exist at a time.
//
// Label is on the hub's path (once per publish): a known tenant costs a
// sync.Map read and two atomic adds, no lock; the lock is taken for a
// tenant's first event and for a ranking.
type TopTenants struct {
	// N is how many tenants carry their own label; zero means 20.
	N int
	// Every is how often the tenants are ranked; zero means 10s.
	Every time.Duration
	// OnDrop is called, without TopTenants' lock, with each tenant that
	// left the top N.
	OnDrop func(tenant string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	tenants sync.Map // name → *tenantVolume
	calls   atomic.Uint32

	mu     sync.Mutex // adding a tenant, ranking
	count  int        // tenants in the map
	in     int        // of them, in the top
	ranked time.Time
}

type tenantVolume struct {
	vol atomic.Int64
	in  atomic.Bool
}

// maxTracked bounds how many tenants' volumes are kept between rankings:
// past it, a new tenant is labelled other without being tracked until a
// ranking forgets the quiet ones.
const maxTracked = 100_000

// Label counts n of tenant's volume and returns the label it carries.
func (t *TopTenants) Label(tenant string, n int) string {
	v, ok := t.tenants.Load(tenant)
	if !ok {
		v = t.add(tenant)
		if v == nil {
			return OtherTenant
		}
	}
	tv := v.(*tenantVolume)
	tv.vol.Add(int64(n))
	// The clock is read once in 64 calls.
	if t.calls.Add(1)%64 == 0 {
		t.maybeRank()
	}
	if tv.in.Load() {
		return tenant
	}
	return OtherTenant
}

// add tracks a new tenant, in the top at once while there is room.
func (t *TopTenants) add(tenant string) any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ranked.IsZero() {
		t.ranked = t.now()
	}
	if v, ok := t.tenants.Load(tenant); ok {
		return v
	}
	if t.count >= maxTracked {
		return nil
	}
	tv := &tenantVolume{}
	if t.in < t.n() {
		tv.in.Store(true)
		t.in++
	}
	t.tenants.Store(tenant, tv)
	t.count++
	return tv
}

func (t *TopTenants) maybeRank() {
	now := t.now()
	t.mu.Lock()
	if now.Sub(t.ranked) < cmp.Or(t.Every, 10*time.Second) {
		t.mu.Unlock()
		return
	}
	dropped := t.rank(now)
	t.mu.Unlock()
	if t.OnDrop != nil {
		for _, d := range dropped {
			t.OnDrop(d)
		}
	}
}

// rank keeps the N busiest tenants in the top, halves every volume and
// forgets tenants with none left outside the top, so the map holds only
// recent ones. It returns the tenants that left the top. t.mu is held.
func (t *TopTenants) rank(now time.Time) (dropped []string) {
	t.ranked = now
	type entry struct {
		name string
		tv   *tenantVolume
		vol  int64
	}
	var all []entry
	t.tenants.Range(func(k, v any) bool {
		tv := v.(*tenantVolume)
		all = append(all, entry{k.(string), tv, tv.vol.Load()})
		return true
	})
	slices.SortFunc(all, func(a, b entry) int { return cmp.Or(cmp.Compare(b.vol, a.vol), cmp.Compare(a.name, b.name)) })
	t.in = 0
	for i, e := range all {
		top := i < t.n()
		if was := e.tv.in.Swap(top); was && !top {
			dropped = append(dropped, e.name)
		}
		if top {
			t.in++
		}
		e.tv.vol.Add(-e.vol / 2) // decay, keeping what was added meanwhile
		if !top && e.vol/2 == 0 {
			t.tenants.Delete(e.name)
			t.count--
		}
	}
	return dropped
}

func (t *TopTenants) n() int { return cmp.Or(t.N, 20) }

func (t *TopTenants) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

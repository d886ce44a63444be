package metrics

import (
	"cmp"
	"slices"
	"sync"
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

	mu     sync.Mutex
	vol    map[string]float64
	top    map[string]bool
	ranked time.Time
	calls  uint32
}

// Label counts n of tenant's volume and returns the label it carries.
func (t *TopTenants) Label(tenant string, n int) string {
	t.mu.Lock()
	if t.vol == nil {
		t.vol, t.top = map[string]float64{}, map[string]bool{}
		t.ranked = t.now()
	}
	t.vol[tenant] += float64(n)
	var dropped []string
	// The clock is read once in 64 calls: a label is asked for on every
	// publish.
	if t.calls++; t.calls%64 == 0 {
		if now := t.now(); now.Sub(t.ranked) >= cmp.Or(t.Every, 10*time.Second) {
			dropped = t.rank(now)
		}
	}
	in := t.top[tenant]
	if !in && len(t.top) < t.n() {
		t.top[tenant], in = true, true // room left: no need to wait for a ranking
	}
	t.mu.Unlock()
	for _, d := range dropped {
		if t.OnDrop != nil {
			t.OnDrop(d)
		}
	}
	if in {
		return tenant
	}
	return OtherTenant
}

// rank keeps the N busiest tenants in the top, decays every volume and
// forgets tenants with almost none, so the map holds only recent ones. It
// returns the tenants that left the top.
func (t *TopTenants) rank(now time.Time) (dropped []string) {
	t.ranked = now
	names := make([]string, 0, len(t.vol))
	for name := range t.vol {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(t.vol[b], t.vol[a]), cmp.Compare(a, b))
	})
	top := make(map[string]bool, t.n())
	for _, name := range names[:min(len(names), t.n())] {
		top[name] = true
	}
	for name := range t.top {
		if !top[name] {
			dropped = append(dropped, name)
		}
	}
	t.top = top
	for _, name := range names {
		if t.vol[name] /= 2; t.vol[name] < 0.01 && !top[name] {
			delete(t.vol, name)
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

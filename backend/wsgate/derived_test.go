package wsgate

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/aggregate"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// orderCount is a Computer that counts its source's events: enough to tell whose
// data an aggregate was computed from.
type orderCount struct {
	mu    sync.Mutex
	n     int
	dirty bool
}

func (c *orderCount) Add(*wire.Event) { c.mu.Lock(); c.n++; c.dirty = true; c.mu.Unlock() }
func (c *orderCount) Emit(now time.Time) []wire.Event {
	c.mu.Lock()
	dirty := c.dirty
	c.mu.Unlock()
	if !dirty {
		return nil
	}
	return c.Full(now)
}
func (c *orderCount) Full(time.Time) []wire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dirty = false
	return []wire.Event{{Values: map[string]float64{agg.Value: float64(c.n)}}}
}
func (c *orderCount) Late() uint64 { return 0 }
func (c *orderCount) Size() int    { return 8 }

// TestDerivedStreamAccess: a derived stream follows its source's access
// rule, and each tenant subscribing to the same derived name gets its own,
// computed from its own data.
func TestDerivedStreamAccess(t *testing.T) {
	orders, err := agg.Compile(agg.Def{Source: "orders", Fn: "count", Window: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := agg.Compile(agg.Def{Source: "orders", Fn: "count", Window: "2m"})
	if err != nil {
		t.Fatal(err)
	}
	var eng atomic.Pointer[aggregate.Engine]
	reg := metrics.New()
	h := hub.New(hub.Config{Metrics: reg, Tap: func(tenant string, evs []wire.Event) {
		if e := eng.Load(); e != nil {
			e.Tap(tenant, evs)
		}
	}})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	e := aggregate.NewEngine(aggregate.EngineConfig{Store: st, MaxPerTenant: 1, Tick: 5 * time.Millisecond,
		Specs: func(string) []*agg.Spec { return []*agg.Spec{orders, other} },
		New:   func(*agg.Spec) aggregate.Computer { return &orderCount{} }})
	eng.Store(e)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	g := New(Config{Hub: h, Metrics: reg, History: st, Derived: e,
		Authenticate: func(_ context.Context, tok string) (*auth.Principal, error) { return keys.Verify(tok) }})
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	token := func(tenant string, streams ...string) string {
		tok, err := keys.Mint(tenant, "alice", time.Hour, streams, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	publish := func(tenant string, n int) {
		evs := make([]wire.Event, n)
		for i := range evs {
			evs[i].Values = map[string]float64{"x": 1}
		}
		if err := st.Append(context.Background(), tenant, "orders", evs); err != nil {
			t.Fatal(err)
		}
	}
	// The value a session saw last of the derived stream.
	value := func(frames []wire.Frame) (float64, []wire.Error) {
		v := -1.0
		var errs []wire.Error
		for _, f := range frames {
			switch f := f.(type) {
			case wire.Snapshot:
				if x, ok := f.State.Values[agg.Value]; ok {
					v = x
				}
			case wire.Batch:
				for _, ev := range f.Events {
					if x, ok := ev.Values[agg.Value]; ok {
						v = x
					}
				}
			case wire.Error:
				errs = append(errs, f)
			}
		}
		return v, errs
	}
	// acme has 5 orders, globex 3.
	publish("acme", 5)
	publish("globex", 3)

	for _, tc := range []struct {
		name   string
		token  string
		stream string
		value  float64
		code   wire.Code
	}{
		{"allowed every stream", token("acme"), orders.Stream(), 5, 0},
		{"allowed the source only", token("acme", "orders"), orders.Stream(), 5, 0},
		{"the other tenant, same name: its own data", token("globex", "ord*"), orders.Stream(), 3, 0},
		{"not allowed the source", token("acme", "fleet.*"), orders.Stream(), -1, wire.CodeForbidden},
		{"not allowed the source, other tenant", token("globex", "fleet.*"), orders.Stream(), -1, wire.CodeForbidden},
		{"no such aggregate", token("acme"), "agg.0011223344556677", -1, wire.CodeUnknownStream},
		{"m4 bucket off the ladder", token("acme"), "m4.7.orders", -1, wire.CodeUnknownStream},
		{"over the tenant's cap", token("acme"), other.Stream(), -1, wire.CodeQuota},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				v    float64
				errs []wire.Error
			)
			deadline := time.Now().Add(5 * time.Second)
			for {
				frames, _, err := session(t, url, tc.token, 300*time.Millisecond, wire.Sub{Stream: tc.stream})
				if err != nil {
					t.Fatal(err)
				}
				v, errs = value(frames)
				if tc.code != 0 || v == tc.value || time.Now().After(deadline) {
					break
				}
			}
			if tc.code != 0 {
				if len(errs) != 1 || errs[0].Code != tc.code || errs[0].Stream != tc.stream {
					t.Fatalf("got errors %+v, want one of code %d for %s", errs, tc.code, tc.stream)
				}
				if v != -1 {
					t.Fatalf("got value %v, want none", v)
				}
				return
			}
			if len(errs) > 0 || v != tc.value {
				t.Fatalf("got value %v errors %+v, want %v", v, errs, tc.value)
			}
		})
	}
	// A refresh to a token without the source ends the subscription.
	r := dial(t, url)
	r.send(wire.Hello{Token: token("acme", "orders")})
	r.send(wire.Sub{Stream: orders.Stream()})
	r.send(wire.Refresh{Token: token("acme", "fleet.*")})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no forbidden error after the narrowing refresh")
		}
		f, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := f.(wire.Error); ok {
			if e.Code != wire.CodeForbidden || e.Stream != orders.Stream() {
				t.Fatalf("got %+v, want forbidden for %s", e, orders.Stream())
			}
			break
		}
	}
}

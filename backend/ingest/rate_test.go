package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/memstore"
)

// TestTenantOverItsRateIsRefused: a tenant that sends more body bytes than
// its rate allows gets 429 with Retry-After and nothing is stored, while
// another tenant's batches go on; the budget refills with time. (Holding is
// off here: TestOverRateIsHeldThenRefused covers it.)
func TestTenantOverItsRateIsRefused(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.Config{})
	h := New(Config{Store: st, Keys: StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b"}, MaxBytes: 64 << 10, TenantRate: 32 << 10, TenantBurst: 64 << 10, TenantHold: -1})
	now := time.Unix(1000, 0)
	h.rates.now = func() time.Time { return now }
	body := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"events":[{"stream":"s","row":{"key":"k","fields":{"pad":%q}}}]}`, bytes.Repeat([]byte("x"), n)))
	}
	chunked := false // no declared length: the rate is spent once the body is read
	post := func(key string, b []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(b))
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	big := body(30 << 10) // ~30 KiB: two fit the 64 KiB burst, the third does not
	for i := range 2 {
		if w := post("key-a", big); w.Code != http.StatusOK {
			t.Fatalf("A's batch %d within its burst: got %d %s, want 200", i, w.Code, w.Body)
		}
	}
	w := post("key-a", big)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("A past its burst: got %d %s, want 429", w.Code, w.Body)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", w.Header().Get("Retry-After"))
	}
	chunked = true
	if w := post("key-a", big); w.Code != http.StatusTooManyRequests {
		t.Fatalf("A past its burst, body of no declared length: got %d %s, want 429", w.Code, w.Body)
	}
	chunked = false
	if c, _ := st.Read(t.Context(), "tenant-a", "s", 0, 10); len(c) != 2 {
		t.Fatalf("A has %d events stored, want the 2 accepted (the refused one stored nothing)", len(c))
	}
	if w := post("key-b", big); w.Code != http.StatusOK {
		t.Fatalf("B beside A over its rate: got %d %s, want 200", w.Code, w.Body)
	}
	now = now.Add(time.Second) // 32 KiB more of A's budget
	if w := post("key-a", big); w.Code != http.StatusOK {
		t.Fatalf("A a second later: got %d %s, want 200", w.Code, w.Body)
	}
}

// TestTenantRateOverride: a tenant given its own lower rate and burst
// (Config.TenantRates) is refused sooner than the server's rate would, its
// Retry-After and message follow its own rate, and the other tenants keep
// the server's; a tenant's own rate holds even with the server's rate off,
// and a burst below the largest body is raised to it.
func TestTenantRateOverride(t *testing.T) {
	t.Parallel()
	body := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"events":[{"stream":"s","row":{"key":"k","fields":{"pad":%q}}}]}`, bytes.Repeat([]byte("x"), n)))
	}
	keys := StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b", "key-c": "tenant-c"}
	tests := []struct {
		name       string
		rate       float64
		burst      int64
		tenants    map[string]Rate
		wantA      int    // A's 10 KiB batches accepted before the first 429
		wantB      int    // B's (and C's), out of 12
		wantRetry  string // A's Retry-After at its first 429
		wantInBody string
	}{
		{"lower rate and burst for A", 64 << 10, 128 << 10, map[string]Rate{"tenant-a": {Rate: 1 << 10, Burst: 32 << 10}}, 3, 12, "9", "1024 bytes/s (burst 32768)"},
		{"A's own burst, the server's rate", 64 << 10, 128 << 10, map[string]Rate{"tenant-a": {Burst: 48 << 10}}, 4, 12, "1", "65536 bytes/s (burst 49152)"},
		{"A's own rate with the server's off", -1, 0, map[string]Rate{"tenant-a": {Rate: 2 << 10, Burst: 32 << 10}}, 3, 12, "5", "2048 bytes/s"},
		{"a burst below the largest body is raised to it", 64 << 10, 128 << 10, map[string]Rate{"tenant-a": {Rate: 1 << 10, Burst: 1}}, 1, 12, "", "burst 16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New(memstore.Config{})
			h := New(Config{Store: st, Keys: keys, MaxBytes: 16 << 10, TenantRate: tt.rate, TenantBurst: tt.burst, TenantRates: tt.tenants, TenantHold: -1})
			now := time.Unix(1000, 0)
			h.rates.now = func() time.Time { return now }
			post := func(key string, b []byte) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}
			big := body(10 << 10)
			accepted := func(key string) (int, *httptest.ResponseRecorder) {
				for i := range 12 {
					w := post(key, big)
					if w.Code == http.StatusTooManyRequests {
						return i, w
					}
					if w.Code != http.StatusOK {
						t.Fatalf("%s batch %d: got %d %s, want 200 or 429", key, i, w.Code, w.Body)
					}
				}
				return 12, nil
			}
			gotA, refused := accepted("key-a")
			if gotA != tt.wantA || refused == nil {
				t.Fatalf("A: got %d batches before a 429 (refused: %v), want %d then a 429", gotA, refused != nil, tt.wantA)
			}
			if tt.wantRetry != "" && refused.Header().Get("Retry-After") != tt.wantRetry {
				t.Fatalf("A's Retry-After: got %q, want %q", refused.Header().Get("Retry-After"), tt.wantRetry)
			}
			if !strings.Contains(refused.Body.String(), tt.wantInBody) {
				t.Fatalf("A's 429: got %s, want it to say %q", refused.Body, tt.wantInBody)
			}
			for _, key := range []string{"key-b", "key-c"} {
				if got, _ := accepted(key); got != tt.wantB {
					t.Fatalf("%s beside A: got %d batches accepted, want %d (the server's rate)", key, got, tt.wantB)
				}
			}
		})
	}
}

// TestOverRateIsHeldThenRefused: a request past its tenant's rate whose
// bytes the budget holds within TenantHold waits for them (spent ahead) and
// is stored, so a producer over its rate is paced rather than refused; one
// that would wait longer, counting what held requests spent ahead, gets 429;
// and no more than holdPerTenant of a tenant's requests wait at once.
func TestOverRateIsHeldThenRefused(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.Config{})
	h := New(Config{Store: st, Keys: StaticKeys{"key-a": "tenant-a"}, MaxBytes: 64 << 10, TenantRate: 32 << 10, TenantBurst: 64 << 10})
	now := time.Unix(1000, 0)
	h.rates.now = func() time.Time { return now }
	var held []time.Duration
	h.rates.sleep = func(_ context.Context, d time.Duration) error { held = append(held, d); return nil }
	big := []byte(fmt.Sprintf(`{"events":[{"stream":"s","row":{"key":"k","fields":{"pad":%q}}}]}`, bytes.Repeat([]byte("x"), 30<<10)))
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(big))
		req.Header.Set("Authorization", "Bearer key-a")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for i := range 2 {
		if w := post(); w.Code != http.StatusOK || len(held) != 0 {
			t.Fatalf("batch %d within the burst: got %d, held %v, want 200 at once", i, w.Code, held)
		}
	}
	// ~4 KiB left of 64: the third needs ~26 KiB more, 0.8 s at 32 KiB/s.
	if w := post(); w.Code != http.StatusOK || len(held) != 1 || held[0] < 700*time.Millisecond || held[0] > time.Second {
		t.Fatalf("3rd batch, 0.8 s of budget short: got %d, held %v, want 200 after a hold of ~0.8 s", w.Code, held)
	}
	// It spent ahead: the 4th would wait ~1.8 s, past the 1 s hold.
	w := post()
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || len(held) != 1 {
		t.Fatalf("4th batch, 1.8 s short: got %d, Retry-After %q, held %v, want 429 at once with Retry-After 2", w.Code, w.Header().Get("Retry-After"), held)
	}
	now = now.Add(time.Second)
	if w := post(); w.Code != http.StatusOK || len(held) != 2 {
		t.Fatalf("a second later, 0.8 s short: got %d, held %v, want 200 after a hold", w.Code, held)
	}
	if c, _ := st.Read(t.Context(), "tenant-a", "s", 0, 10); len(c) != 4 {
		t.Fatalf("got %d events stored, want the 4 accepted", len(c))
	}

	// At most holdPerTenant wait at once.
	r := &rates{rate: 1000, burst: 1000, hold: 10 * time.Second, now: func() time.Time { return now }, buckets: map[string]*bytesBucket{}}
	if ok, hold, _, _ := r.take("a", 1000); !ok || hold != 0 {
		t.Fatalf("within the burst: got ok %v hold %v, want ok at once", ok, hold)
	}
	var dones []func()
	for i := range holdPerTenant {
		ok, hold, done, _ := r.take("a", 100)
		if !ok || hold != time.Duration(i+1)*100*time.Millisecond {
			t.Fatalf("held request %d: got ok %v hold %v, want held %v", i, ok, hold, time.Duration(i+1)*100*time.Millisecond)
		}
		dones = append(dones, done)
	}
	if ok, _, _, retry := r.take("a", 100); ok || retry != 500*time.Millisecond {
		t.Fatalf("with %d held: got ok %v retry %v, want refused, retry 500ms", holdPerTenant, ok, retry)
	}
	if ok, hold, _, _ := r.take("b", 100); !ok || hold != 0 {
		t.Fatalf("another tenant: got ok %v hold %v, want ok at once", ok, hold)
	}
	dones[0]()
	if ok, hold, _, _ := r.take("a", 100); !ok || hold != 500*time.Millisecond {
		t.Fatalf("one hold done: got ok %v hold %v, want held 500ms", ok, hold)
	}
}

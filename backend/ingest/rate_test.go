package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/memstore"
)

// TestTenantOverItsRateIsRefused: a tenant that sends more body bytes than
// its rate allows gets 429 with Retry-After and nothing is stored, while
// another tenant's batches go on; the budget refills with time.
func TestTenantOverItsRateIsRefused(t *testing.T) {
	st := memstore.New(memstore.Config{})
	h := New(Config{Store: st, Keys: StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b"}, MaxBytes: 64 << 10, TenantRate: 32 << 10, TenantBurst: 64 << 10})
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

package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/internal/poll"
)

// TestOneBodyOfATenantDecodesAtATime: while one of tenant A's bodies is
// being decoded, A's next waits for it (and is counted), and tenant B's is
// decoded and stored at once; a request that gives up while waiting stores
// nothing; the table of slots empties when no body is decoding.
func TestOneBodyOfATenantDecodesAtATime(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.Config{})
	h := New(Config{Store: st, Keys: StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b"}})
	post := func(ctx context.Context, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/ingest", bytes.NewReader([]byte(`{"events":[{"stream":"s","values":{"x":1}}]}`)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	// A body of A's is decoding.
	release, ok := h.decoders.acquire(t.Context(), "tenant-a")
	if !ok || h.decoders.waits.Load() != 0 {
		t.Fatalf("the first of A's bodies: got ok %v after %d waits, want a slot at once", ok, h.decoders.waits.Load())
	}
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- post(t.Context(), "key-a") }()
	poll.Until(t, 5*time.Second, func() error {
		if n := h.decoders.waits.Load(); n != 1 {
			return fmt.Errorf("%d requests waited, want A's second", n)
		}
		return nil
	})
	if w := post(t.Context(), "key-b"); w.Code != http.StatusOK {
		t.Fatalf("B while A decodes: got %d %s, want 200 at once", w.Code, w.Body)
	}
	select {
	case w := <-answered:
		t.Fatalf("A's second body was answered %d while A's first was decoding, want it to wait", w.Code)
	default:
	}
	// A request that gives up while it waits stores nothing.
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan *httptest.ResponseRecorder, 1)
	go func() { gaveUp <- post(ctx, "key-a") }()
	poll.Until(t, 5*time.Second, func() error {
		if n := h.decoders.waits.Load(); n != 2 {
			return fmt.Errorf("%d requests waited, want 2", n)
		}
		return nil
	})
	cancel()
	if w := <-gaveUp; w.Code != http.StatusServiceUnavailable {
		t.Fatalf("A's request ended while waiting: got %d %s, want 503", w.Code, w.Body)
	}
	release()
	if w := <-answered; w.Code != http.StatusOK {
		t.Fatalf("A's second body once the first was done: got %d %s, want 200", w.Code, w.Body)
	}
	if evs, _ := st.Read(t.Context(), "tenant-a", "s", 0, 10); len(evs) != 1 {
		t.Fatalf("A has %d events stored, want 1 (the request that gave up stored nothing)", len(evs))
	}
	h.decoders.mu.Lock()
	n := len(h.decoders.tenants)
	h.decoders.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d tenants hold decode slots with nothing decoding, want 0", n)
	}
}

// TestDecodersUnbounded: a negative TenantDecoders lets a tenant's bodies
// decode at once.
func TestDecodersUnbounded(t *testing.T) {
	t.Parallel()
	h := New(Config{Store: memstore.New(memstore.Config{}), Keys: StaticKeys{}, TenantDecoders: -1})
	for range 3 {
		if _, ok := h.decoders.acquire(t.Context(), "tenant-a"); !ok || h.decoders.waits.Load() != 0 {
			t.Fatalf("got ok %v after %d waits, want no bound", ok, h.decoders.waits.Load())
		}
	}
	d := &decoders{per: 1, wait: time.Millisecond, tenants: make(map[string]*decodeSlots)}
	if _, ok := d.acquire(t.Context(), "t"); !ok {
		t.Fatal("got no slot, want the first")
	}
	if _, ok := d.acquire(t.Context(), "t"); ok {
		t.Fatal("got a second slot, want it refused past the longest wait")
	}
}

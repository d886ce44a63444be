package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/shared/wire"
)

func setup(t *testing.T) (*Handler, *memstore.Store) {
	t.Helper()
	st := memstore.New(memstore.Config{})
	return New(Config{Store: st, Keys: StaticKeys{"k-acme": "acme"}, MaxBytes: 64 << 10, MaxEvents: 5}), st
}

func post(h http.Handler, contentType, key string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", strings.NewReader(string(body)))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIngestAccepts(t *testing.T) {
	t.Parallel()
	h, st := setup(t)
	body := `{"events":[
		{"stream":"orders","values":{"orders_today":5}},
		{"stream":"metrics","points":{"ts":[1,2],"cols":[{"name":"a","vals":[1,2]}]}},
		{"stream":"orders","row":{"key":"o-1","op":"insert","fields":{"status":"new"}}}]}`
	rec := post(h, "application/json", "k-acme", []byte(body))
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	want := []Assigned{{Stream: "orders", Seq: 1}, {Stream: "metrics", Seq: 1}, {Stream: "orders", Seq: 2}}
	if resp.Accepted != 3 || len(resp.Events) != 3 {
		t.Fatalf("got %+v, want 3 accepted", resp)
	}
	for i, w := range want {
		if got := resp.Events[i]; got.Stream != w.Stream || got.Seq != w.Seq || got.Epoch == 0 {
			t.Fatalf("event %d: got %+v, want %s seq %d with an epoch", i, got, w.Stream, w.Seq)
		}
	}
	// The key decided the tenant.
	if evs, _ := st.Read(context.Background(), "acme", "orders", 0, 10); len(evs) != 2 || evs[1].Row.Key != "o-1" {
		t.Fatalf("acme/orders holds %+v, want the two events", evs)
	}
}

func TestIngestMsgpack(t *testing.T) {
	t.Parallel()
	h, _ := setup(t)
	b, err := msgpack.Marshal(Request{Events: []Event{{Stream: "orders", Values: map[string]float64{"x": 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "application/msgpack", "k-acme", b); rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	hostile := []byte{0x81, 0xa6, 'e', 'v', 'e', 'n', 't', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}
	if rec := post(h, "application/msgpack", "k-acme", hostile); rec.Code != http.StatusBadRequest {
		t.Fatalf("hostile msgpack: got %d %s, want 400", rec.Code, rec.Body)
	}
}

func TestIngestRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		key         string
		body        string
		status      int
		message     string
	}{
		{"no key", "application/json", "", `{"events":[]}`, 401, "Authorization: Bearer"},
		{"unknown key", "application/json", "nope", `{"events":[]}`, 401, "unknown or revoked"},
		{"content type", "text/plain", "k-acme", `x`, 415, "application/json or application/msgpack"},
		{"malformed", "application/json", "k-acme", `{"events":[`, 400, "malformed JSON"},
		{"unknown field", "application/json", "k-acme", `{"events":[{"stream":"a","valuse":{"x":1}}]}`, 400, "valuse"},
		{"empty", "application/json", "k-acme", `{"events":[]}`, 400, "no events"},
		{"too many", "application/json", "k-acme", `{"events":[{"stream":"a","values":{"x":1}},{"stream":"a","values":{"x":1}},{"stream":"a","values":{"x":1}},{"stream":"a","values":{"x":1}},{"stream":"a","values":{"x":1}},{"stream":"a","values":{"x":1}}]}`, 413, "at most 5"},
		{"too big", "application/json", "k-acme", `{"events":[{"stream":"a","row":{"key":"k","fields":{"pad":"` + strings.Repeat("x", 70<<10) + `"}}}]}`, 413, "over 65536 bytes"},
		{"bad stream", "application/json", "k-acme", `{"events":[{"stream":"../x","values":{"x":1}}]}`, 400, "events[0]: stream"},
		{"derived stream", "application/json", "k-acme", `{"events":[{"stream":"agg.0011223344556677","values":{"value":1}}]}`, 400, "names starting agg. or m4. are the server's derived streams"},
		{"m4 stream", "application/json", "k-acme", `{"events":[{"stream":"m4.1000.cpu","points":{"ts":[1],"cols":[]}}]}`, 400, "derived streams"},
		{"reserved stream", "application/json", "k-acme", `{"events":[{"stream":"telltale.dashboards","row":{"key":"ops","fields":{"version":9}}}]}`, 400, "names starting telltale. are the server's own streams"},
		{"nothing carried", "application/json", "k-acme", `{"events":[{"stream":"a"}]}`, 400, "carries nothing"},
		{"misaligned points", "application/json", "k-acme", `{"events":[{"stream":"a","points":{"ts":[1,2,3],"cols":[{"name":"p","vals":[1,2]}]}}]}`, 400, "events[0]: points.cols[0] (p) has 2 values for 3 timestamps"},
		{"unsorted points", "application/json", "k-acme", `{"events":[{"stream":"a","points":{"ts":[2,1],"cols":[]}}]}`, 400, "not ascending"},
		{"bad op", "application/json", "k-acme", `{"events":[{"stream":"a","row":{"key":"k","op":"explode"}}]}`, 400, "row.op"},
		{"row without key", "application/json", "k-acme", `{"events":[{"stream":"a","row":{"fields":{}}}]}`, 400, "row.key"},
		{"NUL in key", "application/json", "k-acme", `{"events":[{"stream":"a","row":{"key":"a\u0000b"}}]}`, 400, "without NUL"},
		{"NUL in field", "application/json", "k-acme", `{"events":[{"stream":"a","row":{"key":"k","fields":{"n":{"deep":["x\u0000"]}}}}]}`, 400, "row.fields.n.deep[0] contains a NUL"},
		{"time out of range", "application/json", "k-acme", `{"events":[{"stream":"a","time":9400000000000000,"values":{"x":1}}]}`, 400, "between 1970 and 2248"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := setup(t)
			rec := post(h, tt.contentType, tt.key, []byte(tt.body))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.message) {
				t.Fatalf("got %d %s, want %d containing %q", rec.Code, rec.Body, tt.status, tt.message)
			}
		})
	}
}

// TestRejectedBatchStoresNothing: one bad event rejects the whole batch.
func TestRejectedBatchStoresNothing(t *testing.T) {
	t.Parallel()
	h, st := setup(t)
	body := `{"events":[{"stream":"orders","values":{"x":1}},{"stream":"metrics","values":{"x":1}},{"stream":"orders","row":{"key":""}}]}`
	if rec := post(h, "application/json", "k-acme", []byte(body)); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "events[2]") {
		t.Fatalf("got %d %s, want 400 naming events[2]", rec.Code, rec.Body)
	}
	for _, s := range []string{"orders", "metrics"} {
		if evs, _ := st.Read(context.Background(), "acme", s, 0, 10); len(evs) != 0 {
			t.Fatalf("%s holds %d events of a rejected batch", s, len(evs))
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/ingest", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: got %d Allow %q, want 405 POST", rec.Code, rec.Header().Get("Allow"))
	}
}

func FuzzIngestJSON(f *testing.F) {
	f.Add([]byte(`{"events":[{"stream":"a","values":{"x":1}}]}`))
	f.Add([]byte(`{"events":[{"stream":"a","points":{"ts":[1],"cols":[{"name":"p","vals":[1]}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _ := setup(t)
		rec := post(h, "application/json", "k-acme", b)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("got status %d for %q", rec.Code, b)
		}
	})
}

type failingKeys struct{}

func (failingKeys) Tenant(context.Context, string) (string, bool, error) {
	return "", false, errors.New("database is down")
}

func TestKeyLookupFailureIsNotUnauthorized(t *testing.T) {
	t.Parallel()
	h := New(Config{Store: memstore.New(memstore.Config{}), Keys: failingKeys{}})
	rec := post(h, "application/json", "k", []byte(`{"events":[{"stream":"a","values":{"x":1}}]}`))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503: a producer with a good key must retry, not give up", rec.Code, rec.Body)
	}
}

func TestNonFiniteFieldInMsgpackIsRefused(t *testing.T) {
	t.Parallel()
	h, _ := setup(t)
	b, err := msgpack.Marshal(map[string]any{"events": []any{map[string]any{"stream": "a", "row": map[string]any{"key": "k", "fields": map[string]any{"x": math.Inf(1)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "application/msgpack", "k-acme", b); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "row.fields.x is not a finite number") {
		t.Fatalf("got %d %s, want 400 naming row.fields.x", rec.Code, rec.Body)
	}
}

// TestIngestCannotReachAnotherTenant: one tenant's key cannot put a byte
// into another tenant's stream, whatever the stream name says.
func TestIngestCannotReachAnotherTenant(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.Config{})
	h := New(Config{Store: st, Keys: StaticKeys{"k-acme": "acme", "k-globex": "globex"}})
	for _, stream := range []string{"globex/orders", "../globex/orders", "globex:orders", "GLOBEX", "orders\x00globex"} {
		body := `{"events":[{"stream":` + strconvQuote(stream) + `,"values":{"mark":1}}]}`
		if rec := post(h, "application/json", "k-acme", []byte(body)); rec.Code != http.StatusBadRequest {
			t.Errorf("stream %q: got %d %s, want 400", stream, rec.Code, rec.Body)
		}
	}
	// A body cannot name a tenant either: the field is unknown.
	if rec := post(h, "application/json", "k-acme", []byte(`{"tenant":"globex","events":[{"stream":"orders","values":{"mark":1}}]}`)); rec.Code != http.StatusBadRequest {
		t.Errorf("tenant in body: got %d %s, want 400", rec.Code, rec.Body)
	}
	// The same name lands in the key's own tenant only.
	if rec := post(h, "application/json", "k-acme", []byte(`{"events":[{"stream":"orders","values":{"mark":1}}]}`)); rec.Code != http.StatusOK {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if evs, _ := st.Read(context.Background(), "globex", "orders", 0, 10); len(evs) != 0 {
		t.Fatalf("globex's orders holds %d events written with acme's key", len(evs))
	}
	if evs, _ := st.Read(context.Background(), "acme", "orders", 0, 10); len(evs) != 1 {
		t.Fatalf("acme's orders holds %d events, want 1", len(evs))
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzIngestMsgpack: any msgpack body gets 200, 400 or 413, never a panic or
// a 5xx, and never more allocation than the body justifies.
func FuzzIngestMsgpack(f *testing.F) {
	for _, r := range []Request{
		{Events: []Event{{Stream: "a", Values: map[string]float64{"x": 1}}}},
		{Events: []Event{{Stream: "a", Row: &wire.Row{Key: "k", Fields: map[string]any{"s": "v", "n": 1, "l": []any{1, "x"}}}}}},
	} {
		b, err := msgpack.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xa6, 'e', 'v', 'e', 'n', 't', 's', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(rowBody(f, map[string]any{"at": time.Unix(1, 0), "b": []byte{1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := setup(t)
		rec := post(h, "application/msgpack", "k-acme", b)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("got status %d for %x", rec.Code, b)
		}
		if rec.Code != 200 {
			return
		}
		// What was accepted can be sent: every stored event encodes.
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.Events {
			evs, _ := st.Read(context.Background(), "acme", a.Stream, a.Seq-1, 1)
			if len(evs) != 1 {
				t.Fatalf("%s/%d is not stored", a.Stream, a.Seq)
			}
			if _, err := wire.EncodeEvent(&evs[0]); err != nil {
				t.Fatalf("accepted %x, which does not encode: %v", b, err)
			}
		}
	})
}

func TestIngestOverTheStreamQuota(t *testing.T) {
	t.Parallel()
	st := memstore.New(memstore.Config{MaxStreamsPerTenant: 2})
	h := New(Config{Store: st, Keys: StaticKeys{"k-acme": "acme"}})
	body := `{"events":[{"stream":"a","values":{"x":1}},{"stream":"b","values":{"x":1}},{"stream":"c","values":{"x":1}}]}`
	rec := post(h, "application/json", "k-acme", []byte(body))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "limit of streams") {
		t.Fatalf("got %d %s, want 403 naming the limit", rec.Code, rec.Body)
	}
	for _, s := range []string{"a", "b", "c"} {
		if evs, _ := st.Read(context.Background(), "acme", s, 0, 10); len(evs) != 0 {
			t.Fatalf("%s holds events of a refused batch", s)
		}
	}
}

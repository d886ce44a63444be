package ingest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/wire"
)

// reader is what both stores give back to the hub and to resuming clients.
type reader interface {
	Store
	Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error)
}

// stores runs fn on each store Telltale can run on.
func stores(t *testing.T, fn func(t *testing.T, st reader)) {
	t.Run("memstore", func(t *testing.T) { fn(t, memstore.New(memstore.Config{})) })
	t.Run("pgstore", func(t *testing.T) {
		db := pgtest.New(t)
		if _, err := pgstore.Migrate(context.Background(), db.Pool); err != nil {
			t.Fatal(err)
		}
		fn(t, pgstore.New(pgstore.Config{Pool: db.Pool}))
	})
}

// rowBody is a msgpack ingest body of two events of stream s: a good one,
// then one whose row carries fields as given. Encoded field by field with
// msgpack/v5, as a producer using it would.
func rowBody(t testing.TB, fields map[string]any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(map[string]any{"events": []any{
		map[string]any{"stream": "s", "values": map[string]float64{"x": 1}},
		map[string]any{"stream": "s", "row": map[string]any{"key": "k", "fields": fields}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIngestRefusesValuesTheWireCannotCarry: a row field of a type the wire
// does not carry (a msgpack extension such as the timestamp, binary, a map
// with non-string keys) is refused at the door with a 400 naming the event
// and the field, and nothing of the batch is stored, on either store. Before,
// a timestamp was accepted and then broke the stream in the hub.
func TestIngestRefusesValuesTheWireCannotCarry(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		body    []byte
		message string
	}{
		{"timestamp ext", rowBody(t, map[string]any{"at": when}), "events[1]: row.fields.at: a timestamp"},
		{"timestamp ext nested", rowBody(t, map[string]any{"n": map[string]any{"l": []any{"ok", when}}}), "events[1]: row.fields.n.l[1]: a timestamp"},
		{"binary", rowBody(t, map[string]any{"blob": []byte{1, 2, 3}}), "events[1]: row.fields.blob: binary"},
		{"non-string keys", rowBody(t, map[string]any{"m": map[int]string{1: "a"}}), "events[1]: row.fields.m: a map key that is not a string"},
		{"unknown ext", func() []byte {
			b := rowBody(t, map[string]any{"e": "AAAAA"})
			// Turn the fixstr "AAAAA" (a5 and five bytes) into a fixext4 of
			// type 0x41 (d6, the type, four bytes): an extension no one
			// registered.
			i := strings.Index(string(b), "\xa5AAAAA")
			b[i] = 0xd6
			return b
		}(), "events[1]: row.fields.e: msgpack extension type 65"},
	}
	stores(t, func(t *testing.T, st reader) {
		h := New(Config{Store: st, Keys: StaticKeys{"k-acme": "acme"}})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := post(h, "application/msgpack", "k-acme", tt.body)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.message) {
					t.Fatalf("got %d %s, want 400 containing %q", rec.Code, rec.Body, tt.message)
				}
				if evs, err := st.Read(context.Background(), "acme", "s", 0, 10); err != nil || len(evs) != 0 {
					t.Fatalf("stream holds %d events (%v) of a refused batch", len(evs), err)
				}
			})
		}
	})
}

// TestIngestedValuesEncode: every value type ingest accepts comes back from
// either store as something the wire encodes, so what was accepted can always
// be sent.
func TestIngestedValuesEncode(t *testing.T) {
	t.Parallel()
	fields := map[string]any{
		"nil": nil, "t": true, "i": -3, "u": uint64(1 << 40), "f32": float32(1.5), "f": 2.25,
		"s": "text", "l": []any{1, "x", []any{false}}, "m": map[string]any{"deep": map[string]any{"n": 1}},
	}
	stores(t, func(t *testing.T, st reader) {
		h := New(Config{Store: st, Keys: StaticKeys{"k-acme": "acme"}})
		if rec := post(h, "application/msgpack", "k-acme", rowBody(t, fields)); rec.Code != http.StatusOK {
			t.Fatalf("msgpack: got %d %s, want 200", rec.Code, rec.Body)
		}
		json := `{"events":[{"stream":"s","row":{"key":"j","fields":{"n":null,"b":false,"f":1.5,"s":"x","l":[1,[2]],"m":{"a":{"b":1}}}}}]}`
		if rec := post(h, "application/json", "k-acme", []byte(json)); rec.Code != http.StatusOK {
			t.Fatalf("JSON: got %d %s, want 200", rec.Code, rec.Body)
		}
		evs, err := st.Read(context.Background(), "acme", "s", 0, 10)
		if err != nil || len(evs) != 3 {
			t.Fatalf("got %d events (%v), want 3", len(evs), err)
		}
		for i := range evs {
			if _, err := wire.EncodeEvent(&evs[i]); err != nil {
				t.Fatalf("event %d does not encode: %v", i, err)
			}
		}
	})
}

package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// server is ingest in front of a store whose events feed a hub, as the binary
// wires it; caught up waits until the hub holds what the store acknowledged
// (at once on the embedded store, after the follower on PostgreSQL).
type server struct {
	h        *hub.Hub
	ingest   http.Handler
	reg      *metrics.Registry
	pool     *pgxpool.Pool // PostgreSQL only
	stored   func(stream string) int
	caughtUp func(t *testing.T, stream string)
}

// caps are small enough that tests reach them in a few requests; acme's
// overrides widen two of them.
var (
	caps          = livestate.Limits{Points: 100, Series: 20, Keys: 30, RowFields: 8, RowBytes: 512}
	acmeOverrides = map[string]livestate.Limits{"acme": {Series: 40, RowBytes: 1024}}
)

func embedded(t *testing.T) *server {
	reg := metrics.New()
	h := hub.New(hub.Config{Limits: caps, TenantLimits: acmeOverrides, Metrics: reg})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	return &server{
		h: h, reg: reg,
		ingest: ingest.New(ingest.Config{Store: st, Keys: ingest.StaticKeys{"k-acme": "acme", "k-globex": "globex"}, Limits: h, Metrics: reg}),
		stored: func(stream string) int {
			evs, _ := st.Read(context.Background(), "acme", stream, 0, 1000)
			return len(evs)
		},
		caughtUp: func(*testing.T, string) {},
	}
}

func postgres(t *testing.T) *server {
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	reg := metrics.New()
	h := hub.New(hub.Config{Limits: caps, TenantLimits: acmeOverrides, Metrics: reg})
	pg := pgstore.New(pgstore.Config{Pool: db.Pool, Sink: h.Publish, Metrics: reg})
	done := make(chan error, 1)
	go func() { done <- pg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-pg.Ready()
	count := func(stream string) int {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM telltale.events WHERE tenant = 'acme' AND stream = $1`, stream).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return &server{
		h: h, reg: reg, pool: db.Pool,
		ingest: ingest.New(ingest.Config{Store: pg, Keys: ingest.StaticKeys{"k-acme": "acme", "k-globex": "globex"}, Limits: h, Metrics: reg}),
		stored: count,
		caughtUp: func(t *testing.T, stream string) {
			t.Helper()
			want := uint64(count(stream))
			poll.Until(t, 10*time.Second, func() error {
				if c, _ := h.Cursor("acme", stream); c.Seq != want {
					return fmt.Errorf("hub at seq %d, store at %d", c.Seq, want)
				}
				return nil
			})
		},
	}
}

func (s *server) post(key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	s.ingest.ServeHTTP(rec, req)
	return rec
}

func seriesBody(stream, prefix string, n int) string {
	cols := make([]string, n)
	for i := range cols {
		cols[i] = fmt.Sprintf(`{"name":"%s%d","vals":[1]}`, prefix, i)
	}
	return fmt.Sprintf(`{"events":[{"stream":%q,"points":{"ts":[1],"cols":[%s]}}]}`, stream, strings.Join(cols, ","))
}

func gaugeBody(stream, prefix string, n int) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf(`"%s%d":1`, prefix, i)
	}
	return fmt.Sprintf(`{"events":[{"stream":%q,"values":{%s}}]}`, stream, strings.Join(vals, ","))
}

func rowBody(stream string, fields int, pad int) string {
	f := make([]string, fields)
	for i := range f {
		f[i] = fmt.Sprintf(`"f%d":%q`, i, strings.Repeat("x", pad))
	}
	return fmt.Sprintf(`{"events":[{"stream":%q,"row":{"key":"r","fields":{%s}}}]}`, stream, strings.Join(f, ","))
}

// TestIngestPastEachCap fills a stream to each cap with accepted requests,
// then sends one more: it must be refused with 422 naming the cap, the stream
// and the limit, and nothing of it may be stored. acme's overrides apply to
// acme only.
func TestIngestPastEachCap(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name string
		open func(*testing.T) *server
	}{{"embedded", embedded}, {"postgres", postgres}} {
		t.Run(store.name, func(t *testing.T) {
			s := store.open(t)
			tests := []struct {
				name, stream string
				fill         []string // accepted, in order
				over         string
				cap          string
				limit        int
			}{
				{"series", "wide", []string{seriesBody("wide", "a", 25), seriesBody("wide", "b", 15)}, seriesBody("wide", "c", 1), livestate.CapSeries, 40},
				{"held series still fit", "wide2", []string{seriesBody("wide2", "a", 40), seriesBody("wide2", "a", 40)}, seriesBody("wide2", "z", 1), livestate.CapSeries, 40},
				{"gauge names", "gauges", []string{gaugeBody("gauges", "a", 20), gaugeBody("gauges", "b", 10)}, gaugeBody("gauges", "c", 1), livestate.CapKeys, 30},
				{"row fields", "rows", []string{rowBody("rows", 8, 1)}, rowBody("rows", 9, 1), livestate.CapRowFields, 8},
				{"row bytes", "rows2", []string{rowBody("rows2", 2, 400)}, rowBody("rows2", 2, 600), livestate.CapRowBytes, 1024},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					for i, b := range tt.fill {
						if rec := s.post("k-acme", b); rec.Code != http.StatusOK {
							t.Fatalf("fill %d: got %d %s, want 200", i, rec.Code, rec.Body)
						}
						s.caughtUp(t, tt.stream)
					}
					before := s.stored(tt.stream)
					rec := s.post("k-acme", tt.over)
					if rec.Code != http.StatusUnprocessableEntity {
						t.Fatalf("got %d %s, want 422 past the %s cap", rec.Code, rec.Body, tt.cap)
					}
					var got struct {
						Error, Cap, Stream string
						Limit              int
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
						t.Fatal(err)
					}
					if got.Cap != tt.cap || got.Stream != tt.stream || got.Limit != tt.limit ||
						!strings.Contains(got.Error, tt.cap) || !strings.Contains(got.Error, tt.stream) || !strings.Contains(got.Error, fmt.Sprint(tt.limit)) {
						t.Fatalf("got %+v, want cap %s, stream %s and limit %d named", got, tt.cap, tt.stream, tt.limit)
					}
					if after := s.stored(tt.stream); after != before {
						t.Fatalf("got %d events stored, want %d: a refused batch stores nothing", after, before)
					}
				})
			}
			// globex has the server's caps, not acme's overrides.
			if rec := s.post("k-globex", seriesBody("wide", "a", 25)); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"limit":20`) {
				t.Fatalf("globex: got %d %s, want 422 at the server's series cap of 20", rec.Code, rec.Body)
			}
			if n := s.reg.Lookup("telltale_ingest_over_cap_total").Load(); n != 6 {
				t.Fatalf("got %d refusals counted, want 6", n)
			}
		})
	}
}

// TestPublishPastTheCapsIsTrimmed publishes through SQL, which ingest does
// not see: the fold keeps the stream at its cap, counts the trim, and the
// stream keeps working.
func TestPublishPastTheCapsIsTrimmed(t *testing.T) {
	t.Parallel()
	s := postgres(t)
	ctx := context.Background()
	publish := func(body string) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, `SELECT telltale.publish('acme', 'sql', $1::jsonb)`, body); err != nil {
			t.Fatal(err)
		}
	}
	points := func(prefix string, n int, ts int) string {
		cols := make([]string, n)
		for i := range cols {
			cols[i] = fmt.Sprintf(`{"name":"%s%d","vals":[1]}`, prefix, i)
		}
		return fmt.Sprintf(`{"points":{"ts":[%d],"cols":[%s]}}`, ts, strings.Join(cols, ","))
	}
	publish(points("a", 100, 1)) // acme's cap is 40
	publish(points("a", 1, 2))   // a held series
	s.caughtUp(t, "sql")
	if n := s.reg.Lookup("telltale_hub_trimmed_events_total").Load(); n != 1 {
		t.Fatalf("got %d trimmed events counted, want 1", n)
	}
	snap, err := s.h.Snapshot("acme", "sql")
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.Decode(snap)
	if err != nil {
		t.Fatal(err)
	}
	got := f.(wire.Snapshot)
	if n := len(got.State.Points.Cols); n != 40 || got.Seq != 2 || len(got.State.Points.TS) != 2 {
		t.Fatalf("got %d series at seq %d with %d samples, want the cap of 40 at seq 2 with both samples", n, got.Seq, len(got.State.Points.TS))
	}
	// Ingest now refuses what would pass the cap, on the stream SQL filled.
	if rec := s.post("k-acme", seriesBody("sql", "new", 1)); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("got %d %s, want 422", rec.Code, rec.Body)
	}
}

// TestWidePointsMemoryBounded feeds one stream, already holding its kept
// window of samples, requests that each add many new series: the pattern
// that grew the heap by tens of times what was sent (each new series
// backfilled the whole window). Past the series cap ingest refuses, so the
// heap grows by a small multiple of the bytes accepted, however full the
// kept window is.
func TestWidePointsMemoryBounded(t *testing.T) {
	const window, series, perRequest, requests = 3000, 1000, 250, 40
	h := hub.New(hub.Config{Limits: livestate.Limits{Points: window, Series: series}})
	st := memstore.New(memstore.Config{Sink: h.Publish, Capacity: 100})
	s := &server{ingest: ingest.New(ingest.Config{Store: st, Keys: ingest.StaticKeys{"k-acme": "acme"}, Limits: h, MaxBytes: 8 << 20})}
	ts := make([]string, window)
	vals := make([]string, window)
	for i := range ts {
		ts[i], vals[i] = fmt.Sprint(i), "1"
	}
	seed := fmt.Sprintf(`{"events":[{"stream":"wide","points":{"ts":[%s],"cols":[{"name":"base","vals":[%s]}]}}]}`, strings.Join(ts, ","), strings.Join(vals, ","))
	if rec := s.post("k-acme", seed); rec.Code != http.StatusOK {
		t.Fatalf("seed: got %d %s", rec.Code, rec.Body)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sent, accepted, refused := 0, 0, 0
	for r := range requests {
		cols := make([]string, perRequest)
		for i := range cols {
			cols[i] = fmt.Sprintf(`{"name":"r%d-series-%d","vals":[1]}`, r, i)
		}
		body := fmt.Sprintf(`{"events":[{"stream":"wide","points":{"ts":[%d],"cols":[%s]}}]}`, window+r, strings.Join(cols, ","))
		sent += len(body)
		switch rec := s.post("k-acme", body); rec.Code {
		case http.StatusOK:
			accepted += len(body)
		case http.StatusUnprocessableEntity:
			refused++
		default:
			t.Fatalf("request %d: got %d %s", r, rec.Code, rec.Body)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The stated bound: 1 MiB plus 32 bytes of heap per byte accepted. The
	// hub's table grows by what the series bring, not by NaN for the kept
	// window behind each new series (dense, that was 24 MB here: 1,000
	// series × 3,000 rows × 8 bytes, for 27 KB accepted).
	bound := int64(1<<20) + 32*int64(accepted)
	t.Logf("sent %d bytes in %d requests (%d refused), accepted %d; heap grew %d bytes (%.1f per byte sent), bound %d",
		sent, requests, refused, accepted, growth, float64(growth)/float64(sent), bound)
	if refused == 0 {
		t.Fatalf("no request was refused past the series cap of %d", series)
	}
	if growth > bound {
		t.Fatalf("heap grew %d bytes for %d sent, want at most %d", growth, sent, bound)
	}
	runtime.KeepAlive(h)
	runtime.KeepAlive(st)
}

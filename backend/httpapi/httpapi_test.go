package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/shared/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	acmeMark   = "acme-only-marker"
	globexMark = "globex-only-marker"
)

type fixture struct {
	url   string
	keys  *auth.Keys
	hub   *hub.Hub
	store *memstore.Store
	guard *auth.Guard
	api   *API
}

func start(t *testing.T) *fixture {
	t.Helper()
	return startWith(t, Config{})
}

// startWith starts the API with cfg's limits (its Verify, Hub and History
// are the fixture's).
func startWith(t *testing.T, cfg Config) *fixture {
	t.Helper()
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	for tenant, mark := range map[string]string{"acme": acmeMark, "globex": globexMark} {
		for i := range 10 {
			ev := wire.Event{Values: map[string]float64{mark: float64(i)}}
			if err := st.Append(context.Background(), tenant, "orders", []wire.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	guard := auth.NewGuard(keys, st)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.Verify, cfg.Hub, cfg.History = guard.Verify, h, st
	api := New(cfg)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	t.Cleanup(api.Close) // first: held polls answer, then the server closes
	return &fixture{url: srv.URL, keys: keys, hub: h, store: st, guard: guard, api: api}
}

func (f *fixture) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestSnapshotAndEvents(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	status, b := f.get(t, "/api/v1/streams/orders/snapshot", tok)
	if status != http.StatusOK {
		t.Fatalf("snapshot: %d %s", status, b)
	}
	fr, err := wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	snap := fr.(wire.Snapshot)
	if snap.Seq != 10 || snap.State.Values[acmeMark] != 9 {
		t.Fatalf("got %+v, want acme's orders at seq 10", snap)
	}
	status, b = f.get(t, fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=4&limit=3", snap.Epoch), tok)
	if status != http.StatusOK {
		t.Fatalf("events: %d %s", status, b)
	}
	fr, err = wire.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	batch := fr.(wire.Batch)
	if len(batch.Events) != 3 || batch.Events[0].Seq != 5 || batch.Events[2].Seq != 7 {
		t.Fatalf("got %+v, want seqs 5..7", batch.Events)
	}
	// A cursor of another epoch, or ahead of the stream, must start over.
	for _, q := range []string{fmt.Sprintf("epoch=%d&after=4", snap.Epoch+1), fmt.Sprintf("epoch=%d&after=11", snap.Epoch)} {
		if status, b := f.get(t, "/api/v1/streams/orders/events?"+q, tok); status != http.StatusConflict {
			t.Fatalf("%s: got %d %s, want 409", q, status, b)
		}
	}
	if status, _ := f.get(t, "/api/v1/streams/orders/events?after=x", tok); status != http.StatusBadRequest {
		t.Fatalf("bad cursor: got %d, want 400", status)
	}
}

// TestCrossTenantHTTP: the HTTP snapshot and history of another tenant are
// out of reach whatever the path says, and no byte of it is ever answered.
func TestCrossTenantHTTP(t *testing.T) {
	t.Parallel()
	f := start(t)
	acme, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	fleetOnly, _ := f.keys.Mint("acme", "alice", time.Hour, []string{"fleet.*"}, "")
	other, _ := auth.HS256([]byte("another-secret-another-secret-00"))
	forged, _ := other.Mint("globex", "mallory", time.Hour, nil, "")
	globexCur, _ := f.hub.Cursor("globex", "orders")
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/api/v1/streams/orders/snapshot", "", http.StatusUnauthorized},
		{"token signed with another key", "/api/v1/streams/orders/snapshot", forged, http.StatusUnauthorized},
		{"upper case", "/api/v1/streams/ORDERS/snapshot", acme, http.StatusForbidden},
		{"encoded path to the other tenant", "/api/v1/streams/..%2Fglobex%2Forders/snapshot", acme, http.StatusForbidden},
		{"tenant key syntax", "/api/v1/streams/globex:orders/snapshot", acme, http.StatusForbidden},
		{"unicode", "/api/v1/streams/ord%C3%A9rs/snapshot", acme, http.StatusForbidden},
		{"very long", "/api/v1/streams/" + strings.Repeat("o", 5000) + "/snapshot", acme, http.StatusForbidden},
		{"outside the token's patterns", "/api/v1/streams/orders/snapshot", fleetOnly, http.StatusForbidden},
		{"history outside the patterns", "/api/v1/streams/orders/events?epoch=1&after=0", fleetOnly, http.StatusForbidden},
		{"window outside the patterns", "/api/v1/streams/orders/window?from=0&to=9&width=10", fleetOnly, http.StatusForbidden},
		{"window of an encoded path", "/api/v1/streams/..%2Fglobex%2Forders/window?from=0&to=9&width=10", acme, http.StatusForbidden},
		{"history with the other tenant's cursor", fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=2", globexCur.Epoch), acme, http.StatusOK},
		{"long-poll outside the patterns", "/api/v1/streams/orders/events?epoch=1&after=0&wait=20s", fleetOnly, http.StatusForbidden},
		{"long-poll without a token", "/api/v1/streams/orders/events?epoch=1&after=0&wait=20s", "", http.StatusUnauthorized},
		{"long-poll of an encoded path", "/api/v1/streams/..%2Fglobex%2Forders/events?epoch=1&after=0&wait=20s", acme, http.StatusForbidden},
		{"long-poll with the other tenant's cursor", fmt.Sprintf("/api/v1/streams/orders/events?epoch=%d&after=2&wait=20s", globexCur.Epoch), acme, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := f.get(t, tc.path, tc.token)
			if status != tc.want {
				t.Fatalf("got %d %s, want %d", status, b, tc.want)
			}
			if bytes.Contains(b, []byte(globexMark)) {
				t.Fatalf("globex data answered: %q", b)
			}
		})
	}
}

// TestRevokedAndExpiredTokensHTTP: the stream API refuses a revoked or
// expired token as the WebSocket does.
func TestRevokedAndExpiredTokensHTTP(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	if status, b := f.get(t, "/api/v1/streams/orders/snapshot", tok); status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", status, b)
	}
	now := time.Now().Add(time.Second) // iat is whole seconds: cover this one
	if err := f.store.Revoke(context.Background(), auth.Revocation{Tenant: "acme", Subject: "alice", At: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := f.guard.Load(context.Background()); err != nil { // as the 2 s reload would
		t.Fatal(err)
	}
	if status, b := f.get(t, "/api/v1/streams/orders/snapshot", tok); status != http.StatusUnauthorized || bytes.Contains(b, []byte(acmeMark)) {
		t.Fatalf("revoked: got %d %s, want 401 and no data", status, b)
	}
	expired, _ := f.keys.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }).Mint("acme", "bob", time.Hour, nil, "")
	if status, b := f.get(t, "/api/v1/streams/orders/snapshot", expired); status != http.StatusUnauthorized || bytes.Contains(b, []byte(acmeMark)) {
		t.Fatalf("expired: got %d %s, want 401 and no data", status, b)
	}
}

func authRevocation(tenant, sub string, at time.Time) auth.Revocation {
	return auth.Revocation{Tenant: tenant, Subject: sub, At: at, Until: at.Add(time.Hour)}
}

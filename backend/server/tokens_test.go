package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/ui"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/httpapi"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
)

// secretTitle is in the dashboards' titles only: a body holding it has
// told someone what is monitored.
const secretTitle = "Acme secret launch board"

var registerOnce sync.Once

// tokenFixture is the server as main builds it: one guard verifies every
// operator token (the stream API's door, which the dashboard API shares),
// with revocations from the store.
type tokenFixture struct {
	srv   *Server
	keys  *auth.Keys
	store *memstore.Store
	guard *auth.Guard
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	registerOnce.Do(func() { ui.Register(ui.Bridges{}) })
	keys, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	guard := auth.NewGuard(keys, st)
	if err := guard.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	streams := httpapi.New(httpapi.Config{Verify: guard.Verify, Hub: h, History: st})
	t.Cleanup(streams.Close)
	boards := []dashboard.Dashboard{
		{ID: "launch", Title: secretTitle, Panels: []dashboard.Panel{{ID: "n", Title: secretTitle + " KPI", Kind: dashboard.KindKPI, Stream: "orders", Field: "n"}}},
		{ID: "fleet", Title: secretTitle + " 2", Panels: []dashboard.Panel{{ID: "v", Title: "Vehicles", Kind: dashboard.KindKPI, Stream: "fleet", Field: "n"}}},
	}
	s, err := New(Config{
		WebDir:     webDir(t),
		Version:    "v1",
		Store:      "memory",
		Gateway:    wsgate.New(wsgate.Config{Hub: h}),
		Streams:    streams,
		Operator:   streams.Operator,
		Revoke:     auth.RevokeHandler(guard, st, slog.New(slog.DiscardHandler)),
		Dashboards: boards,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &tokenFixture{srv: s, keys: keys, store: st, guard: guard}
}

// apiPaths are the operator paths of the API that answer GET.
var apiPaths = []string{
	"/api/v1/dashboards",
	"/api/v1/dashboards/default",
	"/api/v1/dashboards/launch",
	"/api/v1/dashboards/fleet",
	"/api/v1/dashboards/nope",
	"/api/v1/streams/orders/snapshot",
}

// TestEveryAPIPathNeedsAToken: no API path but ingest (its own key) answers
// without a verified operator token. A missing, forged (another server's
// key, for another tenant), expired or revoked token gets a JSON 401 that
// holds none of the dashboards' titles, on the dashboard API exactly as on
// the stream API.
func TestEveryAPIPathNeedsAToken(t *testing.T) {
	f := newTokenFixture(t)
	other, _ := auth.HS256([]byte("another-secret-another-secret-00"))
	forged, _ := other.Mint("globex", "mallory", time.Hour, nil, "")
	sameTenantForged, _ := other.Mint("acme", "alice", time.Hour, nil, "")
	expired, _ := f.keys.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }).Mint("acme", "bob", time.Hour, nil, "")
	revoked, _ := f.keys.Mint("acme", "carol", time.Hour, nil, "")
	now := time.Now().Add(time.Second) // iat is whole seconds: cover this one
	if err := f.store.Revoke(context.Background(), auth.Revocation{Tenant: "acme", Subject: "carol", At: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := f.guard.Load(context.Background()); err != nil { // as the 2 s reload would
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, header string }{
		{"no token", ""},
		{"empty bearer", "Bearer "},
		{"not a bearer", "Basic YWxpY2U6c2VjcmV0"},
		{"garbage", "Bearer not.a.jwt"},
		{"foreign tenant's token from another server", "Bearer " + forged},
		{"own tenant forged with another key", "Bearer " + sameTenantForged},
		{"expired", "Bearer " + expired},
		{"revoked", "Bearer " + revoked},
	} {
		for _, path := range apiPaths {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				res, body := get(t, f.srv.Handler(), path, "Authorization", tc.header)
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("got %d %s, want 401", res.StatusCode, body)
				}
				var p map[string]string
				if err := json.Unmarshal([]byte(body), &p); err != nil || !strings.Contains(p["error"], "token") || res.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("got %q (%s), want a JSON problem that says a token is needed", body, res.Header.Get("Content-Type"))
				}
				if strings.Contains(body, "Acme") || strings.Contains(body, "launch") {
					t.Fatalf("a refused request learnt what is monitored: %s", body)
				}
			})
		}
	}
	// The revoke API (POST) shares the guard.
	res, body := post(t, f.srv.Handler(), "/api/v1/revoke", `{"sub":"alice"}`, "Authorization", "Bearer "+forged)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoke with a forged token: got %d %s, want 401", res.StatusCode, body)
	}
}

// TestOperatorsReadTheDashboards: a verified operator of any tenant of this
// server reads its dashboards (the file is the server's), by id or as the
// default, and an unknown id is a 404 that names it.
func TestOperatorsReadTheDashboards(t *testing.T) {
	f := newTokenFixture(t)
	for _, tenant := range []string{"acme", "globex"} {
		tok, _ := f.keys.Mint(tenant, "alice", time.Hour, nil, "")
		auth := []string{"Authorization", "Bearer " + tok}
		res, body := get(t, f.srv.Handler(), "/api/v1/dashboards", auth...)
		var list []struct{ ID, Title string }
		if err := json.Unmarshal([]byte(body), &list); err != nil || res.StatusCode != 200 || len(list) != 2 || list[0].ID != "launch" || list[1].ID != "fleet" || list[1].Title != secretTitle+" 2" {
			t.Fatalf("%s: list: got %d %s, want both dashboards in order with their titles", tenant, res.StatusCode, body)
		}
		for path, want := range map[string]string{"/api/v1/dashboards/default": "launch", "/api/v1/dashboards/launch": "launch", "/api/v1/dashboards/fleet": "fleet"} {
			res, body := get(t, f.srv.Handler(), path, auth...)
			var d dashboard.Dashboard
			if err := json.Unmarshal([]byte(body), &d); err != nil || res.StatusCode != 200 || d.ID != want {
				t.Fatalf("%s: %s: got %d %s, want dashboard %s", tenant, path, res.StatusCode, body, want)
			}
		}
		res, body = get(t, f.srv.Handler(), "/api/v1/dashboards/nope", auth...)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `no dashboard \"nope\"`) {
			t.Fatalf("%s: unknown id: got %d %s, want a 404 naming it", tenant, res.StatusCode, body)
		}
	}
	// A dashboard called "default" is itself, not the first one.
	f.srv.cfg.Dashboards[1].ID = "default"
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	res, body := get(t, f.srv.Handler(), "/api/v1/dashboards/default", "Authorization", "Bearer "+tok)
	if d := (dashboard.Dashboard{}); json.Unmarshal([]byte(body), &d) != nil || res.StatusCode != 200 || d.Title != secretTitle+" 2" {
		t.Fatalf("a dashboard called default: got %d %s, want it (not the first)", res.StatusCode, body)
	}
}

// TestOpenPaths: what answers without any token: the app shell at / and at
// every dashboard's URL /d/{id} (the page then asks for a token), its
// assets, health and metrics.
func TestOpenPaths(t *testing.T) {
	f := newTokenFixture(t)
	for _, path := range []string{"/", "/d/launch", "/d/fleet", "/d/unknown-id", "/web/telltale.css", "/healthz", "/metrics", "/manifest.webmanifest", "/app-worker.js"} {
		res, body := get(t, f.srv.Handler(), path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: got %d, want 200", path, res.StatusCode)
		}
		if strings.Contains(body, "Acme") {
			t.Errorf("%s answers a dashboard's title to anyone: %.200s", path, body)
		}
	}
	for _, path := range []string{"/d/", "/d/a/b", "/dashboards"} {
		if res, _ := get(t, f.srv.Handler(), path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: got %d, want 404", path, res.StatusCode)
		}
	}
}

func post(t *testing.T, h http.Handler, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	return do(t, h, http.MethodPost, path, strings.NewReader(body), header...)
}

// TestWorkerServesDashboardPagesFromCache: the service worker answers a
// dashboard's page with the cached app shell, so /d/{id} opens offline.
func TestWorkerServesDashboardPagesFromCache(t *testing.T) {
	f := newTokenFixture(t)
	res, body := get(t, f.srv.Handler(), "/app-worker.js")
	if res.StatusCode != http.StatusOK || strings.Contains(body, workerCacheMatch) || !strings.Contains(body, `pathname.startsWith("/d/") ? await caches.match("/")`) {
		t.Fatalf("got %d, want go-app's worker with the /d/ fallback to the cached shell:\n%s", res.StatusCode, body)
	}
}

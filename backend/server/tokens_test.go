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
	"github.com/telltale/telltale/backend/sla"
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
	sla   *sla.Service

	mu      sync.Mutex
	changed []string // tenants DashboardsChanged was called for
	warmed  []string // tenant/stream WarmM4 was called for
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
	f := &tokenFixture{keys: keys, store: st, guard: guard, sla: sla.New(sla.Config{})}
	s, err := New(Config{
		WebDir:     webDir(t),
		Version:    "v1",
		Store:      "memory",
		Gateway:    wsgate.New(wsgate.Config{Hub: h}),
		Streams:    streams,
		Operator:   streams.Operator,
		Revoke:     auth.RevokeHandler(guard, st, slog.New(slog.DiscardHandler)),
		Dashboards: boards,
		Stored:     st,
		SLA:        f.sla,
		DashboardsChanged: func(_ context.Context, tenant string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.changed = append(f.changed, tenant)
		},
		WarmM4: func(tenant, stream string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.warmed = append(f.warmed, tenant+"/"+stream)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = s
	return f
}

// apiPaths are the operator paths of the API that answer GET.
var apiPaths = []string{
	"/api/v1/dashboards",
	"/api/v1/dashboards/default",
	"/api/v1/dashboards/launch",
	"/api/v1/dashboards/fleet",
	"/api/v1/dashboards/nope",
	"/api/v1/dashboards/launch?version=1",
	"/api/v1/dashboards/launch/versions",
	"/api/v1/dashboards/nope/versions",
	"/api/v1/streams/orders/snapshot",
	"/api/v1/sla?dashboard=launch",
	"/api/v1/sla",
}

// writePaths are the operator paths that change something, by method.
var writePaths = [][2]string{
	{http.MethodPut, "/api/v1/dashboards/launch"},
	{http.MethodPut, "/api/v1/dashboards/new-one"},
	{http.MethodDelete, "/api/v1/dashboards/launch"},
	{http.MethodDelete, "/api/v1/dashboards/nope"},
	{http.MethodPost, "/api/v1/revoke"},
	{http.MethodPost, "/api/v1/sla/report"},
}

// TestEveryAPIPathNeedsAToken: no API path but ingest (its own key) answers
// without a verified operator token. A missing, forged (another server's
// key, for another tenant), expired or revoked token gets a JSON 401 that
// holds none of the dashboards' titles, on the dashboard API exactly as on
// the stream API.
func TestEveryAPIPathNeedsAToken(t *testing.T) {
	t.Parallel()
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
		// The write paths (the revoke API and the dashboards' PUT and
		// DELETE) share the guard, and change nothing.
		for _, mp := range writePaths {
			t.Run(tc.name+" "+mp[0]+" "+mp[1], func(t *testing.T) {
				res, body := do(t, f.srv.Handler(), mp[0], mp[1], strings.NewReader(`{"title":"pwned","panels":[{"id":"n","kind":"kpi","title":"n","stream":"orders","field":"n"}]}`), "Authorization", tc.header, "Content-Type", "application/json")
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("got %d %s, want 401", res.StatusCode, body)
				}
			})
		}
	}
	for _, tenant := range []string{"acme", "globex", ""} {
		if list, _ := f.store.List(context.Background(), tenant); len(list) != 0 {
			t.Fatalf("refused tokens stored dashboards for %q: %+v", tenant, list)
		}
	}
}

// TestOperatorsReadTheDashboards: a verified operator of any tenant of this
// server reads its dashboards (the file is the server's), by id or as the
// default, and an unknown id is a 404 that names it.
func TestOperatorsReadTheDashboards(t *testing.T) {
	t.Parallel()
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
// assets and health; not metrics (TestMetricsNeedItsToken).
func TestOpenPaths(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	for _, path := range []string{"/", "/d/launch", "/d/fleet", "/d/unknown-id", "/web/telltale.css", "/healthz", "/manifest.webmanifest", "/app-worker.js"} {
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
	t.Parallel()
	f := newTokenFixture(t)
	res, body := get(t, f.srv.Handler(), "/app-worker.js")
	if res.StatusCode != http.StatusOK || strings.Contains(body, workerCacheMatch) || !strings.Contains(body, `pathname.startsWith("/d/") ? await caches.match("/")`) {
		t.Fatalf("got %d, want go-app's worker with the /d/ fallback to the cached shell:\n%s", res.StatusCode, body)
	}
}

// TestCrossTenantDashboards: tenant globex, with every kind of its own
// token, can neither list, read, read a version of, list the versions of,
// write nor delete acme's stored dashboards, by any path spelling or header;
// what globex writes is its own; and acme's announcements are on acme's
// telltale.dashboards only.
func TestCrossTenantDashboards(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	ctx := context.Background()
	acme := f.client(t, "acme", "admin")
	const stored = "Acme stored secret board"
	for _, title := range []string{stored, stored + " v2"} {
		if res, body := acme.put("/api/v1/dashboards/secret", opsJSON("secret", title)); res.StatusCode/100 != 2 {
			t.Fatalf("acme's own save: got %d %s", res.StatusCode, body)
		}
	}
	type attacker struct {
		name string
		c    client
	}
	attackers := []attacker{
		{"globex admin", f.client(t, "globex", "admin")},
		{"globex viewer", f.client(t, "globex", "viewer")},
		{"globex no role", f.client(t, "globex", "")},
		{"globex limited admin", f.client(t, "globex", "admin", "orders")},
		{"globex wildcard admin", f.client(t, "globex", "admin", "*")},
	}
	reads := []string{
		"/api/v1/dashboards",
		"/api/v1/dashboards/secret",
		"/api/v1/dashboards/secret?version=1",
		"/api/v1/dashboards/secret?version=2",
		"/api/v1/dashboards/secret/versions",
		"/api/v1/dashboards/acme%2Fsecret",
		"/api/v1/dashboards/acme:secret",
		"/api/v1/dashboards/..%2Facme%2Fsecret",
		"/api/v1/dashboards/SECRET",
		"/api/v1/dashboards/secret%00",
		"/api/v1/dashboards/secret?tenant=acme",
		"/api/v1/dashboards/secret/versions?tenant=acme",
		"/api/v1/streams/telltale.dashboards/snapshot",
		"/api/v1/streams/telltale.dashboards/events?after=0",
	}
	headers := [][]string{nil, {"X-Tenant", "acme"}, {"X-Forwarded-User", "acme-admin"}}
	attempts := 0
	for _, a := range attackers {
		name, c := a.name, a.c
		for _, h := range headers {
			for _, path := range reads {
				res, body := c.do(http.MethodGet, path, "", h...)
				attempts++
				if strings.Contains(body, "Acme stored") || strings.Contains(body, `"secret"`) {
					t.Errorf("%s GET %s %v: got %d with acme's dashboard in it: %.300s", name, path, h, res.StatusCode, body)
				}
				if strings.HasPrefix(path, "/api/v1/dashboards/") && res.StatusCode/100 == 2 {
					t.Errorf("%s GET %s %v: got %d %.200s, want a refusal", name, path, h, res.StatusCode, body)
				}
			}
			for _, path := range []string{"/api/v1/dashboards/secret", "/api/v1/dashboards/acme%2Fsecret", "/api/v1/dashboards/secret?tenant=acme"} {
				res, body := c.do(http.MethodDelete, path, "", h...)
				attempts++
				if res.StatusCode/100 == 2 {
					t.Errorf("%s DELETE %s %v: got %d %s, want a refusal", name, path, h, res.StatusCode, body)
				}
				res, body = c.do(http.MethodPut, path, `{"tenant": "acme", "id": "secret", "title": "pwned", "panels": [{"id": "n", "kind": "kpi", "title": "n", "stream": "orders", "field": "n"}]}`, append([]string{"Content-Type", "application/json"}, h...)...)
				attempts++
				if res.StatusCode/100 == 2 {
					t.Errorf("%s PUT with a tenant in the body %s %v: got %d %s, want a refusal", name, path, h, res.StatusCode, body)
				}
			}
		}
	}
	// What an admin of globex saves under the same id is globex's own.
	for _, a := range attackers {
		res, body := a.c.put("/api/v1/dashboards/secret", opsJSON("secret", "Globex's "+a.name))
		attempts++
		if admin := strings.Contains(a.name, "admin"); (admin && res.StatusCode/100 != 2) || (!admin && res.StatusCode != http.StatusForbidden) {
			t.Errorf("%s PUT its own secret: got %d %s", a.name, res.StatusCode, body)
		}
	}
	if attempts < 100 {
		t.Fatalf("made %d attempts, want well over a hundred", attempts)
	}
	cur, err := f.store.Get(ctx, "acme", "secret")
	if err != nil || cur.Version != 2 || cur.Title != stored+" v2" {
		t.Fatalf("acme's dashboard after the attempts: got %+v, %v, want version 2 untouched", cur, err)
	}
	if list, _ := f.store.List(ctx, "acme"); len(list) != 1 {
		t.Fatalf("acme's dashboards after the attempts: got %+v, want its one", list)
	}
	// Announcements: acme's two saves on acme's stream; globex's on its own.
	for tenant, want := range map[string]int{"acme": 2, "globex": 3} {
		evs, err := f.store.Read(ctx, tenant, dashboard.ChangesStream, 0, 100)
		if err != nil || len(evs) != want {
			t.Fatalf("%s's %s: got %d events (%v), want %d", tenant, dashboard.ChangesStream, len(evs), err, want)
		}
		for i := range evs {
			c, ok := dashboard.ParseChange(&evs[i])
			if !ok || (tenant == "globex") != strings.HasPrefix(c.Title, "Globex") {
				t.Fatalf("%s's %s: got %+v, want only its own changes", tenant, dashboard.ChangesStream, c)
			}
		}
	}
	// acme's own operators, even with a token limited to other streams,
	// follow acme's changes.
	limited := f.client(t, "acme", "viewer", "fleet.*")
	res, body := limited.do(http.MethodGet, "/api/v1/streams/telltale.dashboards/snapshot", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, stored+" v2") {
		t.Fatalf("acme's limited token reads acme's changes: got %d %.200q, want them", res.StatusCode, body)
	}
}

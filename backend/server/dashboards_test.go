package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/dashboard"
)

// opsJSON is a valid dashboard of id ops titled title (id "" leaves the
// id out).
func opsJSON(id, title string) string {
	idField := ""
	if id != "" {
		idField = `"id": "` + id + `",`
	}
	return `{` + idField + `
  "title": "` + title + `",
  "panels": [{"id": "n", "kind": "kpi", "title": "Orders", "stream": "orders", "field": "n"}]
}`
}

// client is a token's requests to the fixture's server.
type client struct {
	t   *testing.T
	f   *tokenFixture
	tok string
}

func (f *tokenFixture) client(t *testing.T, tenant, role string, streams ...string) client {
	t.Helper()
	tok, err := f.keys.Mint(tenant, tenant+"-"+role, time.Hour, streams, role)
	if err != nil {
		t.Fatal(err)
	}
	return client{t, f, tok}
}

func (c client) do(method, path, body string, header ...string) (*http.Response, string) {
	c.t.Helper()
	h := append([]string{"Authorization", "Bearer " + c.tok}, header...)
	return do(c.t, c.f.srv.Handler(), method, path, strings.NewReader(body), h...)
}

func (c client) put(path, body string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodPut, path, body, "Content-Type", "application/json")
}

func (c client) list() []DashboardRef {
	c.t.Helper()
	res, body := c.do(http.MethodGet, "/api/v1/dashboards", "")
	var refs []DashboardRef
	if err := json.Unmarshal([]byte(body), &refs); err != nil || res.StatusCode != 200 {
		c.t.Fatalf("list: got %d %s", res.StatusCode, body)
	}
	return refs
}

func (c client) spec(path string) (int, dashboard.Dashboard) {
	c.t.Helper()
	res, body := c.do(http.MethodGet, path, "")
	var d dashboard.Dashboard
	if res.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			c.t.Fatalf("%s: %v in %s", path, err, body)
		}
	}
	return res.StatusCode, d
}

func meta(t *testing.T, body string) dashstore.Meta {
	t.Helper()
	var m dashstore.Meta
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("want a Meta, got %s: %v", body, err)
	}
	return m
}

// TestDashboardAPI: an admin creates, replaces, rolls back and deletes its
// tenant's dashboards; a stored one is listed first and shadows a built-in
// of its id, which shows again once it is deleted; built-ins cannot be
// deleted; every change is reported to DashboardsChanged.
func TestDashboardAPI(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin := f.client(t, "acme", "admin")

	res, body := admin.put("/api/v1/dashboards/ops", opsJSON("ops", "Ops"))
	if m := meta(t, body); res.StatusCode != http.StatusCreated || m.Version != 1 || m.ID != "ops" || m.By != "acme-admin" {
		t.Fatalf("create: got %d %s, want 201 and version 1 by the token's subject", res.StatusCode, body)
	}
	// The id may be left out: the path gives it.
	res, body = admin.put("/api/v1/dashboards/ops", opsJSON("", "Ops 2"))
	if m := meta(t, body); res.StatusCode != http.StatusOK || m.Version != 2 || m.Title != "Ops 2" {
		t.Fatalf("replace without an id: got %d %s, want 200 and version 2", res.StatusCode, body)
	}
	res, body = admin.put("/api/v1/dashboards/ops", `{"id": "", "title": "Ops 2", "panels": [{"id": "n", "kind": "kpi", "title": "Orders", "stream": "orders", "field": "n"}]}`)
	if m := meta(t, body); res.StatusCode != http.StatusOK || m.Version != 2 {
		t.Fatalf("the same spec with an empty id: got %d %s, want 200 and still version 2", res.StatusCode, body)
	}
	if code, d := admin.spec("/api/v1/dashboards/ops"); code != 200 || d.Title != "Ops 2" {
		t.Fatalf("get: got %d %+v, want Ops 2", code, d)
	}
	if code, d := admin.spec("/api/v1/dashboards/ops?version=1"); code != 200 || d.Title != "Ops" {
		t.Fatalf("get version 1: got %d %+v, want Ops", code, d)
	}
	res, body = admin.do(http.MethodGet, "/api/v1/dashboards/ops/versions", "")
	var vs []dashstore.Meta
	if err := json.Unmarshal([]byte(body), &vs); err != nil || res.StatusCode != 200 || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 {
		t.Fatalf("versions: got %d %s, want 2 then 1", res.StatusCode, body)
	}
	// Rollback: PUT of an old version's spec.
	_, old := admin.spec("/api/v1/dashboards/ops?version=1")
	b, _ := json.Marshal(old)
	if res, body := admin.put("/api/v1/dashboards/ops", string(b)); res.StatusCode != 200 || meta(t, body).Version != 3 || meta(t, body).Title != "Ops" {
		t.Fatalf("rollback: got %d %s, want version 3 titled Ops", res.StatusCode, body)
	}

	// A stored dashboard shadows the built-in of its id.
	if res, body := admin.put("/api/v1/dashboards/launch", opsJSON("launch", "Our launch")); res.StatusCode != http.StatusCreated {
		t.Fatalf("shadow a built-in: got %d %s, want 201", res.StatusCode, body)
	}
	refs := admin.list()
	want := []DashboardRef{{"launch", "Our launch", 1, SourceStored}, {"ops", "Ops", 3, SourceStored}, {"fleet", secretTitle + " 2", 0, SourceBuiltin}}
	if !slices.Equal(refs, want) {
		t.Fatalf("list: got %+v, want %+v", refs, want)
	}
	if _, d := admin.spec("/api/v1/dashboards/launch"); d.Title != "Our launch" {
		t.Fatalf("a shadowed built-in: got %+v, want the stored one", d)
	}
	if _, d := admin.spec("/api/v1/dashboards/default"); d.Title != secretTitle {
		t.Fatalf("default: got %q, want the first built-in (no stored one is called default)", d.Title)
	}
	if res, body := admin.do(http.MethodDelete, "/api/v1/dashboards/launch", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete the shadow: got %d %s, want 204", res.StatusCode, body)
	}
	if _, d := admin.spec("/api/v1/dashboards/launch"); d.Title != secretTitle {
		t.Fatalf("after deleting the shadow: got %q, want the built-in again", d.Title)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"delete a built-in", "/api/v1/dashboards/launch", http.StatusConflict, "built into the server"},
		{"delete none", "/api/v1/dashboards/nope", http.StatusNotFound, `no stored dashboard \"nope\"`},
	} {
		if res, body := admin.do(http.MethodDelete, tc.path, ""); res.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: got %d %s, want %d saying %q", tc.name, res.StatusCode, body, tc.status, tc.says)
		}
	}
	if res, _ := admin.do(http.MethodDelete, "/api/v1/dashboards/ops", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", res.StatusCode)
	}
	if code, _ := admin.spec("/api/v1/dashboards/ops"); code != http.StatusNotFound {
		t.Fatalf("get after delete: got %d, want 404", code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []string{"acme", "acme", "acme", "acme", "acme", "acme"}; !slices.Equal(f.changed, want) {
		t.Fatalf("DashboardsChanged: got %v, want once per change (%v)", f.changed, want)
	}
}

// TestDashboardAPIRefuses: what a PUT or DELETE is refused for, and that
// the answer names what is wrong; nothing is saved.
func TestDashboardAPIRefuses(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin := f.client(t, "acme", "admin")
	viewer := f.client(t, "acme", "viewer")
	none := f.client(t, "acme", "")
	big := `{"id": "ops", "title": "` + strings.Repeat("x", MaxDashboardBody) + `", "panels": []}`
	for _, tc := range []struct {
		name         string
		c            client
		method, path string
		body, ctype  string
		status       int
		says         string
	}{
		{"viewer puts", viewer, "PUT", "/api/v1/dashboards/ops", opsJSON("ops", "Ops"), "application/json", 403, "role admin"},
		{"no role puts", none, "PUT", "/api/v1/dashboards/ops", opsJSON("ops", "Ops"), "application/json", 403, "role admin"},
		{"viewer deletes", viewer, "DELETE", "/api/v1/dashboards/launch", "", "", 403, "role admin"},
		{"id differs", admin, "PUT", "/api/v1/dashboards/ops", opsJSON("other", "Ops"), "application/json", 400, `dashboard \"other\" but the path names \"ops\"`},
		{"unknown key", admin, "PUT", "/api/v1/dashboards/ops", `{"id": "ops", "title": "Ops",
  "panels": [{"id": "n", "kind": "kpi", "title": "Orders", "stream": "orders", "field": "n", "widht": 3}]}`, "application/json", 400, `2:`},
		{"unknown key named", admin, "PUT", "/api/v1/dashboards/ops", `{"id": "ops", "title": "Ops", "panels": [{"id": "n", "kind": "kpi", "title": "Orders", "stream": "orders", "field": "n", "widht": 3}]}`, "application/json", 400, `panel n: unknown key \"widht\" (did you mean \"width\"?)`},
		{"invalid panel", admin, "PUT", "/api/v1/dashboards/ops", `{"id": "ops", "title": "Ops", "panels": [{"id": "n", "kind": "gauge", "title": "Orders", "stream": "orders", "field": "n"}]}`, "application/json", 400, "dashboard ops"},
		{"no panels", admin, "PUT", "/api/v1/dashboards/ops", `{"id": "ops", "title": "Ops", "panels": []}`, "application/json", 400, "no panels"},
		{"two dashboards", admin, "PUT", "/api/v1/dashboards/ops", "[" + opsJSON("ops", "Ops") + "," + opsJSON("ops2", "Ops") + "]", "application/json", 400, "holds 2 dashboards"},
		{"not JSON", admin, "PUT", "/api/v1/dashboards/ops", `{"id": "ops",`, "application/json", 400, "1:"},
		{"bad path id", admin, "PUT", "/api/v1/dashboards/Ops%20Board", opsJSON("", "Ops"), "application/json", 400, "dashboard id"},
		{"other media type", admin, "PUT", "/api/v1/dashboards/ops", opsJSON("ops", "Ops"), "text/plain", 415, "application/json"},
		{"too big", admin, "PUT", "/api/v1/dashboards/ops", big, "application/json", 413, "over 1048576 bytes"},
		{"bad version", admin, "GET", "/api/v1/dashboards/launch?version=x", "", "", 400, "version"},
		{"no such version", admin, "GET", "/api/v1/dashboards/launch?version=1", "", "", 404, "no version 1"},
		{"versions of a built-in", admin, "GET", "/api/v1/dashboards/launch/versions", "", "", 404, "built into the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.ctype != "" {
				h = []string{"Content-Type", tc.ctype}
			}
			res, body := tc.c.do(tc.method, tc.path, tc.body, h...)
			if res.StatusCode != tc.status || !strings.Contains(body, tc.says) || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %.300s, want %d saying %q", res.StatusCode, body, tc.status, tc.says)
			}
		})
	}
	if list, _ := f.store.List(context.Background(), "acme"); len(list) != 0 {
		t.Fatalf("refused requests stored %+v", list)
	}
	if len(f.changed) != 0 {
		t.Fatalf("refused requests reported changes: %v", f.changed)
	}
}

func TestWithID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"missing", `{"title": "x"}`, `{"id":"ops","title": "x"}`},
		{"missing, on its own line", "{\n  \"title\": \"x\"\n}", "{\"id\":\"ops\",\n  \"title\": \"x\"\n}"},
		{"empty object", `{}`, `{"id":"ops"}`},
		{"empty", `{"title": "x", "id": ""}`, `{"title": "x", "id": "ops"}`},
		{"nested ids are not the dashboard's", `{"panels": [{"id": ""}], "title": "x"}`, `{"id":"ops","panels": [{"id": ""}], "title": "x"}`},
		{"given", `{"id": "other"}`, `{"id": "other"}`},
		{"not a string", `{"id": 3}`, `{"id": 3}`},
		{"a list", `[{"title": "x"}]`, `[{"title": "x"}]`},
		{"broken", `{"title": `, `{"title": `},
	} {
		if got := string(withID([]byte(tc.in), "ops")); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzWithID: whatever a body holds, withID does not panic, and when it
// changes the body, the result is JSON whose first top-level id is the
// path's.
func FuzzWithID(f *testing.F) {
	for _, s := range []string{`{"title": "x"}`, `{}`, `{"id": ""}`, `{"a": {"id": ""}, "id": ""}`, `[{}]`, `{"id": 3}`, `{"a": [1, {"b": "}"}]}`, "{\n}", `{"id":"x","id":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := withID(body, "ops")
		if string(out) == string(body) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("withID(%q) = %q: not JSON", body, out)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("withID(%q) = %q: changed a body that is not an object", body, out)
		}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				t.Fatal(err)
			}
			if key == "id" {
				if string(val) != `"ops"` {
					t.Fatalf("withID(%q) = %q: first id %s, want \"ops\"", body, out, val)
				}
				return
			}
		}
		t.Fatalf("withID(%q) = %q: no id", body, out)
	})
}

// TestDashboardPutYAML: a YAML body is read as strictly as a file, and saves
// the same spec its JSON would; its mistakes say line:col in the YAML.
func TestDashboardPutYAML(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin := f.client(t, "acme", "admin")
	yaml := "id: ops\ntitle: Ops\npanels:\n  - id: n\n    kind: kpi\n    title: Orders\n    stream: orders\n    field: n\n"
	for _, ct := range []string{"application/yaml", "text/yaml; charset=utf-8"} {
		res, body := admin.do(http.MethodPut, "/api/v1/dashboards/ops", yaml, "Content-Type", ct)
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
			t.Fatalf("%s: got %d %s, want the dashboard saved", ct, res.StatusCode, body)
		}
		if m := meta(t, body); m.Version != 1 {
			t.Fatalf("%s: got version %d, want 1 (the same spec saves nothing new)", ct, m.Version)
		}
	}
	if res, body := admin.put("/api/v1/dashboards/ops", opsJSON("ops", "Ops")); res.StatusCode != http.StatusOK || meta(t, body).Version != 1 {
		t.Fatalf("the same spec as JSON: got %d %s, want 200 and still version 1", res.StatusCode, body)
	}
	res, body := admin.do(http.MethodPut, "/api/v1/dashboards/ops", strings.Replace(yaml, "field: n", "feild: n", 1), "Content-Type", "application/yaml")
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `8:5: dashboard ops: panel n: unknown key \"feild\"`) {
		t.Fatalf("a misspelt key: got %d %s, want 400 naming 8:5, the dashboard, panel and key", res.StatusCode, body)
	}
}

// TestDashboardAPICapsATenant: past dashstore.MaxDashboards a new
// dashboard is refused with 409 and a message that says what to do.
func TestDashboardAPICapsATenant(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin := f.client(t, "acme", "admin")
	for i := range dashstore.MaxDashboards {
		id := fmt.Sprintf("d%03d", i)
		if res, body := admin.put("/api/v1/dashboards/"+id, opsJSON(id, "D")); res.StatusCode != http.StatusCreated {
			t.Fatalf("dashboard %d: got %d %s", i+1, res.StatusCode, body)
		}
	}
	res, body := admin.put("/api/v1/dashboards/one-more", opsJSON("one-more", "One more"))
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "delete one first") {
		t.Fatalf("one more: got %d %s, want 409 saying to delete one first", res.StatusCode, body)
	}
}

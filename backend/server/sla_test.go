package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// pageReport is a page's 10 s report ending now: panel "n" of dashboard
// dash painted latencies of ms milliseconds.
func pageReport(screen, dash string, ms ...float64) *wire.Report {
	now := time.Now()
	h := wire.StageHist{Stage: sla.StageTotal}
	for _, v := range ms { // ascending, distinct bins
		h.Index = append(h.Index, sla.Bin(v))
		h.Counts = append(h.Counts, 1)
	}
	return &wire.Report{Screen: screen, Dashboard: dash, From: now.Add(-10 * time.Second).UnixNano(), To: now.UnixNano(),
		ClockErr: int64(time.Millisecond), Transport: sla.TransportFallback,
		Panels: []wire.PanelReport{{Panel: "n", Painted: uint64(len(ms)), FreshMs: 10000, Stages: []wire.StageHist{h}}}}
}

func (c client) report(r *wire.Report, asJSON bool) (*http.Response, string) {
	c.t.Helper()
	b, err := msgpack.Marshal(r)
	if err != nil {
		c.t.Fatal(err)
	}
	if asJSON {
		var m map[string]any
		if err := msgpack.Unmarshal(b, &m); err != nil {
			c.t.Fatal(err)
		}
		if b, err = json.Marshal(m); err != nil {
			c.t.Fatal(err)
		}
		return c.do(http.MethodPost, "/api/v1/sla/report", string(b), "Content-Type", "application/json")
	}
	return c.do(http.MethodPost, "/api/v1/sla/report", string(b), "Content-Type", "application/msgpack")
}

func (c client) sla(query string) (int, sla.Answer, string) {
	c.t.Helper()
	res, body := c.do(http.MethodGet, "/api/v1/sla"+query, "")
	var a sla.Answer
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			c.t.Fatalf("%s: %v", body, err)
		}
	}
	return res.StatusCode, a, body
}

// Reports posted in msgpack and JSON count against the token's tenant and
// show in its answer, never in another tenant's, whatever dashboard id they
// name.
func TestSLAReportsAndAnswersByTenant(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	acme, globex := f.client(t, "acme", ""), f.client(t, "globex", "")
	for i, asJSON := range []bool{false, true} {
		if res, body := acme.report(pageReport(fmt.Sprint("screen-", i), "launch", 100, 200, 400), asJSON); res.StatusCode != http.StatusNoContent {
			t.Fatalf("post (JSON %v): got %d %s, want 204", asJSON, res.StatusCode, body)
		}
	}
	code, a, body := acme.sla("?dashboard=launch")
	if code != http.StatusOK || len(a.Panels) != 1 || a.Panels[0].Painted != 6 || a.Screens != 2 || a.Panels[0].P99Ms < 396 {
		t.Fatalf("acme: got %d %s, want launch's panel n, 6 painted by 2 screens", code, body)
	}
	if !a.To.After(a.From) || a.To.Sub(a.From) > DefaultSLAPeriod+time.Minute {
		t.Errorf("default period: got %v to %v, want the last hour", a.From, a.To)
	}
	code, a, body = globex.sla("?dashboard=launch&from=-7d")
	if code != http.StatusOK || len(a.Panels) != 0 || a.Screens != 0 {
		t.Fatalf("globex asking for acme's dashboard id: got %d %s, want nothing", code, body)
	}
	if strings.Contains(body, `"n"`) {
		t.Fatalf("globex learnt of acme's panel: %s", body)
	}
}

// An operator names a dashboard; an admin may ask for the whole tenant.
func TestSLAWholeTenantIsForAdmins(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	admin, viewer := f.client(t, "acme", AdminRole), f.client(t, "acme", "viewer")
	for _, d := range []string{"launch", "fleet"} {
		if res, body := viewer.report(pageReport("s", d, 10), false); res.StatusCode != http.StatusNoContent {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
	}
	if code, _, body := viewer.sla(""); code != http.StatusBadRequest || !strings.Contains(body, "admin") {
		t.Fatalf("viewer, no dashboard: got %d %s, want 400 that says an admin may", code, body)
	}
	if code, a, body := viewer.sla("?dashboard=fleet"); code != http.StatusOK || len(a.Panels) != 1 {
		t.Fatalf("viewer, fleet: got %d %s", code, body)
	}
	if code, a, body := admin.sla(""); code != http.StatusOK || len(a.Panels) != 2 {
		t.Fatalf("admin, whole tenant: got %d %s, want both dashboards' panels", code, body)
	}
}

func TestSLARefusals(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	c := f.client(t, "acme", AdminRole)
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
	now := time.Now()
	for _, tc := range []struct{ name, query, want string }{
		{"bad from", "?from=yesterday", "from"},
		{"bad days", "?from=-xd", "from"},
		{"bad to", "?to=-1fortnight", "to"},
		{"reversed", "?from=" + rfc(now) + "&to=" + rfc(now.Add(-time.Hour)), "period"},
		{"too long", "?from=-40d", "period"},
		{"long dashboard id", "?dashboard=" + strings.Repeat("x", sla.MaxNameBytes+1), "dashboard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, body := c.sla(tc.query); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s, want 400 about %s", code, body, tc.want)
			}
		})
	}
	if code, _, body := c.sla("?from=" + rfc(now.Add(-2*time.Hour)) + "&to=-1h"); code != http.StatusOK {
		t.Fatalf("RFC 3339 from, relative to: got %d %s", code, body)
	}
	forged := pageReport("s", "launch", 10)
	forged.Panels[0].FreshMs = -1
	if res, body := c.report(forged, false); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "negative") {
		t.Fatalf("forged: got %d %s, want 400 that says why", res.StatusCode, body)
	}
	if res, body := c.do(http.MethodPost, "/api/v1/sla/report", "x", "Content-Type", "application/xml"); res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("xml: got %d %s, want 415", res.StatusCode, body)
	}
	big := bytes.Repeat([]byte(" "), sla.MaxReportBytes+1)
	if res, body := c.do(http.MethodPost, "/api/v1/sla/report", string(big), "Content-Type", "application/json"); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("big: got %d %s, want 413", res.StatusCode, body)
	}
}

// The page posts its histograms packed on pagehide (wire.StageHist): taken
// in msgpack and JSON, alongside a cached page's index and counts, and a
// stage in both shapes is refused with a 400 that says so.
func TestSLAReportsTakePackedHistograms(t *testing.T) {
	t.Parallel()
	f := newTokenFixture(t)
	acme := f.client(t, "acme", "")
	packed := func(r *wire.Report) *wire.Report {
		h := &r.Panels[0].Stages[0]
		h.First, h.Packed = wire.PackBins(nil, h.Index, h.Counts)
		h.Index, h.Counts = nil, nil
		return r
	}
	for i, asJSON := range []bool{false, true} {
		if res, body := acme.report(packed(pageReport(fmt.Sprint("screen-", i), "launch", 100, 200, 400)), asJSON); res.StatusCode != http.StatusNoContent {
			t.Fatalf("post packed (JSON %v): got %d %s, want 204", asJSON, res.StatusCode, body)
		}
	}
	if res, body := acme.report(pageReport("screen-2", "launch", 100, 200, 400), false); res.StatusCode != http.StatusNoContent {
		t.Fatalf("post index and counts: got %d %s, want 204", res.StatusCode, body)
	}
	code, a, body := acme.sla("?dashboard=launch")
	if code != http.StatusOK || len(a.Panels) != 1 || a.Panels[0].Painted != 9 || a.Screens != 3 || a.Panels[0].P99Ms < 396 || a.Panels[0].P50Ms < 196 {
		t.Fatalf("got %d %s, want launch's panel n, 9 painted by 3 screens", code, body)
	}
	both := pageReport("screen-3", "launch", 100)
	both.Panels[0].Stages[0].First, both.Panels[0].Stages[0].Packed = wire.PackBins(nil, both.Panels[0].Stages[0].Index, both.Panels[0].Stages[0].Counts)
	if res, body := acme.report(both, false); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not both nor neither") {
		t.Fatalf("both shapes: got %d %s, want 400 that says not both", res.StatusCode, body)
	}
}

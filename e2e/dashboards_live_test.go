//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/devices"

	"github.com/telltale/telltale/internal/poll"
)

// dashboardAPI sends method to /api/v1/dashboards/{id} with body (of
// contentType) as an admin of tenant, and fails the test unless it
// succeeds.
func dashboardAPI(t *testing.T, base, tenant, method, id, contentType, body string) {
	t.Helper()
	req, err := http.NewRequest(method, base+"/api/v1/dashboards/"+id, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken(t, tenant))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: %s: %s", method, id, res.Status, b)
	}
}

// opsV1 is a stored dashboard of the demo's streams: a KPI and a chart of
// metrics, and the fleet table.
const opsV1 = `id: ops
title: Ops v1
panels:
  - id: queue
    kind: kpi
    title: Queue depth
    stream: metrics
    field: queue_depth
    width: 4
  - id: throughput
    kind: timeseries
    title: Pick rate
    stream: metrics
    series: [pick_rate, pack_rate]
    width: 8
  - id: fleet
    kind: table
    title: Fleet
    stream: fleet
    columns:
      - {field: vehicle, title: Vehicle}
      - {field: status, title: Status}
`

// opsV2 keeps the KPI and the chart where they were, and shows the orders
// table instead of the fleet's: metrics stays, fleet goes, orders comes.
const opsV2 = `{"id": "ops", "title": "Ops v2", "panels": [
	{"id": "queue", "kind": "kpi", "title": "Queue now", "stream": "metrics", "field": "queue_depth", "width": 4},
	{"id": "throughput", "kind": "timeseries", "title": "Pick rate", "stream": "metrics", "series": ["pick_rate", "pack_rate"], "width": 8},
	{"id": "orders", "kind": "table", "title": "Orders", "stream": "orders", "columns": [{"field": "key", "title": "Order"}, {"field": "status", "title": "Status"}]}
]}`

// liveView is what TestDashboardChangeReachesOpenPage reads of a page.
type liveView struct {
	Title     string   `json:"title"`
	Tooltip   string   `json:"tooltip"`
	Panels    []string `json:"panels"`
	Links     []string `json:"links"`
	Points    int      `json:"points"`  // the chart's rows
	Rows      int      `json:"rows"`    // the table's rows
	Marker    bool     `json:"marker"`  // the page has not reloaded
	Navs      int      `json:"navs"`    // navigation entries: 1 without a reload
	Deleted   string   `json:"deleted"` // the deleted banner's text
	Greyed    bool     `json:"greyed"`
	Scroll    int      `json:"scroll"` // document width past the viewport
	Snapshots int      `json:"snapshots"`
	Breaks    int      `json:"breaks"`
	Metrics   uint64   `json:"metrics"` // metrics' seq
}

func readLive(t *testing.T, p *rod.Page) liveView {
	t.Helper()
	raw := eval(t, p, `() => {
		const q = s => Array.from(document.querySelectorAll(s));
		const title = document.querySelector(".tt-title");
		const chart = document.querySelector("section[data-panel=throughput] .tt-chart");
		const del = document.getElementById("tt-deleted");
		const grid = document.getElementById("tt-grid");
		const st = window.telltaleStats ? JSON.parse(window.telltaleStats()) : {streams: {}};
		return JSON.stringify({
			title: title ? title.textContent : "",
			tooltip: title ? (title.getAttribute("title") || "") : "",
			panels: q("section[data-panel]").map(e => e.dataset.panel),
			links: q("#tt-picker a").map(a => a.getAttribute("href") + " " + a.textContent),
			points: chart && chart._uplot ? chart._uplot.data[0].length : 0,
			rows: q("section[data-panel] tr[data-key]").length,
			marker: window.__liveMarker === 1,
			navs: performance.getEntriesByType("navigation").length,
			deleted: del ? del.textContent : "",
			greyed: !!grid && grid.dataset.deleted === "true",
			scroll: document.documentElement.scrollWidth - window.innerWidth,
			snapshots: st.snapshots || 0,
			breaks: st.breaks || 0,
			metrics: st.streams && st.streams.metrics ? st.streams.metrics.seq : 0,
		});
	}`).Str()
	var v liveView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDashboardChangeReachesOpenPage: a PUT of a new version of a stored
// dashboard (YAML, then JSON) reaches a page of its tenant that shows it:
// the page switches without a reload, keeps the data of the streams both
// versions read (no new snapshot of metrics, the chart keeps its points),
// subscribes the new stream and says the version in the title's tooltip; a
// page of another tenant never sees it. A DELETE makes the page say so,
// above its greyed panels, on a phone without horizontal scroll.
func TestDashboardChangeReachesOpenPage(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	dashboardAPI(t, srv.URL, "demo", http.MethodPut, "ops", "application/yaml", opsV1)
	b := newBrowser(t)
	pa := b.MustIncognito().MustPage("")
	if err := pa.Navigate(srv.URL + "/d/ops#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	pb := b.MustIncognito().MustPage("")
	if err := pb.Navigate(signIn(t, srv.URL, "demo2")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, pa)
	waitLive(t, pb)
	var before liveView
	poll.Until(t, 30*time.Second, func() error {
		before = readLive(t, pa)
		if before.Title != "Ops v1" || before.Tooltip != "version 1" || before.Points < 20 || before.Rows == 0 {
			return fmt.Errorf("page of A: %+v; want Ops v1, version 1, chart and table drawn", before)
		}
		return nil
	})
	bView := readLive(t, pb)
	for _, p := range []*rod.Page{pa, pb} {
		eval(t, p, `() => { window.__liveMarker = 1 }`)
	}

	dashboardAPI(t, srv.URL, "demo", http.MethodPut, "ops", "application/json", opsV2)
	var after liveView
	poll.Until(t, 20*time.Second, func() error {
		after = readLive(t, pa)
		if after.Title != "Ops v2" || after.Tooltip != "version 2" || strings.Join(after.Panels, ",") != "queue,throughput,orders" || after.Rows == 0 {
			return fmt.Errorf("page of A: %+v; want Ops v2, version 2, the orders table drawn", after)
		}
		return nil
	})
	pa.MustScreenshot(outDir(t) + "/switched.png")
	if !after.Marker || after.Navs != 1 {
		t.Fatalf("page of A reloaded to switch (marker %v, %d navigations)", after.Marker, after.Navs)
	}
	// metrics is kept: no new snapshot but the orders stream's, no break,
	// and the chart did not start over.
	if after.Snapshots != before.Snapshots+1 || after.Breaks != 0 || after.Metrics < before.Metrics {
		t.Fatalf("snapshots %d → %d, breaks %d, metrics %d → %d: want one more (orders), none, metrics continued",
			before.Snapshots, after.Snapshots, after.Breaks, before.Metrics, after.Metrics)
	}
	if after.Points < before.Points {
		t.Fatalf("the chart has %d points after the switch, %d before: it lost data", after.Points, before.Points)
	}
	if !strings.Contains(strings.Join(after.Links, "|"), "/d/ops Ops v2") {
		t.Fatalf("picker %q: want ops under its new title", after.Links)
	}

	// B never sees A's dashboard.
	nowB := readLive(t, pb)
	if !nowB.Marker || nowB.Title != bView.Title || strings.Contains(strings.Join(nowB.Links, "|"), "/d/ops") || nowB.Tooltip == "version 2" {
		t.Fatalf("page of B: %+v; want it unchanged, without ops", nowB)
	}

	dashboardAPI(t, srv.URL, "demo", http.MethodDelete, "ops", "", "")
	pa.MustEmulate(devices.IPhoneX)
	poll.Until(t, 20*time.Second, func() error {
		v := readLive(t, pa)
		if !strings.Contains(v.Deleted, "This dashboard was deleted") || !v.Greyed || len(v.Panels) != 3 {
			return fmt.Errorf("page of A after the delete: %+v; want the banner above the greyed panels", v)
		}
		if strings.Contains(strings.Join(v.Links, "|"), "/d/ops") {
			return fmt.Errorf("picker %q still lists ops", v.Links)
		}
		if v.Scroll > 0 {
			return fmt.Errorf("phone: the page scrolls %d px sideways", v.Scroll)
		}
		return nil
	})
	pa.MustScreenshot(outDir(t) + "/deleted-phone.png")
}

// TestRedefinedDashboardSwitchesInPlace: a page that starts from its stored
// picture of a dashboard the server has since redefined switches to the
// new version in place, without a second reload, and draws the new
// version's panels (the stream it adds subscribed on the open connection).
func TestRedefinedDashboardSwitchesInPlace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "dashboards.json")
	write := func(spec string) {
		if err := os.WriteFile(file, []byte("["+spec+"]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := strings.Replace(strings.Replace(opsV2, `"Ops v2"`, `"Ops v1"`, 1),
		`{"id": "orders", "kind": "table", "title": "Orders", "stream": "orders", "columns": [{"field": "key", "title": "Order"}, {"field": "status", "title": "Status"}]}`,
		`{"id": "fleet", "kind": "table", "title": "Fleet", "stream": "fleet", "columns": [{"field": "vehicle", "title": "Vehicle"}, {"field": "status", "title": "Status"}]}`, 1)
	write(v1)
	// Restarted below where the page expects it: an address no other
	// test's socket can take meanwhile.
	srv := startServerEnvAt(t, []string{"DATABASE_URL="}, freeAddr(t), "-dashboards", file)
	p := newBrowser(t).MustPage("")
	p.MustEvalOnNewDocument(`sessionStorage.setItem("loads", String(Number(sessionStorage.getItem("loads") || 0) + 1))`)
	if err := p.Navigate(srv.URL + "/d/ops#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	poll.Until(t, 20*time.Second, func() error {
		if v := readLive(t, p); v.Title != "Ops v1" || v.Rows == 0 {
			return fmt.Errorf("%+v; want Ops v1 with its fleet table", v)
		}
		if rec := storedLKG(t, p); !strings.Contains(string(rec), "Ops v1") {
			return fmt.Errorf("the stored record does not hold Ops v1 yet")
		}
		return nil
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.stop(t)
	write(opsV2)
	startServerEnvAt(t, []string{"DATABASE_URL="}, addr, "-dashboards", file)
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		v := readLive(t, p)
		if v.Title != "Ops v2" || strings.Join(v.Panels, ",") != "queue,throughput,orders" || v.Rows == 0 || v.Points == 0 {
			return fmt.Errorf("%+v; want Ops v2 drawn with its orders table and chart", v)
		}
		return nil
	})
	if loads := eval(t, p, `() => sessionStorage.getItem("loads")`).Str(); loads != "2" {
		t.Fatalf("%s page loads, want 2 (the first visit and the reload): the redefined dashboard must switch in place", loads)
	}
	poll.Until(t, 20*time.Second, func() error {
		if rec := storedLKG(t, p); !strings.Contains(string(rec), "Ops v2") {
			return fmt.Errorf("the stored record does not hold Ops v2 yet")
		}
		return nil
	})
}

// TestPickerAndMissingOnPhone: on a phone, the picker and the page of an
// unknown (or deleted) id fit the viewport: no horizontal scroll.
func TestPickerAndMissingOnPhone(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-dashboards", twoDashboards(t))
	p := newBrowser(t).MustPage("")
	p.MustEmulate(devices.IPhoneX)
	if err := p.Navigate(srv.URL + "/d/second#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	for i, path := range []string{"/d/first", "/d/a-deleted-dashboard-with-a-rather-long-identifier-0123456789"} {
		if err := p.Navigate(srv.URL + path); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, 30*time.Second, func() error {
			v := readLive(t, p)
			missing := viewOf(t, p).Missing
			if strings.HasPrefix(path, "/d/first") && (v.Title != "First board" || len(v.Links) != 2) {
				return fmt.Errorf("%s: %+v; want the first board and the picker", path, v)
			}
			if !strings.HasPrefix(path, "/d/first") && !strings.Contains(missing, "deleted, or never existed") {
				return fmt.Errorf("%s says %q, want that it was deleted or never existed", path, missing)
			}
			if v.Scroll > 0 {
				return fmt.Errorf("%s: the page scrolls %d px sideways on a phone", path, v.Scroll)
			}
			return nil
		})
		p.MustScreenshot(fmt.Sprintf("%s/phone-%d.png", outDir(t), i))
	}
}

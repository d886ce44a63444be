//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
)

// aggView is what the page shows of a dashboard of aggregates.
type aggView struct {
	// Heads: per panel, its head's age text and its title's tooltip.
	Ages   map[string]string `json:"ages"`
	Titles map[string]string `json:"titles"`
	// Lists: per grouped KPI, its groups in order as "name=value".
	Lists map[string][]string `json:"lists"`
	// KPIs: per plain KPI, its value text.
	KPIs map[string]string `json:"kpis"`
	// Tables: per table, its rows as "key=value" (first two cells), in order.
	Tables map[string][]string `json:"tables"`
	// Series: per chart, uPlot's series labels; Points: its rows.
	Series map[string][]string `json:"series"`
	Points map[string]int      `json:"points"`
	// Last: per chart, each series' newest value (null: a gap).
	Last map[string][]*float64 `json:"last"`
	// Sums: per chart, each series' sum over the buckets it shows (by
	// series label), so a count does not depend on which minute it fell in.
	Sums    map[string]map[string]float64 `json:"sums"`
	Missing int                           `json:"missing"`
	Marker  bool                          `json:"marker"` // the page has not reloaded
}

const aggViewJS = `() => {
	const v = {ages: {}, titles: {}, lists: {}, kpis: {}, tables: {}, series: {}, points: {}, last: {}, sums: {}, missing: 0, marker: window.__aggMarker === 1};
	for (const s of document.querySelectorAll("section[data-panel]")) {
		const id = s.dataset.panel;
		const age = s.querySelector(".tt-age");
		v.ages[id] = age ? age.textContent : "";
		v.titles[id] = s.querySelector(".tt-panel-title").getAttribute("title") || "";
		const list = s.querySelector(".tt-kpi-groups");
		if (list) v.lists[id] = [...list.querySelectorAll(".tt-kpi-group")].map(li =>
			li.dataset.group + "=" + li.querySelector(".tt-kpi-group-value").textContent);
		const kpi = s.querySelector(".tt-kpi-value");
		if (kpi) v.kpis[id] = kpi.textContent;
		const tbl = s.querySelector("table");
		if (tbl) v.tables[id] = [...tbl.querySelectorAll("tr[data-key]")].map(tr =>
			tr.children[0].textContent + "=" + tr.children[1].textContent);
		const ch = s.querySelector(".tt-chart");
		if (ch && ch._uplot) {
			const u = ch._uplot;
			v.series[id] = u.series.slice(1).map(x => x.label);
			v.points[id] = u.data[0].length;
			v.last[id] = u.data.slice(1).map(col => {
				const x = col[col.length - 1];
				return Number.isFinite(x) ? x : null;
			});
			v.sums[id] = {};
			u.series.slice(1).forEach((x, i) => {
				v.sums[id][x.label] = [...u.data[i + 1]].filter(Number.isFinite).reduce((a, b) => a + b, 0);
			});
		}
	}
	if (window.telltaleStats) v.missing = JSON.parse(window.telltaleStats()).missing;
	return v;
}`

func readAggView(t *testing.T, p *rod.Page) aggView {
	t.Helper()
	var v aggView
	if err := json.Unmarshal([]byte(eval(t, p, aggViewJS).JSON("", "")), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// writeSpec writes a dashboard file and returns its path and the parsed
// (resolved) dashboard, whose panels name their derived streams.
func writeSpec(t *testing.T, spec string) (string, dashboard.Dashboard) {
	t.Helper()
	ds, err := dashboard.Parse([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dash.json")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ds[0]
}

func streamOf(t *testing.T, d dashboard.Dashboard, panel string) string {
	t.Helper()
	for _, p := range d.Panels {
		if p.ID == panel {
			return p.Stream
		}
	}
	t.Fatalf("no panel %s", panel)
	return ""
}

// aggShapes is a dashboard of aggregates over a source nothing writes, so
// the test can write their derived streams itself (the shapes of
// common.md) and check how the page draws them.
const aggShapes = `{"id": "agg-shapes", "title": "Aggregate shapes", "panels": [
	{"id": "open-list", "kind": "kpi", "title": "Open orders", "width": 4,
	 "agg": {"source": "shapes-src", "fn": "count", "group_by": "status", "window": "current"}},
	{"id": "open-table", "kind": "table", "title": "Open orders", "width": 4,
	 "agg": {"source": "shapes-src", "fn": "count", "group_by": "status", "window": "current"},
	 "columns": [{"field": "key", "title": "Status"}, {"field": "value", "title": "Orders", "format": "int"}]},
	{"id": "rev", "kind": "kpi", "title": "Revenue today", "width": 4, "format": "money", "currency": "EUR", "decimals": 0,
	 "agg": {"source": "shapes-src", "fn": "sum", "field": "total", "filter": "status in (paid, shipped)", "window": "today"}},
	{"id": "per-min", "kind": "timeseries", "title": "Orders per minute", "unit": "/min",
	 "agg": {"source": "shapes-src", "fn": "count", "group_by": "region", "window": "1m"}}]}`

// TestAggregatePanelsDraw: panels over aggregates draw the derived shapes:
// a grouped KPI ranks its groups ("other" last) and follows updates and
// deletes; a table of groups is a table; a chart that lists no series draws
// every group and adds one that appears later without a reload; the head
// says what is computed on hover, and no panel says "no data" for an
// aggregate that has not emitted.
func TestAggregatePanelsDraw(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	path, d := writeSpec(t, aggShapes)
	srv := startServerEnv(t, []string{"DATABASE_URL=" + db.DSN}, "-demo=false", "-dashboards", path)
	ctx := context.Background()
	publish := func(stream string, bodies ...string) {
		t.Helper()
		for _, b := range bodies {
			if _, err := db.Pool.Exec(ctx, `SELECT telltale.publish('demo', $1, $2::jsonb)`, stream, b); err != nil {
				t.Fatalf("publish %s %s: %v", stream, b, err)
			}
		}
	}
	groups, perMin := streamOf(t, d, "open-list"), streamOf(t, d, "per-min")
	if streamOf(t, d, "open-table") != groups {
		t.Fatalf("one aggregate on two panels is two streams")
	}

	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	eval(t, p, `() => { window.__aggMarker = 1 }`)

	// Before anything is emitted: no "no data" note, no "no data yet".
	v := readAggView(t, p)
	for id, age := range v.Ages {
		if age != "waiting for the first aggregate" && !strings.HasSuffix(age, "ago") && age != "now" {
			t.Errorf("panel %s head says %q before its aggregate spoke, want it waiting (or an age)", id, age)
		}
	}
	if v.Missing != 0 {
		t.Errorf("missing %d before any aggregate, want 0", v.Missing)
	}
	if got, want := v.Titles["rev"], "sum(total) where status in (paid, shipped), today"; got != want {
		t.Errorf("revenue's title tooltip %q, want %q", got, want)
	}
	if got, want := v.Titles["per-min"], "count by region, every 1m"; got != want {
		t.Errorf("per-minute's title tooltip %q, want %q", got, want)
	}

	// The server computes these aggregates too, from shapes-src, which
	// nothing writes: once a page asks for them it rebuilds each from the
	// store, against what its derived stream holds then, and writes the
	// difference (revenue today: 0; a delete of each group it does not
	// know). Wait until all three are built and its first word is on the
	// page, so that what the test writes next is the newest and is not
	// taken for a stale picture.
	poll.Until(t, 10*time.Second, func() error {
		active, building := serverMetric(t, srv, "telltale_agg_active"), serverMetric(t, srv, "telltale_agg_building")
		if active != 3 || building != 0 {
			return fmt.Errorf("server: %v aggregates active, %v building; want 3 built", active, building)
		}
		if got := readAggView(t, p).KPIs["rev"]; got != "€0" {
			return fmt.Errorf("revenue KPI %q, want the server's own €0 first", got)
		}
		return nil
	})
	publish(groups,
		`{"row": {"key": "new", "fields": {"value": 3}}}`,
		`{"row": {"key": "other", "fields": {"value": 9}}}`,
		`{"row": {"key": "packed", "fields": {"value": 5}}}`,
		`{"row": {"key": "paid", "fields": {"value": 1}}}`)
	publish(streamOf(t, d, "rev"), `{"values": {"value": 1234.4}}`)
	bucket := time.Now().Truncate(time.Minute).UnixMilli() - 60_000
	publish(perMin, fmt.Sprintf(`{"points": {"ts": [%d], "cols": [{"name": "eu", "vals": [3]}, {"name": "us", "vals": [7]}], "upsert": true}}`, bucket))
	poll.Until(t, 10*time.Second, func() error {
		v = readAggView(t, p)
		if want := []string{"packed=5", "new=3", "paid=1", "other=9"}; !slices.Equal(v.Lists["open-list"], want) {
			return fmt.Errorf("grouped KPI %q, want %q", v.Lists["open-list"], want)
		}
		if got := v.Tables["open-table"]; len(got) != 4 || !slices.Contains(got, "packed=5") || !slices.Contains(got, "other=9") {
			return fmt.Errorf("table of groups %q, want the 4 groups as key=value", got)
		}
		if got := v.KPIs["rev"]; got != "€1,234" {
			return fmt.Errorf("revenue KPI %q, want €1,234", got)
		}
		if want := []string{"us (/min)", "eu (/min)"}; !slices.Equal(v.Series["per-min"], want) {
			return fmt.Errorf("chart series %q, want %q", v.Series["per-min"], want)
		}
		return nil
	})
	if v.Missing != 0 {
		t.Errorf("missing %d with every aggregate emitted, want 0", v.Missing)
	}
	p.MustScreenshot(filepath.Join(outDir(t), "shapes.png"))

	// A group changes and one goes; the live bucket moves and a new group
	// appears in the next bucket: drawn without a reload.
	publish(groups, `{"row": {"key": "packed", "fields": {"value": 1}}}`, `{"row": {"key": "paid", "op": "delete"}}`)
	publish(perMin,
		fmt.Sprintf(`{"points": {"ts": [%d], "cols": [{"name": "eu", "vals": [4]}, {"name": "us", "vals": [8]}], "upsert": true}}`, bucket),
		fmt.Sprintf(`{"points": {"ts": [%d], "cols": [{"name": "eu", "vals": [1]}, {"name": "apac", "vals": [2]}], "upsert": true}}`, bucket+60_000))
	poll.Until(t, 10*time.Second, func() error {
		v = readAggView(t, p)
		if want := []string{"new=3", "packed=1", "other=9"}; !slices.Equal(v.Lists["open-list"], want) {
			return fmt.Errorf("grouped KPI %q, want %q", v.Lists["open-list"], want)
		}
		if want := []string{"us (/min)", "eu (/min)", "apac (/min)"}; !slices.Equal(v.Series["per-min"], want) {
			return fmt.Errorf("chart series %q, want %q", v.Series["per-min"], want)
		}
		if v.Points["per-min"] != 2 {
			return fmt.Errorf("chart has %d rows, want 2 buckets (the live one upserted)", v.Points["per-min"])
		}
		return nil
	})
	if !v.Marker {
		t.Fatalf("the page reloaded to draw a new group")
	}
	if last := v.Last["per-min"]; len(last) != 3 || last[0] != nil || last[1] == nil || *last[1] != 1 || last[2] == nil || *last[2] != 2 {
		t.Errorf("newest bucket per series %v, want us a gap, eu 1, apac 2", last)
	}
	p.MustScreenshot(filepath.Join(outDir(t), "shapes-later.png"))
}

// ordersDesk is issue 16's dashboard: orders per minute by region, revenue
// today, open orders by status (a table and a ranked KPI of one aggregate),
// over a watched orders table.
const ordersDesk = `{"id": "orders", "title": "Orders", "panels": [
	{"id": "per-min", "kind": "timeseries", "title": "Orders per minute by region", "unit": "/min", "width": 12,
	 "agg": {"source": "orders", "fn": "count", "group_by": "region", "window": "1m"}},
	{"id": "rev-today", "kind": "kpi", "title": "Revenue today", "format": "money", "currency": "EUR", "decimals": 0, "width": 4,
	 "agg": {"source": "orders", "fn": "sum", "field": "total", "filter": "status != cancelled", "window": "today"}},
	{"id": "open-list", "kind": "kpi", "title": "Open orders", "width": 4,
	 "agg": {"source": "orders", "fn": "count", "filter": "status in (new, paid, packed)", "group_by": "status", "window": "current"}},
	{"id": "open", "kind": "table", "title": "Open orders by status", "width": 4,
	 "agg": {"source": "orders", "fn": "count", "filter": "status in (new, paid, packed)", "group_by": "status", "window": "current"},
	 "columns": [{"field": "key", "title": "Status"}, {"field": "value", "title": "Orders", "format": "int"}]}]}`

// panelsOf is what each panel of ordersDesk shows, as one comparable text
// per panel.
func panelsOf(v aggView) map[string]string {
	sums := v.Sums["per-min"]
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.Sort(names)
	var chart []string
	for _, n := range names {
		chart = append(chart, fmt.Sprintf("%s=%g", strings.TrimSuffix(n, " (/min)"), sums[n]))
	}
	table := slices.Clone(v.Tables["open"])
	slices.Sort(table) // a table of groups is newest-changed first
	return map[string]string{
		"per-min":   strings.Join(chart, " "),
		"rev-today": v.KPIs["rev-today"],
		"open-list": strings.Join(v.Lists["open-list"], " "),
		"open":      strings.Join(table, " "),
	}
}

// TestAggregatesFollowTheTable is issue 16's end-to-end test: a watched
// orders table in PostgreSQL, a dashboard of aggregates over it, and SQL
// that inserts and updates orders. Each statement changes exactly the
// panels it should, within a second of its commit, and the others not.
func TestAggregatesFollowTheTable(t *testing.T) {
	// No t.Parallel: it holds each commit to the screen within 1 s, a
	// latency, measured with the CPU to itself (doc.go).
	db := pgtest.New(t)
	path, _ := writeSpec(t, ordersDesk)
	srv := startServerEnv(t, []string{"DATABASE_URL=" + db.DSN}, "-demo=false", "-dashboards", path)
	ctx := context.Background()
	for _, sql := range []string{
		`CREATE TABLE orders (id int PRIMARY KEY, tenant text NOT NULL, region text, status text, total numeric)`,
		`SELECT telltale.watch('orders', 'orders', 'tenant')`,
	} {
		if _, err := db.Pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	eval(t, p, `() => { window.__aggMarker = 1 }`)

	v := readAggView(t, p)
	if got, want := v.Titles["rev-today"], "sum(total) where status != cancelled, today"; got != want {
		t.Errorf("revenue's tooltip %q, want %q", got, want)
	}
	before := panelsOf(v)
	t.Logf("before any order: %q", before)

	var slowest time.Duration
	for _, step := range []struct {
		name string
		sql  string
		want map[string]string // the panels that change, and to what
	}{
		{"three orders", `INSERT INTO orders VALUES (1, 'demo', 'eu', 'new', 10), (2, 'demo', 'us', 'paid', 20), (3, 'demo', 'eu', 'paid', 5), (99, 'other-tenant', 'eu', 'new', 1000)`,
			map[string]string{"per-min": "eu=2 us=1", "rev-today": "€35", "open-list": "paid=2 new=1", "open": "new=1 paid=2"}},
		{"an order packed", `UPDATE orders SET status = 'packed' WHERE id = 1`,
			map[string]string{"open-list": "paid=2 packed=1", "open": "packed=1 paid=2"}},
		{"a cancelled order from a new region", `INSERT INTO orders VALUES (4, 'demo', 'apac', 'cancelled', 100)`,
			map[string]string{"per-min": "apac=1 eu=2 us=1"}},
		{"an order shipped", `UPDATE orders SET status = 'shipped' WHERE id = 2`,
			map[string]string{"open-list": "packed=1 paid=1", "open": "packed=1 paid=1"}},
		{"an order deleted", `DELETE FROM orders WHERE id = 3`,
			map[string]string{"open-list": "packed=1", "open": "packed=1"}},
	} {
		want := maps.Clone(before)
		maps.Copy(want, step.want)
		if _, err := db.Pool.Exec(ctx, step.sql); err != nil {
			t.Fatalf("%s: %v", step.sql, err)
		}
		committed := time.Now()
		var took time.Duration
		seen := map[string]time.Duration{} // when each panel first showed its change
		poll.Until(t, 10*time.Second, func() error {
			got := panelsOf(readAggView(t, p))
			at := time.Since(committed)
			var err error
			for id, w := range step.want {
				if got[id] != w {
					err = fmt.Errorf("%s: panel %s shows %q, want %q", step.name, id, got[id], w)
				} else if _, ok := seen[id]; !ok {
					seen[id] = at
				}
			}
			if err != nil {
				return err
			}
			took = at
			return nil
		})
		// The other panels stay as they were: wait out two emit periods.
		time.Sleep(600 * time.Millisecond)
		got := panelsOf(readAggView(t, p))
		if !maps.Equal(got, want) {
			t.Errorf("%s: the page shows %q, want %q (only %v changed)", step.name, got, want, slices.Sorted(maps.Keys(step.want)))
		}
		t.Logf("%s: on screen %v after the commit (by panel %v)", step.name, took.Round(time.Millisecond), seen)
		if took > time.Second {
			t.Errorf("%s: the panels changed %v after the commit, want within 1 s", step.name, took.Round(time.Millisecond))
		}
		slowest = max(slowest, took)
		before = got
	}
	t.Logf("slowest commit → screen: %v", slowest.Round(time.Millisecond))
	v = readAggView(t, p)
	if !v.Marker {
		t.Errorf("the page reloaded")
	}
	if v.Missing != 0 {
		t.Errorf("missing %d, want 0", v.Missing)
	}
	if got := slices.Sorted(slices.Values(v.Series["per-min"])); !slices.Equal(got, []string{"apac (/min)", "eu (/min)", "us (/min)"}) {
		t.Errorf("chart series %q, want every region", got)
	}
	p.MustScreenshot(filepath.Join(outDir(t), "orders.png"))

	// The orders stop: the aggregates go quiet with their source, however
	// often the engine's ticker runs, and the one that moved with every
	// step (its rhythm learnt: about a second) is flagged stale as a raw
	// stream of that rhythm would be. (The others moved once or twice: too
	// little history, stale after a minute.)
	quiet := time.Now()
	poll.Until(t, 30*time.Second, func() error {
		if age := readAggView(t, p).Ages["open"]; !strings.HasPrefix(age, "stale") {
			return fmt.Errorf("open orders' head %q, want stale", age)
		}
		return nil
	})
	t.Logf("stale %v after the last order", time.Since(quiet).Round(100*time.Millisecond))
}

// serverMetric reads one unlabelled value of the server's /metrics (on its
// metrics listener); a name it does not have fails the test.
func serverMetric(t *testing.T, srv *server, name string) float64 {
	t.Helper()
	res, err := http.Get(srv.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s at %s", name, srv.MetricsURL)
	return 0
}

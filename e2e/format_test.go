//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
)

// phoneSpec is a shop dashboard as an operator would write it: a euro KPI,
// a rate KPI with a unit, a five-column table whose columns cannot all fit
// on a phone (priorities say which stay), and a chart with a display name
// and a unit.
const phoneSpec = `{"id": "shop", "title": "Shop", "panels": [
	{"id": "revenue", "kind": "kpi", "title": "Revenue", "stream": "shop", "field": "revenue", "format": "money", "currency": "EUR", "width": 3},
	{"id": "rate", "kind": "kpi", "title": "Rate", "stream": "shop", "field": "rate", "unit": "/min", "width": 3},
	{"id": "orders", "kind": "table", "title": "Orders", "stream": "shop", "width": 6, "columns": [
		{"field": "key", "title": "Order"},
		{"field": "placed", "title": "Placed", "format": "time", "priority": 1},
		{"field": "total", "title": "Total", "format": "money", "currency": "EUR", "priority": 2},
		{"field": "status", "title": "Status", "priority": 3},
		{"field": "note", "title": "Note"}]},
	{"id": "trend", "kind": "timeseries", "title": "Orders per minute", "stream": "shop", "series": ["orders_per_min"],
		"labels": {"orders_per_min": "Orders"}, "unit": "/min", "width": 6}]}`

// hideOrder is the order phoneSpec's table hides its columns in: priority 0
// (none given) first, then the largest priority; the first column never.
var hideOrder = []string{"Note", "Status", "Total", "Placed"}

// TestPhoneShowsValuesWhole opens a shop dashboard on a 390 px phone set to
// German in Berlin: money shows its currency and cents on one line, the
// rate KPI its unit, the table keeps the columns that fit by priority with
// no sideways scroll, a PostgreSQL timestamptz string shows as local time,
// a row's key shows in a "key" column, and the chart shows its unit on the
// value axis and its series' display name in the legend.
func TestPhoneShowsValuesWhole(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-0001"
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(t.TempDir(), "shop.json")
	if err := os.WriteFile(spec, []byte(phoneSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key)
	p := newBrowser(t).MustPage("")
	p.MustSetViewport(390, 844, 1, true)
	if err := (proto.EmulationSetLocaleOverride{Locale: "de-DE"}).Call(p); err != nil {
		t.Fatal(err)
	}
	if err := (proto.EmulationSetTimezoneOverride{TimezoneID: "Europe/Berlin"}).Call(p); err != nil {
		t.Fatal(err)
	}
	// uPlot draws its axes on the canvas: keep every text it draws.
	p.MustEvalOnNewDocument(`(() => {
		const fill = CanvasRenderingContext2D.prototype.fillText;
		window.__drawnTexts = new Set();
		CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
			window.__drawnTexts.add(String(text));
			return fill.call(this, text, ...rest);
		};
	})()`)
	openLive(t, p, srv.URL)

	// As PostgreSQL's jsonb renders a timestamptz: microseconds, an offset.
	placed := time.Now().UTC().Truncate(time.Second).Add(463097 * time.Microsecond)
	placedJSON := placed.Format("2006-01-02T15:04:05.000000") + "+00:00"
	now := time.Now().UnixMilli()
	ingest(t, srv.URL, key, fmt.Sprintf(`{"events": [
		{"stream": "shop", "values": {"revenue": 1234567.89, "rate": 1234.5},
		 "row": {"key": "SO-1001", "fields": {"placed": %q, "total": 1234.5, "status": "packed", "note": "leave it at the back door and ring twice"}},
		 "points": {"ts": [%d, %d, %d], "cols": [{"name": "orders_per_min", "vals": [1180, 1234.5, 1210]}]}}]}`,
		placedJSON, now-2000, now-1000, now))

	t.Run("euro KPI on one line with cents", func(t *testing.T) {
		want := eval(t, p, `() => new Intl.NumberFormat("de-DE", {style: "currency", currency: "EUR"}).format(1234567.89)`).Str()
		if want != "1.234.567,89\u00a0€" {
			t.Fatalf("this Chromium formats 1234567.89 EUR in de-DE as %q", want)
		}
		var got kpiDOM
		poll.Until(t, 10*time.Second, func() (err error) {
			if got, err = readKPI(p, "kpi-revenue"); err != nil {
				return err
			}
			if got.Text != want {
				return fmt.Errorf("revenue KPI %q, want %q", got.Text, want)
			}
			return nil
		})
		if got.Lines != 1 || got.ScrollWidth > got.ClientWidth {
			t.Fatalf("revenue KPI %q is %d lines, %d px of text in %d px: want one line that fits", got.Text, got.Lines, got.ScrollWidth, got.ClientWidth)
		}
		t.Logf("revenue KPI %q: one line, %d of %d px, font %s", got.Text, got.ScrollWidth, got.ClientWidth, got.Font)
	})

	t.Run("KPI shows its unit", func(t *testing.T) {
		poll.Until(t, 10*time.Second, func() error {
			got, err := readKPI(p, "kpi-rate")
			if err != nil {
				return err
			}
			if got.Text != "1.234,5 /min" || got.Lines != 1 {
				return fmt.Errorf("rate KPI %q on %d lines, want \"1.234,5 /min\" on one", got.Text, got.Lines)
			}
			return nil
		})
	})

	t.Run("table keeps the columns that fit, by priority", func(t *testing.T) {
		var dom phoneTableDOM
		poll.Until(t, 10*time.Second, func() (err error) {
			if dom, err = readPhoneTable(p, "SO-1001"); err != nil {
				return err
			}
			if dom.ScrollWidth > dom.ClientWidth {
				return fmt.Errorf("table scrolls sideways: %d px of columns %v in %d px", dom.ScrollWidth, dom.Headers, dom.ClientWidth)
			}
			return nil
		})
		for _, h := range []string{"Order", "Placed", "Total"} {
			if !slices.Contains(dom.Headers, h) {
				t.Fatalf("columns %v on a 390 px phone, want %s among them", dom.Headers, h)
			}
		}
		var hidden []string
		for _, h := range []string{"Order", "Placed", "Total", "Status", "Note"} {
			if !slices.Contains(dom.Headers, h) {
				hidden = append(hidden, h)
			}
		}
		slices.SortFunc(hidden, func(a, b string) int { return slices.Index(hideOrder, a) - slices.Index(hideOrder, b) })
		if len(hidden) == 0 || !slices.Equal(hidden, hideOrder[:len(hidden)]) {
			t.Fatalf("hidden columns %v, want the first of %v (at least Note: five columns cannot fit)", hidden, hideOrder)
		}
		for i, c := range dom.Cells {
			if c.ScrollWidth > c.ClientWidth {
				t.Fatalf("column %s cuts %q: %d px of text in %d px", dom.Headers[i], c.Text, c.ScrollWidth, c.ClientWidth)
			}
		}
		t.Logf("columns %v in %d px (%v hidden)", dom.Headers, dom.ClientWidth, hidden)
	})

	t.Run("a key column shows the row's key", func(t *testing.T) {
		dom, err := readPhoneTable(p, "SO-1001")
		if err != nil {
			t.Fatal(err)
		}
		if len(dom.Cells) == 0 || dom.Cells[0].Text != "SO-1001" {
			t.Fatalf("row SO-1001 shows %+v, want its key SO-1001 in the Order column", dom.Cells)
		}
	})

	t.Run("a timestamptz string shows as local time", func(t *testing.T) {
		local := placed.In(berlin)
		dom, err := readPhoneTable(p, "SO-1001")
		if err != nil {
			t.Fatal(err)
		}
		at := slices.Index(dom.Headers, "Placed")
		if at < 0 {
			t.Fatalf("no Placed column in %v", dom.Headers)
		}
		// Today's time of day, or with the date if Berlin's midnight passed.
		got := dom.Cells[at].Text
		if got != local.Format("15:04:05") && got != local.Format("02.01.2006, 15:04:05") {
			t.Fatalf("placed %s shows %q, want Berlin's %s", placedJSON, got, local.Format("15:04:05"))
		}
	})

	t.Run("chart shows its unit and display names", func(t *testing.T) {
		poll.Until(t, 10*time.Second, func() error {
			legend := eval(t, p, `() => [...document.querySelectorAll("#chart-trend .u-legend .u-series .u-label")].map(e => e.textContent)`)
			var labels []string
			for _, l := range legend.Arr() {
				labels = append(labels, l.Str())
			}
			if !slices.ContainsFunc(labels, func(l string) bool { return strings.HasPrefix(l, "Orders") }) {
				return fmt.Errorf("legend %q, want the display name Orders", labels)
			}
			drawn := eval(t, p, `() => [...window.__drawnTexts]`)
			var texts []string
			for _, s := range drawn.Arr() {
				texts = append(texts, s.Str())
			}
			if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "/min") }) {
				return fmt.Errorf("the canvas shows %q, want the unit /min on the value axis", texts)
			}
			return nil
		})
	})
	shot := filepath.Join(outDir(t), "phone.png")
	p.MustScreenshotFullPage(shot)
	t.Logf("screenshot: %s", shot)
}

type kpiDOM struct {
	Text                     string
	Lines                    int
	ScrollWidth, ClientWidth int
	Font                     string
}

// readKPI reads a KPI's text, how many lines it takes (the line boxes of
// its text) and whether it is cut.
func readKPI(p *rod.Page, id string) (kpiDOM, error) {
	res, err := p.Eval(`(id) => {
		const e = document.getElementById(id);
		if (!e) return null;
		const r = document.createRange();
		r.selectNodeContents(e);
		const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
		return {text: e.textContent, lines: tops.size, sw: e.scrollWidth, cw: e.clientWidth, font: getComputedStyle(e).fontSize};
	}`, id)
	if err != nil {
		return kpiDOM{}, err
	}
	v := res.Value
	if v.Nil() {
		return kpiDOM{}, fmt.Errorf("no #%s yet", id)
	}
	return kpiDOM{Text: v.Get("text").Str(), Lines: v.Get("lines").Int(), ScrollWidth: v.Get("sw").Int(), ClientWidth: v.Get("cw").Int(), Font: v.Get("font").Str()}, nil
}

type cellDOM struct {
	Text                     string
	ScrollWidth, ClientWidth int
}

type phoneTableDOM struct {
	Headers                  []string // the visible columns' titles
	Cells                    []cellDOM
	ScrollWidth, ClientWidth int // the scroll container's
}

// readPhoneTable reads #table-orders: its visible columns, one row's cells
// in them, and whether the container scrolls sideways.
func readPhoneTable(p *rod.Page, key string) (phoneTableDOM, error) {
	res, err := p.Eval(`(key) => {
		const t = document.getElementById("table-orders");
		if (!t) return null;
		const shown = e => e.getClientRects().length > 0;
		const row = t.querySelector('tr[data-key="' + key + '"]');
		if (!row) return null;
		return {
			headers: [...t.querySelectorAll("thead th")].filter(shown).map(e => e.textContent),
			cells: [...row.children].filter(shown).map(e => ({text: e.textContent, sw: e.scrollWidth, cw: e.clientWidth})),
			sw: t.parentElement.scrollWidth, cw: t.parentElement.clientWidth,
		};
	}`, key)
	if err != nil {
		return phoneTableDOM{}, err
	}
	v := res.Value
	if v.Nil() {
		return phoneTableDOM{}, fmt.Errorf("no row %s in #table-orders yet", key)
	}
	var out phoneTableDOM
	for _, h := range v.Get("headers").Arr() {
		out.Headers = append(out.Headers, h.Str())
	}
	for _, c := range v.Get("cells").Arr() {
		out.Cells = append(out.Cells, cellDOM{Text: c.Get("text").Str(), ScrollWidth: c.Get("sw").Int(), ClientWidth: c.Get("cw").Int()})
	}
	out.ScrollWidth, out.ClientWidth = v.Get("sw").Int(), v.Get("cw").Int()
	return out, nil
}

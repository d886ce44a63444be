//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
)

// panelsSpec is a fleet dashboard of the panels that say what needs
// action: a status grid by a watched row's field (a number with
// thresholds and a string by a value map), a bar of a grouped aggregate,
// and a table with coloured cells.
const panelsSpec = `{"id": "fleet", "title": "Fleet", "panels": [
	{"id": "backlog", "kind": "kpi", "title": "Backlog", "stream": "yard", "field": "backlog", "width": 6, "compare_seconds": 1,
		"thresholds": [{"value": 50, "level": "warn"}, {"value": 90, "level": "critical"}]},
	{"id": "rate", "kind": "stat", "title": "Unload rate", "stream": "yard", "field": "rate", "unit": "/h", "width": 6, "compare_seconds": 1,
		"direction": "below", "thresholds": [{"value": 5, "level": "critical"}, {"value": 20, "level": "warn"}]},
	{"id": "delay", "kind": "status", "title": "Delay", "stream": "trucks", "field": "delay_min", "label_field": "name",
		"thresholds": [{"value": 0, "level": "ok"}, {"value": 10, "level": "warn"}, {"value": 30, "level": "critical"}], "width": 6},
	{"id": "state", "kind": "status", "title": "State", "stream": "trucks", "field": "state",
		"value_map": {"delayed": "critical", "on_time": "ok"}, "width": 6},
	{"id": "by-region", "kind": "bar", "title": "Delay by region", "width": 6,
		"agg": {"source": "trucks", "fn": "sum", "field": "delay_min", "group_by": "region", "window": "current", "emit_ms": 100}},
	{"id": "trucks", "kind": "table", "title": "Trucks", "stream": "trucks", "width": 6, "columns": [
		{"field": "key", "title": "Truck"},
		{"field": "region", "title": "Region"},
		{"field": "delay_min", "title": "Delay", "format": "int", "thresholds": [{"value": 30, "level": "critical"}]}]}]}`

func truck(key, name, region, state string, delay int) string {
	return fmt.Sprintf(`{"stream": "trucks", "row": {"key": %q, "fields": {"name": %q, "region": %q, "state": %q, "delay_min": %d}}}`, key, name, region, state, delay)
}

// TestPanelsSayWhatNeedsAction: a kpi and a stat take the level of their
// thresholds (low is bad for the stat) and say their change, a status tile turns critical when its
// watched row's field crosses a threshold (and by a value map), a bar panel
// re-sorts live when the groups' order changes, and a table sorts on a
// header click (aria-sort) and filters its rows.
func TestPanelsSayWhatNeedsAction(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-0001"
	spec := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(spec, []byte(panelsSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key)
	p := newBrowser(t).MustPage("")
	p.MustSetViewport(1280, 900, 1, false)
	openLive(t, p, srv.URL)
	ingest(t, srv.URL, key, `{"events": [`+
		truck("t1", "Truck 1", "north", "on_time", 2)+","+
		truck("t2", "Truck 2", "south", "on_time", 12)+","+
		truck("t3", "Truck 3", "south", "on_time", 5)+`]}`)

	// tile reads a status tile's level, mark and tooltip.
	tile := func(panel, key string) (level, text, title string) {
		v := eval(t, p, `(panel, key) => {
			const el = document.querySelector('#status-' + panel + ' .tt-tile[data-key="' + key + '"]');
			return el ? [el.dataset.level, el.textContent, el.title] : ["missing", "", ""];
		}`, panel, key).Arr()
		return v[0].Str(), v[1].Str(), v[2].Str()
	}
	wantTile := func(panel, key, level string) {
		t.Helper()
		poll.Until(t, 10*time.Second, func() error {
			if got, text, _ := tile(panel, key); got != level {
				return fmt.Errorf("tile %s of %s is %q (%q), want %q", key, panel, got, text, level)
			}
			return nil
		})
	}

	t.Run("kpi and stat levels and change", func(t *testing.T) {
		ingest(t, srv.URL, key, `{"events": [{"stream": "yard", "values": {"backlog": 40, "rate": 30}}]}`)
		var shown time.Time
		poll.Until(t, 10*time.Second, func() error {
			if got := eval(t, p, `() => document.getElementById("kpi-backlog")?.textContent ?? ""`).Str(); got != "40" {
				return fmt.Errorf("backlog %q, want 40", got)
			}
			shown = time.Now()
			return nil
		})
		// The change compares with the value the page held compare_seconds
		// before: that long must pass with 40 on screen.
		poll.Until(t, 5*time.Second, func() error {
			if held := time.Since(shown); held < 1500*time.Millisecond {
				return fmt.Errorf("the page has held 40 for %v, less than compare_seconds", held)
			}
			return nil
		})
		ingest(t, srv.URL, key, `{"events": [{"stream": "yard", "values": {"backlog": 95, "rate": 3}}]}`)
		read := func(id string) (level, change string) {
			v := eval(t, p, `(id) => {
				const el = document.getElementById("kpi-" + id)?.closest(".tt-leveled");
				return el ? [el.dataset.level, el.querySelector(".tt-change")?.textContent ?? ""] : ["missing", ""];
			}`, id).Arr()
			return v[0].Str(), v[1].Str()
		}
		poll.Until(t, 10*time.Second, func() error {
			for _, want := range []struct{ id, level, change string }{
				{"backlog", "critical", "▲ 138% vs 1 s ago"},
				{"rate", "critical", "▼ 90% vs 1 s ago"},
			} {
				if level, change := read(want.id); level != want.level || change != want.change {
					return fmt.Errorf("%s: level %q, change %q; want %q, %q", want.id, level, change, want.level, want.change)
				}
			}
			return nil
		})
		if pts := eval(t, p, `() => document.querySelector('[data-panel="rate"] .tt-spark polyline')?.getAttribute("points") ?? ""`).Str(); len(strings.Fields(pts)) < 2 {
			t.Errorf("the stat's sparkline has points %q, want a line of its history", pts)
		}
		if title := eval(t, p, `() => document.getElementById("kpi-rate").closest(".tt-leveled").title`).Str(); title != "critical — critical ≤ 5 · warn ≤ 20" {
			t.Errorf("the stat's rule reads %q", title)
		}
	})

	t.Run("status tile turns critical", func(t *testing.T) {
		wantTile("delay", "t1", "ok")
		wantTile("delay", "t2", "warn")
		wantTile("state", "t1", "ok")
		ingest(t, srv.URL, key, `{"events": [`+truck("t1", "Truck 1", "north", "delayed", 45)+`]}`)
		wantTile("delay", "t1", "critical")
		wantTile("state", "t1", "critical")
		_, text, title := tile("delay", "t1")
		if want := "✖Truck 145"; text != want {
			t.Errorf("critical tile reads %q, want %q (a mark, not colour alone)", text, want)
		}
		if want := "Truck 1: 45 — critical — critical ≥ 30 · warn ≥ 10 · ok ≥ 0"; title != want {
			t.Errorf("critical tile's rule %q, want %q", title, want)
		}
		// A tap shows the rule where there is no hover.
		p.MustElement(`#status-delay .tt-tile[data-key="t1"]`).MustClick()
		poll.Until(t, 5*time.Second, func() error {
			if got := eval(t, p, `() => document.getElementById("tt-rule")?.textContent ?? ""`).Str(); got != title {
				return fmt.Errorf("after a tap the rule reads %q, want %q", got, title)
			}
			return nil
		})
		p.MustElement(".tt-title").MustClick()
		poll.Until(t, 5*time.Second, func() error {
			if eval(t, p, `() => !!document.getElementById("tt-rule")`).Bool() {
				return fmt.Errorf("the rule stays open after a tap elsewhere")
			}
			return nil
		})
		colour := eval(t, p, `() => getComputedStyle(document.querySelector('#status-delay .tt-tile[data-key="t1"]')).borderLeftColor`).Str()
		calm := eval(t, p, `() => getComputedStyle(document.querySelector('#status-delay .tt-tile[data-key="t3"]')).borderLeftColor`).Str()
		if colour == calm {
			t.Errorf("critical and ok tiles share the colour %s", colour)
		}
	})

	bars := func() []string {
		var out []string
		for _, g := range eval(t, p, `() => [...document.querySelectorAll('#bar-by-region .tt-bar-row')].map(r => r.dataset.group)`).Arr() {
			out = append(out, g.Str())
		}
		return out
	}
	t.Run("bar sorts live", func(t *testing.T) {
		// north 45, south 17
		poll.Until(t, 10*time.Second, func() error {
			if got := fmt.Sprint(bars()); got != "[north south]" {
				return fmt.Errorf("bars %s, want [north south]", got)
			}
			return nil
		})
		ingest(t, srv.URL, key, `{"events": [`+truck("t3", "Truck 3", "south", "delayed", 90)+`]}`)
		poll.Until(t, 10*time.Second, func() error {
			if got := fmt.Sprint(bars()); got != "[south north]" {
				return fmt.Errorf("bars %s, want [south north] once south's delay passes north's", got)
			}
			return nil
		})
	})

	column := func(n int) string {
		return eval(t, p, `(n) => [...document.querySelectorAll('#table-trucks tbody tr:not(.tt-spacer)')].map(r => r.children[n].textContent).join(",")`, n).Str()
	}
	t.Run("table sorts on a header click and filters", func(t *testing.T) {
		poll.Until(t, 10*time.Second, func() error {
			if got := column(0); got != "t3,t1,t2" {
				return fmt.Errorf("trucks %s, want the newest first: t3,t1,t2", got)
			}
			return nil
		})
		if got := eval(t, p, `() => document.querySelector('#table-trucks td[data-level="critical"]')?.textContent ?? ""`).Str(); got != "90" && got != "45" {
			t.Errorf("a delay over 30 is not marked critical: got %q", got)
		}
		th := p.MustElement(`#table-trucks th:nth-child(3)`)
		for _, want := range []struct{ order, sort string }{{"t2,t1,t3", "ascending"}, {"t3,t1,t2", "descending"}} {
			th.MustClick()
			poll.Until(t, 5*time.Second, func() error {
				sort := th.MustAttribute("aria-sort")
				if got := column(0); got != want.order || sort == nil || *sort != want.sort {
					return fmt.Errorf("trucks %s (aria-sort %v), want %s by delay, %s", got, sort, want.order, want.sort)
				}
				return nil
			})
		}
		// By keyboard: Enter on the focused header sorts as a click.
		th.MustFocus()
		p.Keyboard.MustType(input.Enter)
		poll.Until(t, 5*time.Second, func() error {
			if sort := th.MustAttribute("aria-sort"); sort == nil || *sort != "none" {
				return fmt.Errorf("after Enter on a descending header: aria-sort %v, want none (newest first)", sort)
			}
			return nil
		})
		p.Keyboard.MustType(input.Enter)
		poll.Until(t, 5*time.Second, func() error {
			if sort := th.MustAttribute("aria-sort"); sort == nil || *sort != "ascending" {
				return fmt.Errorf("after Enter again: aria-sort %v, want ascending", sort)
			}
			return nil
		})
		p.MustElement("#filter-trucks").MustInput("nort")
		poll.Until(t, 5*time.Second, func() error {
			if got := column(0); got != "t1" {
				return fmt.Errorf("filtered on \"nort\": trucks %s, want t1", got)
			}
			return nil
		})
		shot := filepath.Join(outDir(t), "panels.png")
		p.MustScreenshotFullPage(shot)
		t.Logf("screenshot: %s", shot)
	})

	t.Run("levels have colours of their own in both themes", func(t *testing.T) {
		colours := func(scheme string) (crit, ok string) {
			if err := (proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}).Call(p); err != nil {
				t.Fatal(err)
			}
			v := eval(t, p, `() => ["t1", "t2"].map(k => getComputedStyle(document.querySelector('#status-state .tt-tile[data-key="' + k + '"]')).borderLeftColor)`).Arr()
			return v[0].Str(), v[1].Str()
		}
		lightCrit, lightOK := colours("light")
		darkCrit, darkOK := colours("dark")
		if lightCrit == lightOK || darkCrit == darkOK || lightCrit == darkCrit {
			t.Errorf("critical and ok tiles: light %s and %s, dark %s and %s: want each level its colour, tuned per theme", lightCrit, lightOK, darkCrit, darkOK)
		}
		shot := filepath.Join(outDir(t), "panels-dark.png")
		p.MustScreenshotFullPage(shot)
		t.Logf("screenshot: %s", shot)
	})
}

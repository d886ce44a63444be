//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/devices"

	"github.com/telltale/telltale/internal/poll"
)

// TestColdStartOrder: on a first visit the page asks for what its first
// chart needs as early as it can (bench/results/2026-12-06-coldvisit.md):
// app.wasm is fetched once, by the preload link in the page's head, not
// after go-app's app.js has run; the spec's request starts before the stored
// state has been read; a chart below the fold gets its uPlot only when it
// scrolls into view.
func TestColdStartOrder(t *testing.T) {
	t.Parallel()
	// Five charts of the demo's metrics, one under the other: a phone's
	// first screen shows two.
	var panels []string
	for i := range 5 {
		panels = append(panels, fmt.Sprintf(`{"id":"c%d","kind":"timeseries","title":"Chart %d","stream":"metrics","series":["pick_rate"],"width":12,"window_seconds":60}`, i, i))
	}
	spec := filepath.Join(t.TempDir(), "tall.json")
	if err := os.WriteFile(spec, []byte(`{"id":"tall","title":"Tall","panels":[`+strings.Join(panels, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-dashboards", spec)
	b := newBrowser(t)
	p := b.MustPage("")
	p.MustEmulate(devices.IPhoneX)
	if err := p.Navigate(signIn(t, srv.URL, "demo")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		if eval(t, p, `() => performance.getEntriesByName("telltale:first-chart").length`).Int() == 0 {
			return errors.New("no chart drawn yet")
		}
		return nil
	})

	wasm := eval(t, p, `() => performance.getEntriesByType("resource").filter(r => new URL(r.name).pathname === "/web/app.wasm").map(r => r.initiatorType)`).Arr()
	if len(wasm) != 1 || wasm[0].Str() != "link" {
		t.Errorf("app.wasm fetched by %v, want once, by the preload link", wasm)
	}

	order := eval(t, p, `() => {
		const spec = performance.getEntriesByType("resource").find(r => new URL(r.name).pathname.startsWith("/api/v1/dashboards/"));
		const read = performance.getEntriesByName("telltale:lkg-read")[0];
		return {spec: spec ? spec.startTime : -1, read: read ? read.startTime : -1};
	}`)
	if spec, read := order.Get("spec").Num(), order.Get("read").Num(); spec < 0 || read < 0 || spec > read {
		t.Errorf("the spec's request started at %.0f ms, the stored state was read at %.0f ms: want the request first", spec, read)
	}

	below := `() => [...document.querySelectorAll(".tt-chart")].filter(e => e.getBoundingClientRect().top > innerHeight + 50).map(e => ({id: e.id, uplot: !!e._uplot}))`
	charts := eval(t, p, below).Arr()
	if len(charts) == 0 {
		t.Fatal("no chart below the fold on a phone: want the last of five charts there")
	}
	for _, c := range charts {
		if c.Get("uplot").Bool() {
			t.Errorf("%s, below the fold, has a uPlot already: want it made when it comes into view", c.Get("id").Str())
		}
	}
	id := charts[len(charts)-1].Get("id").Str()
	eval(t, p, `(id) => document.getElementById(id).scrollIntoView()`, id)
	poll.Until(t, 10*time.Second, func() error {
		if !eval(t, p, `(id) => !!document.getElementById(id)._uplot`, id).Bool() {
			return fmt.Errorf("%s scrolled into view has no uPlot", id)
		}
		return nil
	})
}

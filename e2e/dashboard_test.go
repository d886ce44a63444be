//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/devices"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
)

// chartState reads what uPlot holds and what the canvas shows: the number of
// points in uPlot's data and how many canvas pixels differ from the first.
const chartState = `(id) => {
	const el = document.getElementById(id);
	if (!el || !el._uplot) return {points: 0, inked: 0};
	const u = el._uplot;
	const c = u.ctx.canvas;
	const px = u.ctx.getImageData(0, 0, c.width, c.height).data;
	let inked = 0;
	for (let i = 0; i < px.length; i += 4) {
		if (px[i+3] !== 0) inked++;
	}
	return {points: u.data[0].length, inked, width: c.width, height: c.height};
}`

// openLive signs page p in to the demo tenant at base and waits until its
// connection is live (the badge may still say the data is stale: it
// follows the data too).
func openLive(t *testing.T, p *rod.Page, base string) {
	t.Helper()
	if err := p.Navigate(signIn(t, base, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
}

func waitLive(t *testing.T, p *rod.Page) {
	t.Helper()
	poll.Until(t, 30*time.Second, func() error {
		state := eval(t, p, `() => window.telltaleStats ? JSON.parse(window.telltaleStats()).status : ""`).Str()
		if state != "live" {
			return fmt.Errorf("connection %q, want live", state)
		}
		return nil
	})
}

func TestDashboardGoesLive(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	b := newBrowser(t)
	p := b.MustPage("")
	opened := time.Now()
	openLive(t, p, srv.URL)

	// The chart is drawn with demo data: uPlot holds points and the canvas
	// has ink on it.
	var points, inked int
	poll.Until(t, 20*time.Second, func() error {
		res, err := p.Eval(chartState, "chart-throughput")
		if err != nil {
			return err
		}
		points, inked = res.Value.Get("points").Int(), res.Value.Get("inked").Int()
		if points < 10 || inked < 500 {
			return fmt.Errorf("chart has %d points and %d inked pixels, want ≥10 and ≥500", points, inked)
		}
		return nil
	})
	firstChart := eval(t, p, `() => { const m = performance.getEntriesByName("telltale:first-chart")[0]; return m ? m.startTime : -1 }`).Num()
	if firstChart < 0 {
		t.Fatal("the page never marked telltale:first-chart")
	}
	t.Logf("first chart painted %.0f ms after navigation start (test saw it live %v after opening)", firstChart, time.Since(opened).Round(time.Millisecond))

	// The orders-today KPI moves while we watch.
	kpi := func() string {
		return eval(t, p, `() => { const e = document.getElementById("kpi-orders-today"); return e ? e.textContent : "" }`).Str()
	}
	first := kpi()
	if first == "" || first == "—" {
		t.Fatalf("orders-today KPI shows %q, want a number", first)
	}
	poll.Until(t, 10*time.Second, func() error {
		if now := kpi(); now == first {
			return fmt.Errorf("orders today still %s", now)
		}
		return nil
	})
	// And the chart keeps following the stream.
	before := points
	poll.Until(t, 10*time.Second, func() error {
		res, err := p.Eval(chartState, "chart-throughput")
		if err != nil {
			return err
		}
		if n := res.Value.Get("points").Int(); n <= before {
			return fmt.Errorf("chart still at %d points", n)
		}
		return nil
	})
	rows := eval(t, p, `() => document.querySelectorAll("#table-orders-feed tbody tr").length`).Int()
	if rows == 0 {
		t.Fatal("the latest-orders table is empty")
	}
	shot := filepath.Join(outDir(t), "dashboard.png")
	p.MustScreenshot(shot)
	t.Logf("screenshot: %s", shot)
}

func TestPhoneViewportHasNoHorizontalScroll(t *testing.T) {
	// No t.Parallel: its phone is this machine's CPU slowed 4x; sharing the
	// CPU slows it past any phone (a parallel run left its page degraded,
	// not live, after 30 s), so it has the CPU to itself (doc.go).
	srv := startServer(t)
	b := newBrowser(t)
	for _, d := range []struct {
		name   string
		device devices.Device
	}{
		{"iphone-x", devices.IPhoneX},
		{"galaxy-fold", devices.GalaxyFold},
	} {
		t.Run(d.name, func(t *testing.T) {
			p := b.MustPage("")
			p.MustEmulate(d.device)
			// A mid-range phone: the CPU 4x slower than this machine's.
			if err := (proto.EmulationSetCPUThrottlingRate{Rate: 4}).Call(p); err != nil {
				t.Fatal(err)
			}
			openLive(t, p, srv.URL)
			poll.Until(t, 20*time.Second, func() error {
				res, err := p.Eval(chartState, "chart-throughput")
				if err != nil {
					return err
				}
				if res.Value.Get("points").Int() == 0 {
					return errors.New("chart not drawn yet")
				}
				return nil
			})
			res, err := p.Eval(`() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
				widest: Math.max(...[...document.querySelectorAll(".tt-panel")].map(e => e.getBoundingClientRect().right))})`)
			if err != nil {
				t.Fatal(err)
			}
			scroll, inner := res.Value.Get("scroll").Int(), res.Value.Get("inner").Int()
			widest := res.Value.Get("widest").Num()
			if scroll > inner || widest > float64(inner) {
				t.Fatalf("page is %d px wide with panels to %.0f px in a %d px viewport: horizontal scroll", scroll, widest, inner)
			}
			// Zoom a chart (a drag, as a finger would) so its controls show,
			// then every control on the page must be a 44 px target.
			over := p.MustElement("#chart-throughput .u-over").MustShape().Box()
			m := p.Mouse
			m.MustMoveTo(over.X+over.Width*0.3, over.Y+over.Height/2)
			m.MustDown(proto.InputMouseButtonLeft)
			m.MustMoveTo(over.X+over.Width*0.5, over.Y+over.Height/2)
			m.MustMoveTo(over.X+over.Width*0.7, over.Y+over.Height/2)
			m.MustUp(proto.InputMouseButtonLeft)
			p.MustElement(".tt-zoom-live")
			targets := eval(t, p, `() => [...document.querySelectorAll("button, a, input, select, [role=button]")]
				.filter(e => e.offsetParent !== null)
				.map(e => { const r = e.getBoundingClientRect(); return {what: e.className || e.tagName, w: r.width, h: r.height} })`)
			if len(targets.Arr()) < 3 {
				t.Fatalf("only %d controls on screen after zooming, want the zoom controls at least", len(targets.Arr()))
			}
			for _, c := range targets.Arr() {
				if c.Get("w").Num() < 44 || c.Get("h").Num() < 44 {
					t.Errorf("%s is %.0f×%.0f px, want at least 44×44", c.Get("what").Str(), c.Get("w").Num(), c.Get("h").Num())
				}
			}
			shot := filepath.Join(outDir(t), d.name+".png")
			p.MustScreenshotFullPage(shot)
			t.Logf("viewport %d px, page %d px, %d controls ≥ 44 px; screenshot: %s", inner, scroll, len(targets.Arr()), shot)
		})
	}
}

// TestRotationRedecimatesCharts: turning a phone to landscape resizes the
// charts, and each is drawn again decimated to its new width: 4 rows per
// pixel column of the chart (a 60 s window of 50 points/s holds 8–9 points
// per column in either orientation). A phone is lite by default (its charts
// follow the server's m4 streams, TestLitePageFollowsM4Streams); ?lite=0
// keeps this one on the raw streams, decimated by the page.
func TestRotationRedecimatesCharts(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newBrowser(t).MustPage("")
	p.MustEmulate(devices.IPhoneX)
	if err := p.Navigate(strings.TrimSuffix(srv.URL, "/") + "/?lite=0#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	// The chart's window is full once the demo has published 60 s of
	// metrics (10 events/s).
	poll.Until(t, 90*time.Second, func() error {
		if s := stats(t, p); s.Streams["metrics"].Seq < 620 {
			return fmt.Errorf("metrics at %d, want ≥ 620", s.Streams["metrics"].Seq)
		}
		return nil
	})
	const plot = `() => { const el = document.getElementById("chart-throughput"); if (!el || !el._uplot) return {rows: 0, width: 0};
		return {rows: el._uplot.data[0].length, width: el.clientWidth} }`
	type state struct{ rows, width int }
	read := func() state {
		v := eval(t, p, plot)
		return state{v.Get("rows").Int(), v.Get("width").Int()}
	}
	decimatedTo := func(s state) error {
		// Each column of 8–9 points is drawn as 4 rows (first, the
		// extremes, last); the newest column may be partly filled.
		if s.width == 0 || s.rows < 4*s.width-24 || s.rows > 4*s.width+8 {
			return fmt.Errorf("chart %d px wide draws %d rows, want 4 per column", s.width, s.rows)
		}
		return nil
	}
	var portrait state
	poll.Until(t, 20*time.Second, func() error {
		portrait = read()
		return decimatedTo(portrait)
	})
	p.MustEmulate(devices.IPhoneX.Landscape())
	var landscape state
	poll.Until(t, 20*time.Second, func() error {
		if landscape = read(); landscape.width == portrait.width {
			return fmt.Errorf("chart still %d px wide after rotating", landscape.width)
		}
		return decimatedTo(landscape)
	})
	if w := eval(t, p, `() => document.documentElement.scrollWidth - window.innerWidth`).Int(); w > 0 {
		t.Fatalf("landscape page scrolls %d px sideways", w)
	}
	t.Logf("portrait: %d px, %d rows; landscape: %d px, %d rows", portrait.width, portrait.rows, landscape.width, landscape.rows)
}

//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/launcher"

	"github.com/telltale/telltale/internal/poll"
)

// throttled puts back Chromium's throttling of hidden pages, which rod
// turns off by default.
func throttled(l *launcher.Launcher) {
	l.Delete("disable-background-timer-throttling").
		Delete("disable-backgrounding-occluded-windows").
		Delete("disable-renderer-backgrounding")
}

// TestHiddenPageRendersNothing: a page hidden behind another tab keeps
// applying events (its socket stays live) but renders nothing; shown
// again, it draws the current state at once.
func TestHiddenPageRendersNothing(t *testing.T) {
	// No t.Parallel: a hidden page under Chromium's throttling, which
	// depends on the CPU, with the CPU to itself (doc.go).
	srv := startServer(t)
	b := newBrowser(t, throttled)
	p := b.MustPage("")
	openLive(t, p, srv.URL)
	visibility := func() string { return eval(t, p, `() => document.visibilityState`).Str() }
	poll.Until(t, 20*time.Second, func() error {
		if s := stats(t, p); s.ChartDraws == 0 {
			return fmt.Errorf("no chart drawn yet")
		}
		return nil
	})

	// Another tab in front: this one is hidden.
	other := b.MustPage("about:blank")
	other.MustActivate()
	poll.Until(t, 10*time.Second, func() error {
		if v := visibility(); v != "hidden" {
			return fmt.Errorf("page is %s behind another tab", v)
		}
		return nil
	})
	hidden := stats(t, p)
	lastTS := func() float64 {
		return eval(t, p, `() => { const u = document.getElementById("chart-throughput")._uplot; const x = u.data[0]; return x[x.length-1] }`).Num()
	}
	drawnUpTo := lastTS()
	// The demo feed publishes metrics 50 times a second: wait until the
	// hidden page has applied a good number of events...
	poll.Until(t, 20*time.Second, func() error {
		if now := stats(t, p); now.Streams["metrics"].Seq < hidden.Streams["metrics"].Seq+50 {
			return fmt.Errorf("hidden page applied metrics up to seq %d, want ≥ %d", now.Streams["metrics"].Seq, hidden.Streams["metrics"].Seq+50)
		}
		return nil
	})
	// ...without rendering or drawing anything meanwhile.
	during := stats(t, p)
	if during.Renders != hidden.Renders || during.ChartDraws != hidden.ChartDraws {
		t.Fatalf("hidden page rendered %d times and drew %d charts while hidden, want none",
			during.Renders-hidden.Renders, during.ChartDraws-hidden.ChartDraws)
	}
	if during.Status != "live" {
		t.Fatalf("hidden page is %s, want live (its socket stays open)", during.Status)
	}

	// Shown again: it renders at once, and the chart shows what arrived
	// while hidden.
	p.MustActivate()
	poll.Until(t, 10*time.Second, func() error {
		if v := visibility(); v != "visible" {
			return fmt.Errorf("page is %s after activation", v)
		}
		now := stats(t, p)
		if now.Renders == during.Renders || now.ChartDraws == during.ChartDraws {
			return fmt.Errorf("visible again but not rendered yet (renders %d, chart draws %d)", now.Renders, now.ChartDraws)
		}
		return nil
	})
	// The chart now ends with what arrived while hidden (a second or more
	// of the demo's metrics).
	if got := lastTS(); got < drawnUpTo+500 {
		t.Fatalf("shown again, the chart ends at %.0f; it ended at %.0f when hidden", got, drawnUpTo)
	}
}

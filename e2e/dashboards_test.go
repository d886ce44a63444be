//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/devices"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/dashboard"
)

// twoDashboards writes a -dashboards file with the demo's panels split in
// two: "first" (the default: KPIs and a chart) and "second" (a chart and
// both tables: the demo's panels 6–8, whatever it adds after them), each
// titled so a page says which one it shows.
func twoDashboards(t *testing.T) string {
	t.Helper()
	d := demo.Dashboard()
	first := dashboard.Dashboard{ID: "first", Title: "First board", Panels: d.Panels[:5]}
	second := dashboard.Dashboard{ID: "second", Title: "Second board", Panels: d.Panels[5:8]}
	b, err := json.Marshal([]dashboard.Dashboard{first, second})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboards.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// pageView is what a page shows: its title, its panels' ids, the
// picker's links and the one marked current.
type pageView struct {
	Title   string   `json:"title"`
	Panels  []string `json:"panels"`
	Links   []string `json:"links"`
	Current string   `json:"current"`
	Missing string   `json:"missing"`
	SignIn  bool     `json:"signin"`
	Badge   string   `json:"badge"`
	Body    string   `json:"body"`
}

func viewOf(t *testing.T, p *rod.Page) pageView {
	t.Helper()
	raw := eval(t, p, `() => {
		const q = s => Array.from(document.querySelectorAll(s));
		const title = document.querySelector(".tt-title");
		const cur = document.querySelector("#tt-picker [aria-current=page]");
		const missing = document.getElementById("tt-nodash");
		const badge = document.getElementById("tt-badge");
		return JSON.stringify({
			title: title ? title.textContent : "",
			panels: q("[data-panel]").map(e => e.dataset.panel),
			links: q("#tt-picker a").map(a => a.getAttribute("href") + " " + a.textContent),
			current: cur ? cur.getAttribute("href") : "",
			missing: missing ? missing.textContent : "",
			signin: !!document.getElementById("tt-signin"),
			badge: badge ? badge.dataset.state : "",
			body: document.body ? document.body.innerText : "",
		});
	}`).Str()
	var v pageView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDashboardByURL: /d/{id} opens the second dashboard of a file with
// two, the header's picker lists both and marks the one on screen, and
// following its link opens the other; "/" opens the first.
func TestDashboardByURL(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-dashboards", twoDashboards(t))
	p := newBrowser(t).MustPage("")
	if err := p.Navigate(srv.URL + "/d/second#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	var v pageView
	poll.Until(t, 20*time.Second, func() error {
		v = viewOf(t, p)
		if v.Title != "Second board" || strings.Join(v.Panels, ",") != "latency,orders-feed,fleet" {
			return fmt.Errorf("title %q, panels %v: want the second board's", v.Title, v.Panels)
		}
		if strings.Join(v.Links, "|") != "/d/first First board|/d/second Second board" || v.Current != "/d/second" {
			return fmt.Errorf("picker links %q (current %q), want both boards with the second current", v.Links, v.Current)
		}
		return nil
	})
	if href := eval(t, p, `() => location.pathname`).Str(); href != "/d/second" {
		t.Fatalf("address bar at %q, want /d/second", href)
	}
	p.MustElement(`#tt-picker a[href="/d/first"]`).MustClick()
	poll.Until(t, 30*time.Second, func() error {
		v = viewOf(t, p)
		if path := eval(t, p, `() => location.pathname`).Str(); path != "/d/first" || v.Title != "First board" || v.Badge != "live" || v.Current != "/d/first" {
			return fmt.Errorf("at %s: title %q, badge %q, current %q: want the first board, live", path, v.Title, v.Badge, v.Current)
		}
		return nil
	})
	if strings.Join(v.Panels, ",") != "orders-today,revenue-today,open-orders,queue-now,throughput" {
		t.Fatalf("first board shows panels %v", v.Panels)
	}
	if err := p.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		if v = viewOf(t, p); v.Title != "First board" || v.Current != "/d/first" {
			return fmt.Errorf("/ shows %q (current %q), want the first board", v.Title, v.Current)
		}
		return nil
	})
	p.MustScreenshot(outDir(t) + "/first.png")

	// On a phone the picker scrolls within the header: the page does not.
	p.MustEmulate(devices.IPhoneX)
	if err := p.Navigate(srv.URL + "/d/second"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	poll.Until(t, 20*time.Second, func() error {
		scroll := eval(t, p, `() => [document.documentElement.scrollWidth, window.innerWidth, document.querySelectorAll("#tt-picker a").length]`).Arr()
		if len(scroll) != 3 || scroll[2].Int() != 2 || scroll[0].Int() > scroll[1].Int() {
			return fmt.Errorf("phone: page %v wide in a %v viewport with %v picker links, want both links and no horizontal scroll", scroll[0], scroll[1], scroll[2])
		}
		return nil
	})
	p.MustScreenshot(outDir(t) + "/phone.png")
}

// TestUnknownDashboardSaysSo: an id the server does not have says so, with
// links to the ones it has, and is not asked for again (a 404 is final).
func TestUnknownDashboardSaysSo(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-dashboards", twoDashboards(t))
	proxy := newCountingProxy(t, srv.URL)
	p := newBrowser(t).MustPage("")
	if err := p.Navigate(proxy.URL + "/d/nope#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	var v pageView
	poll.Until(t, 30*time.Second, func() error {
		v = viewOf(t, p)
		if !strings.Contains(v.Missing, "no dashboard nope") || !strings.Contains(v.Missing, "First board") || !strings.Contains(v.Missing, "Second board") {
			return fmt.Errorf("page says %q, want \"no dashboard nope\" and the list", v.Missing)
		}
		return nil
	})
	p.MustScreenshot(outDir(t) + "/missing.png")
	if v.Badge != "missing" || len(v.Panels) != 0 || strings.Contains(v.Body, "Retrying") {
		t.Fatalf("badge %q, panels %v, body %q: want no panels and no retrying", v.Badge, v.Panels, v.Body)
	}
	asked := func() (n int) {
		for _, path := range proxy.since(0) {
			if path == "/api/v1/dashboards/nope" {
				n++
			}
		}
		return n
	}
	// The first retry of an error would come after 1 s: watch for 3.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); <-tick.C {
		if n := asked(); n != 1 {
			t.Fatalf("asked the server for dashboard nope %d times, want once", n)
		}
	}
	p.MustElement(`#tt-nodash a[href="/d/second"]`).MustClick()
	poll.Until(t, 30*time.Second, func() error {
		if v = viewOf(t, p); v.Title != "Second board" || v.Badge != "live" {
			return fmt.Errorf("after following the link: title %q, badge %q", v.Title, v.Badge)
		}
		return nil
	})
}

// TestSignedOutVisitorSeesNoDashboard: without a token, or with one the
// server refuses, a page shows the sign-in form and nothing of the
// dashboard (no title, no panel); the server answered no spec. Signing in
// then opens the dashboard the URL names.
func TestSignedOutVisitorSeesNoDashboard(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-dashboards", twoDashboards(t))
	b := newBrowser(t)
	other, err := auth.HS256([]byte("not-this-servers-secret-00000000"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Mint("demo", "mallory", time.Hour, nil, "")
	for _, tc := range []struct {
		name, path, why, title string
		panels                 int
	}{
		{"no token", "/", "Sign in to see this dashboard", "First board", 5},
		{"forged token", "/d/second#token=" + forged, "refused", "Second board", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.MustIncognito().MustPage("")
			if err := p.Navigate(srv.URL + tc.path); err != nil {
				t.Fatal(err)
			}
			var v pageView
			poll.Until(t, 30*time.Second, func() error {
				if v = viewOf(t, p); !v.SignIn || v.Badge != "signed-out" {
					return fmt.Errorf("sign-in form %v, badge %q: want the form, signed out", v.SignIn, v.Badge)
				}
				return nil
			})
			p.MustScreenshot(outDir(t) + "/signed-out.png")
			for _, secret := range []string{"Second board", "First board", "Latest orders", "Fleet", "Orders today"} {
				if strings.Contains(v.Body, secret) || strings.Contains(v.Title, secret) {
					t.Fatalf("a signed-out page shows %q: %q", secret, v.Body)
				}
			}
			if len(v.Panels) != 0 || len(v.Links) != 0 || !strings.Contains(v.Body, tc.why) {
				t.Fatalf("panels %v, picker %v, text %q: want none, and %q", v.Panels, v.Links, v.Body, tc.why)
			}
			field := p.MustElement("#tt-token")
			field.MustInput(token(t, "demo"))
			p.MustElement("#tt-signin button").MustClick()
			waitLive(t, p)
			poll.Until(t, 20*time.Second, func() error {
				if v = viewOf(t, p); v.Title != tc.title || v.SignIn || len(v.Panels) != tc.panels {
					return fmt.Errorf("after sign-in: title %q, form %v, panels %v", v.Title, v.SignIn, v.Panels)
				}
				return nil
			})
		})
	}
}

// TestOfflineDashboardIsItsOwn: the stored last-known-good picture is the
// dashboard it was saved from: offline, /d/second opens from the worker's
// cache with its stored data, and /d/first (never stored) is not drawn
// with the second's picture.
func TestOfflineDashboardIsItsOwn(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-dashboards", twoDashboards(t))
	b := newBrowser(t)
	p := b.MustPage("")
	if err := p.Navigate(srv.URL + "/d/second#token=" + token(t, "demo")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	poll.Until(t, 20*time.Second, func() error {
		if !eval(t, p, `() => !!navigator.serviceWorker.controller`).Bool() {
			return fmt.Errorf("the service worker does not control the page yet")
		}
		rec := storedLKG(t, p)
		if cur, _ := lkgCursors(t, rec); len(cur) < 3 || !bytes.Contains(rec, []byte(`"id":"second"`)) {
			return fmt.Errorf("stored %d bytes with cursors %v, want the second board's 3 streams", len(rec), cur)
		}
		return nil
	})
	emulateOffline(t, b, p)
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	var v pageView
	poll.Until(t, 20*time.Second, func() error {
		v = viewOf(t, p)
		banner := eval(t, p, `() => { const e = document.getElementById("tt-lkg"); return e ? e.textContent : "" }`).Str()
		if v.Title != "Second board" || len(v.Panels) != 3 || !strings.HasPrefix(banner, "offline — data as of ") {
			return fmt.Errorf("offline /d/second: title %q, panels %v, banner %q: want the stored second board", v.Title, v.Panels, banner)
		}
		return nil
	})
	if err := p.Navigate(srv.URL + "/d/first"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		v = viewOf(t, p)
		if !strings.Contains(v.Body, "Cannot load the dashboard") {
			return fmt.Errorf("offline /d/first: title %q, panels %v, text %q: want it to say it cannot load", v.Title, v.Panels, v.Body)
		}
		return nil
	})
	if v.Title == "Second board" || len(v.Panels) != 0 {
		t.Fatalf("offline /d/first drew %q with panels %v: another dashboard's picture", v.Title, v.Panels)
	}
}

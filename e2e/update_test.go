//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
)

// TestNewVersionOffersReload: a deploy (the server back with another
// version) is noticed when the page is shown again, and offered as a
// "new version — reload" banner; the page does not reload under the
// operator. The banner's reload serves the new version, signed in and live.
func TestNewVersionOffersReload(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	old := startServerEnvAt(t, []string{"DATABASE_URL=", "TELLTALE_APP_VERSION=e2e-old"}, addr)
	b := newBrowser(t, throttled)
	p := b.MustPage("")
	openLive(t, p, old.URL)
	loaded := time.Now()
	cacheNames := func() string {
		return eval(t, p, `async () => (await caches.keys()).join(",")`).Str()
	}
	poll.Until(t, 30*time.Second, func() error {
		ctl := eval(t, p, `() => !!navigator.serviceWorker.controller`).Bool()
		if names := cacheNames(); !ctl || !strings.Contains(names, "app-e2e-old") {
			return fmt.Errorf("service worker controlling: %v, caches %q; want the old version's", ctl, names)
		}
		return nil
	})
	eval(t, p, `() => { window.ttBeforeDeploy = true }`)

	old.stop(t)
	startServerEnvAt(t, []string{"DATABASE_URL=", "TELLTALE_APP_VERSION=e2e-new"}, addr)

	// The operator switches to another tab and back: the page checks for a
	// new version when it is shown, at most every 10 s (updateAgain), so
	// the switch comes 10 s after the page loaded.
	other := b.MustPage("about:blank")
	visibility := func() string { return eval(t, p, `() => document.visibilityState`).Str() }
	time.Sleep(time.Until(loaded.Add(10 * time.Second)))
	other.MustActivate()
	poll.Until(t, 10*time.Second, func() error {
		if v := visibility(); v != "hidden" {
			return fmt.Errorf("page is %s behind another tab", v)
		}
		return nil
	})
	p.MustActivate()
	shown := time.Now()
	poll.Until(t, 45*time.Second, func() error {
		if !eval(t, p, `() => { const b = document.getElementById("tt-reload"); return !!b && b.offsetParent !== null }`).Bool() {
			return fmt.Errorf("no reload banner yet (page %s, caches %q)", visibility(), cacheNames())
		}
		return nil
	})
	t.Logf("banner %v after the page was shown again", time.Since(shown).Round(time.Millisecond))
	if !eval(t, p, `() => window.ttBeforeDeploy === true`).Bool() {
		t.Fatal("the page reloaded by itself: the new version must wait for the operator")
	}
	p.MustScreenshot(outDir(t) + "/update-banner.png")

	wait := p.MustWaitNavigation()
	p.MustElement("#tt-reload").MustClick()
	wait()
	waitLive(t, p)
	if eval(t, p, `() => window.ttBeforeDeploy === true`).Bool() {
		t.Fatal("the banner's button did not reload the page")
	}
	if names := cacheNames(); !strings.Contains(names, "app-e2e-new") || strings.Contains(names, "app-e2e-old") {
		t.Fatalf("caches %q after the reload: want only the new version's", names)
	}
	if eval(t, p, `() => { const b = document.getElementById("tt-reload"); return !!b && b.offsetParent !== null }`).Bool() {
		t.Fatal("the banner is still offered after reloading into the new version")
	}
}

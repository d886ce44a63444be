//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"

	"github.com/telltale/telltale/internal/poll"
)

// markVehicle publishes, through HTTP ingest with the tenant's key, a fleet
// row no other tenant has: the fleet table shows it on that tenant's pages.
func markVehicle(t *testing.T, base, key, name string) {
	t.Helper()
	body := fmt.Sprintf(`{"events":[{"stream":"fleet","row":{"key":%q,"fields":{"vehicle":%q,"status":"parked","speed":0,"eta_min":0}}}]}`, name, name)
	ingest(t, base, key, body)
}

// TestTwoTenantsSeeOnlyTheirOwn signs two browser contexts in as the two demo
// tenants, publishes a vehicle only each tenant has, and checks that each page
// shows its own and never the other's; neither page keeps its token in the
// address bar.
func TestTwoTenantsSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"demo": "demo-ingest-key-0001", "demo2": "demo2-ingest-key-0002"}
	srv := startServer(t, "-ingest-keys", "demo:"+keys["demo"]+",demo2:"+keys["demo2"])
	b := newBrowser(t)
	pages := map[string]*rod.Page{}
	for _, tenant := range []string{"demo", "demo2"} {
		incognito := b.MustIncognito() // separate storage: separate tokens
		p := incognito.MustPage("")
		if err := p.Navigate(signIn(t, srv.URL, tenant)); err != nil {
			t.Fatal(err)
		}
		pages[tenant] = p
	}
	for tenant, p := range pages {
		waitLive(t, p)
		markVehicle(t, srv.URL, keys[tenant], marker(tenant))
	}
	fleetText := func(p *rod.Page) string {
		return eval(t, p, `() => { const e = document.getElementById("table-fleet"); return e ? e.textContent : "" }`).Str()
	}
	for tenant, p := range pages {
		poll.Until(t, 15*time.Second, func() error {
			if !strings.Contains(fleetText(p), marker(tenant)) {
				return fmt.Errorf("%s's fleet table does not show %s yet", tenant, marker(tenant))
			}
			return nil
		})
	}
	for tenant, p := range pages {
		if text := fleetText(p); strings.Contains(text, marker(other(tenant))) {
			t.Errorf("%s's page shows the other tenant's vehicle %s", tenant, marker(other(tenant)))
		}
		if href := eval(t, p, `() => location.href`).Str(); href != srv.URL+"/" {
			t.Errorf("%s's address bar still holds %q after sign-in, want %q", tenant, href, srv.URL+"/")
		}
	}
}

func other(tenant string) string {
	if tenant == "demo" {
		return "demo2"
	}
	return "demo"
}

// TestSignInForm: a page with no token says it is signed out and asks for
// one; pasting a token brings it live.
func TestSignInForm(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newBrowser(t).MustPage("")
	if err := p.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		if state := eval(t, p, `() => { const b = document.getElementById("tt-badge"); return b ? b.dataset.state : "" }`).Str(); state != "signed-out" {
			return fmt.Errorf("badge state %q, want signed-out", state)
		}
		return nil
	})
	field, err := p.Timeout(10 * time.Second).Element("#tt-token")
	if err != nil {
		t.Fatalf("no token field on a signed-out page: %v", err)
	}
	field.MustInput(token(t, "demo"))
	field.MustType(input.Enter)
	waitLive(t, p)
	if n := eval(t, p, `() => document.querySelectorAll("#tt-signin").length`).Int(); n != 0 {
		t.Fatal("the sign-in form is still shown on a live page")
	}
}

// marker names a vehicle only tenant has (no marker contains another).
func marker(tenant string) string { return "vehicle-" + tenant + "-only" }

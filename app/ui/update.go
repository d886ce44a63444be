package ui

import (
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// updateEvery is how often the page asks whether a new version was
// deployed: go-app v10 checks only when the page loads. It also asks when
// the page is shown again or the network comes back (a phone's app after
// hours in the background), at most every updateAgain. A check is one
// request for app-worker.js; a new worker precaches the new version in the
// background, then go-app calls OnAppUpdate.
const (
	updateEvery = 10 * time.Minute
	updateAgain = 10 * time.Second
)

// updateBanner offers "new version — reload" once a deploy's service worker
// has taken over, instead of reloading under the operator. It is plain HTML,
// a form that GETs the page again (a reload, served by the new worker):
// go-app's typed elements and an event handler cost app.wasm bytes.
type updateBanner struct {
	app.Compo
	ready bool
}

func (u *updateBanner) OnMount(ctx app.Context) {
	u.ready = ctx.AppUpdateAvailable()
	lastUpdateCheck = time.Now() // go-app checked as the page loaded
	ctx.Async(func() {
		t := time.NewTicker(updateEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				app.TryUpdate()
			}
		}
	})
}

// lastUpdateCheck is when the page last asked for a new version.
var lastUpdateCheck time.Time

// checkUpdate asks for a new version when the page is shown again or the
// network is back (listenNetwork calls it), at most every updateAgain. Not
// while the browser says it is offline: the check would fail, or reach the
// server past the page's own offline state (the worker's script is fetched
// for the registration, not the page).
func checkUpdate() {
	if !app.Window().Get("navigator").Get("onLine").Truthy() || time.Since(lastUpdateCheck) < updateAgain {
		return
	}
	lastUpdateCheck = time.Now()
	app.TryUpdate()
}

// OnAppUpdate is go-app's word that a new version is installed.
func (u *updateBanner) OnAppUpdate(ctx app.Context) { u.ready = true }

func (u *updateBanner) Render() app.UI {
	if !u.ready {
		return app.Raw(`<div id="tt-update" hidden></div>`)
	}
	return app.Raw(`<form class="tt-update" id="tt-update" role="status" method="get" action="/">New version available — <button type="submit" id="tt-reload">reload</button></form>`)
}

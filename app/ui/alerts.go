package ui

// Alerts: the page follows its tenant's dashboard.AlertsStream next to its
// dashboard's streams (and the changes stream), on the same client, and
// shows a banner while an alert of the dashboard on screen fires: the
// server's evaluator (backend/alert) writes one row per alert, firing or
// resolved, so the banner clears when the row says resolved. The token's
// tenant decides whose stream it is, at the server (auth.Allow).
//
// The page reads the rows' fields itself rather than dashboard.ParseAlert:
// the banner needs two strings, and ParseAlert's time and number handling
// cost app.wasm 5 KB raw.

import (
	"html"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// pageStreams are the streams a page showing d follows: its panels', the
// changes stream (reload.go) and the alerts stream.
func pageStreams(d *dashboard.Dashboard) []string {
	return append(d.Streams(), dashboard.ChangesStream, dashboard.AlertsStream)
}

// firing lists the messages of the alerts of dashboard id that fire now,
// from the alerts stream's rows (newest first).
func firing(streams map[string]*livestate.Stream, id string) []string {
	st := streams[dashboard.AlertsStream]
	if st == nil {
		return nil
	}
	var out []string
	for _, r := range st.State.Rows {
		if r.Fields["state"] == dashboard.AlertFiring && r.Fields["dashboard"] == id {
			m, _ := r.Fields["message"].(string)
			out = append(out, m)
		}
	}
	return out
}

// alertBanner says what of the dashboard on screen misses its targets, in
// the server's words. Plain HTML, as the other banners.
func (s *Shell) alertBanner() app.UI {
	b := `<div class="tt-error tt-alert" id="tt-alert" role="alert">`
	for _, m := range s.view.alerts {
		b += `<p>⚠ ` + html.EscapeString(m) + `</p>`
	}
	return app.Raw(b + `</div>`)
}

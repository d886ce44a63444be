package ui

// Reaching every dashboard the server has: the picker in the header (when
// there are several), the page of an id the server does not have, and the
// badge a page shows before it has a client. All plain HTML through
// app.Raw: go-app's typed anchors and lists would each add code to
// app.wasm for a few links. The list is decoded into board (id, title,
// version), which the changes stream keeps up to date (reload.go): the
// version tells a stored dashboard, whose absence from the stream means it
// was deleted, from a built-in one.

import (
	"context"
	"encoding/json"
	"html"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// loadBoards fetches the list of dashboards for the picker, once (the
// changes stream brings it up to date): without it (an error, offline) the
// picker lists only the stored dashboards the stream names.
func (s *Shell) loadBoards(ctx app.Context, token string) {
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	body, err := httpGet(c, origin().String()+APIDashboards, token)
	var boards []board
	if err != nil || json.Unmarshal(body, &boards) != nil {
		app.Log("list of dashboards:", err)
		return
	}
	ctx.Dispatch(func(app.Context) { s.boards, s.reload.merged = boards, nil })
}

// current is the id of the dashboard on screen ("" before its spec).
func (s *Shell) current() string {
	if s.spec != nil {
		return s.spec.ID
	}
	return s.want
}

// boardLinks is a link to each dashboard's page but except's, the one on
// screen marked aria-current.
func (s *Shell) boardLinks(except string) string {
	var b strings.Builder
	for _, d := range s.pickerBoards() {
		if d.ID == except {
			continue
		}
		b.WriteString(`<a class="tt-pick" href="` + html.EscapeString(dashboardPath(d.ID)) + `"`)
		if d.ID == s.current() {
			b.WriteString(` aria-current="page"`)
		}
		title := d.Title
		if title == "" {
			title = d.ID
		}
		b.WriteString(`>` + html.EscapeString(title) + `</a>`)
	}
	return b.String()
}

// picker lists the server's dashboards in the header. Following a link is
// a full page load (Shell.OnNav): each dashboard has its own client.
func (s *Shell) picker() app.UI {
	return app.Raw(`<nav class="tt-picker" id="tt-picker" aria-label="Dashboards">` + s.boardLinks("") + `</nav>`)
}

// missingDashboard is the page of an id the server does not have: it says
// so, and links to the dashboards it has.
func (s *Shell) missingDashboard() app.UI {
	list := s.boardLinks("")
	if list == "" {
		list = `<a class="tt-pick" href="/">the default dashboard</a>`
	}
	return app.Raw(`<div class="tt-error tt-nodash" id="tt-nodash"><p>no dashboard <code>` +
		html.EscapeString(s.want) + `</code> on this server: it was deleted, or never existed.</p><p class="tt-nodash-list">Dashboards: ` + list + `</p></div>`)
}

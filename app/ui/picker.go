package ui

// Reaching every dashboard the server has: the picker in the header (when
// there are several), the page of an id the server does not have, and the
// badge a page shows before it has a client. All plain HTML through
// app.Raw: go-app's typed anchors and lists would each add code to
// app.wasm for a few links, and the list is decoded into the spec's own
// type (dashboard.Dashboard: its id and title), not a struct of its own,
// so encoding/json's reflection gains no new type.

import (
	"context"
	"encoding/json"
	"html"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/shared/dashboard"
)

// loadBoards fetches the list of dashboards for the picker, once: without
// it (an error, offline) the page simply has no picker.
func (s *Shell) loadBoards(ctx app.Context, token string) {
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	body, err := httpGet(c, origin().String()+APIDashboards, token)
	var boards []dashboard.Dashboard
	if err != nil || json.Unmarshal(body, &boards) != nil {
		app.Log("list of dashboards:", err)
		return
	}
	ctx.Dispatch(func(app.Context) { s.boards = boards })
}

// current is the id of the dashboard on screen ("" before its spec).
func (s *Shell) current() string {
	if s.spec != nil {
		return s.spec.ID
	}
	return s.want
}

// boardLinks is a link to each dashboard's page, the one on screen marked
// aria-current.
func (s *Shell) boardLinks() string {
	var b strings.Builder
	for _, d := range s.boards {
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
	return app.Raw(`<nav class="tt-picker" id="tt-picker" aria-label="Dashboards">` + s.boardLinks() + `</nav>`)
}

// missingDashboard is the page of an id the server does not have: it says
// so, and links to the dashboards it has.
func (s *Shell) missingDashboard() app.UI {
	list := s.boardLinks()
	if list == "" {
		list = `<a class="tt-pick" href="/">the default dashboard</a>`
	}
	return app.Raw(`<div class="tt-error tt-nodash" id="tt-nodash"><p>no dashboard <code>` +
		html.EscapeString(s.want) + `</code> on this server.</p><p class="tt-nodash-list">Dashboards: ` + list + `</p></div>`)
}

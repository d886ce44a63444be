package ui

// The freshness (SLA) page, /sla: how fresh a tenant's screens were over a
// period, from the reports every open page sends (issue 18), per panel:
// p95 and p99 event→paint per minute (a uPlot chart through the Charts
// bridge), the share of time fresh, where the time went (a bar per stage)
// and the stale periods. Admins may leave the dashboard out (the whole
// tenant); the server refuses an operator that does, and the page says so
// beside the dashboards to choose from.
//
// Moving between a dashboard and this page is a full page load (data-reload,
// listenFullLoads): a dashboard's shell runs a client that go-app would
// keep running after it left the screen. The period and dashboard selectors
// stay on this page and navigate within it (OnNav).
//
// Markup other than the charts is plain HTML through app.Raw, as the
// picker's is: go-app's typed elements would add to app.wasm for a page
// that only reads.

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/sla"
)

// slaRefresh is how often the page asks again while it is open: reports
// land every sla.ReportEvery, minutes roll up once a minute.
const slaRefresh = 30 * time.Second

// slaPage is the /sla route's component. UI goroutine only, but for wake.
type slaPage struct {
	app.Compo

	bridges Bridges
	q       slaQuery
	wake    chan slaQuery // OnNav hands run a new query
	err     string        // why there is no answer ("" when there is one)
	ans     *sla.Answer
	v       slaView
	boards  []board
}

func (p *slaPage) OnMount(ctx app.Context) {
	listenFullLoads()
	p.q = slaQueryOf(app.Window().URL().Query())
	p.wake = make(chan slaQuery, 1)
	tok, q := storedToken(), p.q
	ctx.Async(func() { p.run(ctx, tok, q) })
}

// OnNav: the selectors' links stay on this page; ask for what the new URL
// says.
func (p *slaPage) OnNav(app.Context) {
	if p.wake == nil {
		return // before OnMount
	}
	if q := slaQueryOf(app.Window().URL().Query()); q != p.q {
		p.q, p.ans, p.err = q, nil, ""
		select { // a query not yet taken is replaced
		case <-p.wake:
		default:
		}
		p.wake <- q
	}
}

// run asks for the dashboards (for the selector) once, then for the answer
// to q, again every slaRefresh while the page is visible and at once when
// OnNav changes the query. One goroutine for the page's life: a late answer
// to an older query is dropped.
func (p *slaPage) run(ctx app.Context, tok string, q slaQuery) {
	get := func(path string, into any) error {
		if tok == "" {
			return errNoToken
		}
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		body, err := fetchBytes(c, origin().String()+path, tok)
		if err == nil {
			err = json.Unmarshal(body, into)
		}
		return err
	}
	var boards []board
	_ = get(APIDashboards, &boards) // without it the selector lists only "All"
	tick := time.NewTicker(slaRefresh)
	defer tick.Stop()
	for {
		a := new(sla.Answer)
		err := get(q.api(), a)
		asked := q
		ctx.Dispatch(func(ctx app.Context) {
			p.boards = boards
			if asked != p.q {
				return
			}
			if err != nil {
				p.err = slaError(err, asked) // a refresh that failed keeps the last answer below
				return
			}
			p.err, p.ans = "", a
			p.v = slaViewOf(a, asked, p.bridges.locale(), time.Now())
			// The charts mount (chartPanel.OnMount, a dispatch) in this
			// update; their data goes after, in a dispatch queued behind.
			ctx.Defer(func(app.Context) { ctx.Dispatch(p.drawCharts) })
		})
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case q = <-p.wake:
				break wait
			case <-tick.C: // a hidden tab's timers are throttled by the browser
				break wait
			}
		}
	}
}

// drawCharts hands each panel's minutes to its chart.
func (p *slaPage) drawCharts(app.Context) {
	if p.bridges.Charts == nil || p.ans == nil {
		return
	}
	for i, v := range p.v.panels {
		if v.hasChart {
			p.bridges.Charts.SetData(slaChartID(i), v.ts, [][]float64{v.p95s, v.p99s}, Range{})
		}
	}
}

// slaChartID is the chart of the i-th panel: by place, not by panel, so
// that a new answer's charts are the same charts with new data.
func slaChartID(i int) string { return "sla-chart-" + strconv.Itoa(i) }

// Marks: a period of one reported minute is one dot, not nothing.
var slaChartSpec = ChartSpec{Series: []string{"p95", "p99"}, Labels: []string{"p95 event→paint", "p99 event→paint"}, Unit: "ms", Value: Format{Decimals: -1}, Marks: true}

// slaError says why the page has no answer, in an operator's words.
func slaError(err error, q slaQuery) string {
	var herr *client.HTTPError
	status := 0
	if errors.As(err, &herr) {
		status = herr.Status
	}
	switch {
	case err == errNoToken:
		return "Sign in on a dashboard first: this page uses its token."
	case status == 401:
		return "The server refused your token (" + herr.Message + "). Sign in again on a dashboard."
	case (status == 400 || status == 403) && q.dashboard == "":
		return "Only an admin sees the whole tenant: choose one of your dashboards above (" + herr.Message + ")."
	}
	return "Cannot load freshness (" + err.Error() + "). Retrying every " + strconv.Itoa(int(slaRefresh/time.Second)) + " s."
}

func (p *slaPage) Render() app.UI {
	e := html.EscapeString
	q, v := p.q, p.v
	title, back := "Freshness", "/"
	if q.dashboard != "" {
		title += " · " + p.boardTitle(q.dashboard)
		back = dashboardPath(q.dashboard)
	}
	head := `<div class="tt-sla-head"><header class="tt-header"><h1 class="tt-title">` + e(title) +
		`</h1><a class="tt-sla-back" data-reload href="` + e(back) + `">Back to the dashboard</a></header>` + p.selectors()
	switch {
	case p.err != "":
		head += `<p class="tt-error tt-sla-error" id="tt-sla-error">` + e(p.err) + `</p>`
	case p.ans == nil:
		head += `<p class="tt-loading" id="tt-sla-loading">Loading freshness…</p>`
	}
	var cards []app.UI
	if p.ans != nil {
		head += `<p class="tt-sla-summary" id="tt-sla-summary"><span id="tt-sla-screens">` + v.screens + `</span> ` +
			q.period().since + ` · ` + v.accuracy + `</p>`
		if v.empty != "" {
			head += `<p class="tt-empty tt-sla-empty" id="tt-sla-empty">` + v.empty + `</p>`
		}
		for i, pv := range v.panels {
			cards = append(cards, p.card(i, pv))
		}
	}
	return app.Div().Class("tt-app tt-sla").Body(
		app.Raw(head+`</div>`),
		app.Div().Class("tt-sla-panels").ID("tt-sla-panels").Body(cards...),
	)
}

// boardTitle is dashboard id's title as the server lists it, else the id.
func (p *slaPage) boardTitle(id string) string {
	for _, b := range p.boards {
		if b.ID == id && b.Title != "" {
			return b.Title
		}
	}
	return id
}

// selectors are the period's and the dashboard's links, the current ones
// marked aria-current.
func (p *slaPage) selectors() string {
	link := func(q slaQuery, text string, current bool) string {
		cur := ""
		if current {
			cur = ` aria-current="page"`
		}
		return `<a class="tt-pick" href="` + html.EscapeString(q.page()) + `"` + cur + `>` + html.EscapeString(text) + `</a>`
	}
	out := `<nav class="tt-sla-periods" id="tt-sla-periods" aria-label="Period">`
	for i, per := range slaPeriods {
		out += link(slaQuery{p.q.dashboard, i}, per.label, i == p.q.per)
	}
	out += `</nav><nav class="tt-sla-boards" id="tt-sla-boards" aria-label="Dashboards">` + link(slaQuery{"", p.q.per}, "All", p.q.dashboard == "")
	for _, d := range p.boards {
		title := d.Title
		if title == "" {
			title = d.ID
		}
		out += link(slaQuery{d.ID, p.q.per}, title, d.ID == p.q.dashboard)
	}
	return out + `</nav>`
}

// card is the i-th panel's freshness (the view's text is HTML-safe:
// slaViewOf escapes what the server named): its figures, its chart, where the
// time went and its stale periods.
func (p *slaPage) card(i int, v slaPanelView) app.UI {
	top := `<div class="tt-sla-top"><h2 class="tt-panel-title">` + v.title + `</h2><div class="tt-sla-figures"><div class="tt-sla-fig" data-level="` + v.level +
		`"><span class="tt-sla-num tt-sla-fresh">` + v.fresh + `</span><span class="tt-sla-what">of the time fresh</span></div>`
	for _, f := range [...][2]string{{"p95", v.p95}, {"p99", v.p99}, {"p50", v.p50}} {
		top += `<div class="tt-sla-fig"><span class="tt-sla-num tt-sla-` + f[0] + `">` + f[1] +
			`</span><span class="tt-sla-what">` + f[0] + ` event→paint</span></div>`
	}
	top += `</div><p class="tt-sla-painted">` + v.painted + `</p></div>`
	detail := `<div class="tt-sla-detail">`
	if len(v.stages) > 0 {
		detail += `<h3 class="tt-sla-h">Where the time went</h3><div class="tt-bars tt-sla-stages" role="list">`
		for _, s := range v.stages {
			detail += `<div class="tt-bar-row" role="listitem" data-stage="` + s.stage + `"><span class="tt-bar-name">` + s.label +
				`</span><span class="tt-bar-track"><span class="tt-bar-fill" style="width:` + strconv.FormatFloat(s.share, 'f', 1, 64) +
				`%"></span></span><span class="tt-bar-value">` + s.text + `</span></div>`
		}
		detail += `</div>`
	}
	detail += `<h3 class="tt-sla-h">Stale periods</h3>`
	if len(v.stale) == 0 {
		detail += `<p class="tt-empty">None: fresh throughout.</p>`
	} else {
		detail += `<ul class="tt-sla-stale">`
		for _, s := range v.stale {
			detail += `<li><span class="tt-sla-start">` + s.start + `</span> <span class="tt-sla-len">` + s.length +
				`</span> <span class="tt-sla-cause">` + s.cause + `</span> <span class="tt-sla-screens">` + s.screens + `</span></li>`
		}
		if v.moreStale > 0 {
			detail += `<li class="tt-empty">and ` + strconv.Itoa(v.moreStale) + ` earlier</li>`
		}
		detail += `</ul>`
	}
	var chart app.UI = app.Raw(`<p class="tt-empty">No minute painted anything.</p>`)
	if v.hasChart {
		chart = &chartPanel{ID: slaChartID(i), Spec: slaChartSpec, charts: p.bridges.Charts}
	}
	return app.Section().Class("tt-panel tt-sla-panel").DataSet("panel", v.key).Body(app.Raw(top), chart, app.Raw(detail+`</div>`))
}

// listenFullLoads makes a link marked data-reload a full page load: its
// click never reaches go-app's handler on window (which would swap the
// page's component in place), so the browser follows it.
func listenFullLoads() {
	app.Window().Get("document").Call("addEventListener", "click", app.FuncOf(func(_ app.Value, args []app.Value) any {
		if a := args[0].Get("target"); a.Get("closest").Truthy() && a.Call("closest", "a[data-reload]").Truthy() {
			args[0].Call("stopPropagation")
		}
		return nil
	}))
}

// slaLink is the header's link to the freshness page of the dashboard on
// screen: a full page load (data-reload), as the page has no client.
func (s *Shell) slaLink() string {
	return `<a class="tt-sla-link" id="tt-sla-link" data-reload href="` +
		html.EscapeString(slaQuery{dashboard: s.current()}.page()) + `">Freshness</a>`
}

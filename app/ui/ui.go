// Package ui is Telltale's go-app interface: the route, the shell with its
// connection badge, and the panels a dashboard spec asks for (KPI tiles,
// time-series charts, feed tables). Register is called by both the wasm main
// and the server, so the server can pre-render the same tree.
//
// It must never import syscall/js or server code: charts and animation frames
// come in through the Bridges interfaces, implemented in wasm/.
package ui

import (
	"net/url"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Charts draws time series. The wasm build implements it with uPlot.
type Charts interface {
	// Create makes a chart inside the element with this id. It is called once
	// per panel, after the element is in the DOM.
	Create(id string, spec ChartSpec, hooks ChartHooks)
	// SetData replaces the chart's data. ts are Unix milliseconds and each
	// column is as long as ts. The slices are only valid during the call.
	// xr is the time range to show; zero follows the data (live).
	SetData(id string, ts []int64, cols [][]float64, xr Range)
	// Width is the chart's plot width in pixels (0 while unknown): the shell
	// decimates each series to it before SetData.
	Width(id string) int
	// Visible reports whether any of the chart is in the viewport. The shell
	// draws only visible charts; one scrolled into view is drawn at once.
	Visible(id string) bool
	// Destroy releases the chart.
	Destroy(id string)
}

// ChartHooks are how a chart tells the shell what happened to it. They may
// be called from browser callbacks, outside the UI goroutine.
type ChartHooks struct {
	// Changed: the chart's width or visibility changed; draw it again.
	Changed func()
	// Zoom: the operator selected the time range [from, to] (ms).
	Zoom func(from, to int64)
	// Live: the operator asked to follow the newest data again.
	Live func()
}

// Range is a time range in Unix milliseconds; the zero Range means live.
type Range struct{ From, To int64 }

// IsLive reports whether r is the zero Range.
func (r Range) IsLive() bool { return r == Range{} }

// ChartSpec describes a chart's series and how it writes their values.
type ChartSpec struct {
	Title  string
	Series []string
	// Labels are the series' display names, in Series order: the panel's
	// Labels, else the series' names.
	Labels []string
	// Unit names the value axis and follows each name in the legend.
	Unit string
	// Value is how the value axis writes numbers (the panel's format,
	// currency and decimals).
	Value Format
	// Colors are the series' CSS colours, in Series order; without them
	// the chart colours its series by position. A chart of an aggregate's
	// groups gives each group the colour it keeps (aggregate.go).
	Colors []string
	// Marks: show each sample as a dot where they are few (uPlot's
	// default), not only the line: an aggregate's buckets are few, and a
	// group present in one bucket only is a dot, not nothing.
	Marks bool
	// Hairline draws the series one device pixel wide, not one CSS pixel:
	// a lite chart (lite.go) on a phone, where a CSS pixel is 3 device
	// pixels and goes through the stroker.
	Hairline bool
}

// Frames runs work on the browser's next animation frame.
type Frames interface {
	// Request runs fn on the next animation frame. Requests made before the
	// frame fires share it. A hidden tab fires no frames, so nothing renders
	// until it is visible again.
	Request(fn func())
}

// Store keeps the page's last-known-good state across visits: one record
// of bytes, in IndexedDB in the browser. Both methods return at once; done
// is called later, from a browser callback, and must not block.
type Store interface {
	// Load reads the record (nil, and no error, on a first visit). The
	// browser's store also asks for persistent storage then
	// (navigator.storage.persist), so that the record is not evicted under
	// storage pressure; the browser may say no.
	Load(done func(rec []byte, err error))
	// Save replaces the record. It starts the write before it returns, so
	// a save from a pagehide handler is committed even as the page goes.
	Save(rec []byte, done func(error))
}

// Bridges are the browser-only pieces. On the server they are nil and the
// shell renders its loading state; without a Store nothing is kept between
// visits.
type Bridges struct {
	Charts Charts
	Frames Frames
	Store  Store
	// Locale writes numbers and times in the operator's locale; nil
	// writes them as en-US does, with ISO dates.
	Locale Locale
}

// APIDashboards lists the dashboards (id and title, in the server's order);
// APIDashboards + "/" + id is one spec, "default" the first one. Both need
// the operator's token.
const APIDashboards = "/api/v1/dashboards"

// PathDashboard + id is a dashboard's page; "/" shows the default (first) one.
const PathDashboard = "/d/"

// PathWS is the WebSocket endpoint.
const PathWS = "/api/v1/ws"

// Register installs the routes: "/" (the default dashboard), /d/{id}
// (every dashboard, by id) and /sla (the freshness page, sla.go). Call it once, before app.RunWhenOnBrowser on
// the client and before serving app.Handler on the server (which serves the
// app shell only for these paths).
func Register(b Bridges) {
	shell := func() app.Composer { return &Shell{bridges: b} }
	app.Route("/", shell)
	app.RouteWithRegexp("^"+PathDashboard+"[^/]+$", shell)
	app.Route(PathSLA, func() app.Composer { return &slaPage{bridges: b} })
}

// dashboardID is the id of the dashboard a page's path asks for: "" for the
// default one ("/" and /d/default).
func dashboardID(path string) string {
	id, _ := strings.CutPrefix(path, PathDashboard)
	if id == path || id == "default" {
		return ""
	}
	if s, err := url.PathUnescape(id); err == nil {
		return s
	}
	return id
}

// dashboardPath is the page of dashboard id.
func dashboardPath(id string) string { return PathDashboard + url.PathEscape(id) }

package ui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
)

// Shell is the whole page: header with the connection badge, then the panels
// of the dashboard spec.
type Shell struct {
	app.Compo

	bridges Bridges
	spec    *dashboard.Dashboard
	loadErr string
	client  *client.Client
	view    view
	now     time.Time
	sla     slaState // freshness reports (sla.go)
	sso     ssoState // sign-in with the organisation's identity provider (signin.go)

	// want is the id of the dashboard the page's URL asks for ("": the
	// default one); set at mount.
	want string
	// signedOut says why the spec needs a token before anything is drawn
	// (none is kept, or the server refused it); "" otherwise. The client's
	// own refusals (SignedOut) show the same form once it runs.
	signedOut string
	// noDashboard: the server has no dashboard want (a 404 is final).
	noDashboard bool
	// boards are the server's dashboards (id, title, version) for the
	// picker, as listed once; pickerBoards brings them up to date.
	boards []board
	reload reload // the changes stream: new versions, deletes (reload.go)
	// tokens wakes the spec's loader when a token is pasted.
	tokens chan struct{}

	dirty     atomic.Bool // the client's state changed: re-render and draw
	waiting   atomic.Bool // a chart still has something to draw
	scheduled atomic.Bool
	renders   int
	// chartDraws counts SetData calls (atomic: telltaleStats reads it from
	// outside the UI goroutine).
	chartDraws atomic.Int64
	trace      trace
	charts     map[string]*chartState // by chart id
	redraw     func()                 // a chart was resized or scrolled into view
	// fetchWindow asks the server for a zoomed chart's history (set in
	// start; tests replace it).
	fetchWindow func(p dashboard.Panel, r Range, width int)
	hooks       map[string]ChartHooks // by panel id, made once
	arrivals    map[string]*arrival   // by stream: when it last moved, its cadence
	lkg         lkgState              // the stored last-known-good state (lkg.go)
	missing     missing               // what panels name that their streams lack (missing.go)
	lite        lite                  // m4 streams for a device that cannot draw every point (lite.go)
	hist        map[string]*history   // by panel id: a kpi's or stat's values as seen (stat.go)

	// fetchOpen asks the server for the history a live chart's window
	// lacks, and later runs f on the UI goroutine after d (its retries);
	// history.go sets both in start, tests replace them.
	fetchOpen func(p dashboard.Panel, r Range, width int)
	later     func(d time.Duration, f func())
}

// tokenKey is where the page keeps the operator's token between visits.
const tokenKey = "telltale.token"

// signInToken returns the token to connect with. A token in the URL fragment
// (#token=..., the sign-in link "telltale token -url" prints) is kept in
// localStorage and removed from the address bar, so it is neither bookmarked
// nor shared by copying the URL; fragments never reach the server.
func signInToken() string {
	loc := app.Window().Get("location")
	if tok, ok := strings.CutPrefix(loc.Get("hash").String(), "#token="); ok && tok != "" {
		app.Window().Get("history").Call("replaceState", nil, "", loc.Get("pathname").String()+loc.Get("search").String())
		// A link must not silently sign an operator into someone else's
		// account (and data): switching from a kept token asks first.
		kept := app.Window().Get("localStorage").Call("getItem", tokenKey)
		if !kept.Truthy() || identity(kept.String()) == identity(tok) ||
			app.Window().Call("confirm", "This link signs you in as "+identity(tok)+" instead of "+identity(kept.String())+". Switch?").Bool() {
			saveToken(tok)
			return tok
		}
	}
	return storedToken()
}

// storedToken is the token the page keeps ("" when none).
func storedToken() string {
	if v := app.Window().Get("localStorage").Call("getItem", tokenKey); v.Truthy() {
		return v.String()
	}
	return ""
}

// identity is "operator @ tenant" as a token claims it, read without
// verifying (only the server can): enough to tell a re-issued token of the
// same operator, which replaces the kept one silently, from someone else's.
func identity(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "an unreadable token"
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Sub string `json:"sub"`
		Tnt string `json:"tnt"`
	}
	if err != nil || json.Unmarshal(b, &c) != nil {
		return "an unreadable token"
	}
	return c.Sub + " @ " + c.Tnt
}

func saveToken(tok string) {
	app.Window().Get("localStorage").Call("setItem", tokenKey, tok)
}

// trace counts what the client applied, for the page's window.telltaleStats()
// (read by the end-to-end tests, and handy in a console): a break is an
// applied seq that did not follow the one before, which must never happen.
type trace struct {
	mu        sync.Mutex
	snapshots int
	breaks    int
	last      map[string][2]uint64 // stream → {epoch, seq}
}

func (t *trace) record(stream string, epoch, seq uint64, snapshot bool) {
	if stream == dashboard.ChangesStream || stream == dashboard.AlertsStream {
		return // the page's own bookkeeping, not a dashboard's data
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string][2]uint64{}
	}
	if snapshot {
		if t.snapshots == 0 {
			startMark("first-snapshot")
		}
		t.snapshots++
	} else if prev := t.last[stream]; prev[0] == epoch && seq != prev[1]+1 {
		t.breaks++
	}
	t.last[stream] = [2]uint64{epoch, seq}
}

func (t *trace) json(info client.Info, renders, chartDraws int, m *missing) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	type pos struct {
		Epoch string `json:"epoch"` // a string: epochs exceed JavaScript's 2^53
		Seq   uint64 `json:"seq"`
	}
	out := struct {
		Snapshots  int            `json:"snapshots"`
		Breaks     int            `json:"breaks"`
		Resumes    int            `json:"resumes"`
		Reconnects int            `json:"reconnects"`
		Status     string         `json:"status"`
		Streams    map[string]pos `json:"streams"`
		Renders    int            `json:"renders"`
		ChartDraws int            `json:"chart_draws"` // SetData calls, all charts
		GoHeapMB   float64        `json:"go_heap_mb"`  // the wasm side's Go heap, for the render benchmark
		GoSysMB    float64        `json:"go_sys_mb"`
		// Missing counts the names panels give that their streams lack
		// (missing.go); MissingByPanel lists them by panel id.
		Missing        int                 `json:"missing"`
		MissingByPanel map[string][]string `json:"missing_by_panel"`
	}{t.snapshots, t.breaks, info.Resumes, info.Reconnects, info.Status.String(), map[string]pos{}, renders, chartDraws, 0, 0, 0, nil}
	out.Missing, out.MissingByPanel = m.counts()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out.GoHeapMB, out.GoSysMB = float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20)
	for k, v := range t.last {
		out.Streams[k] = pos{strconv.FormatUint(v[0], 10), v[1]}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// view is what the last animation frame copied out of the client state.
type view struct {
	info   client.Info
	values map[string]map[string]float64 // stream → gauge → value
	rows   map[string][]rowView          // stream → newest-first rows
	alerts []string                      // the dashboard's firing alerts' messages (alerts.go)
}

type rowView struct {
	key    string
	fields map[string]any
}

// OnMount runs only in the browser: fetch the spec, then follow its streams.
func (s *Shell) OnMount(ctx app.Context) {
	s.now = time.Now()
	s.want = dashboardID(app.Window().URL().EscapedPath())
	s.tokens = make(chan struct{}, 1)
	tok := signInToken() // takes a #token= link's token first
	if hasSession() {    // signin.go: the session renews the token, Sign out is offered
		s.sso.renews.Store(true)
	}
	s.listenSignIn()
	listenRuleTaps()  // thresholds.go
	listenFullLoads() // the freshness page's link (sla.go)
	startMark("mount")
	ctx.Async(func() {
		first := s.prefetchSpec(ctx)     // travels while the stored state is read
		s.restoreLKG(ctx, identity(tok)) // draws the stored dashboard, if any, before the network
		startMark("lkg-read")
		s.loadSpec(ctx, first)
	})
	ctx.Async(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				ctx.Dispatch(func(app.Context) {
					s.now = now
					s.slaTick(ctx, now)
					s.ssoTick(ctx)
				})
			}
		}
	})
}

// OnNav: go-app keeps this component when a link or the back button moves
// to another dashboard's URL; its client, charts and stored state are the
// old dashboard's, so the page loads again for the new one.
func (s *Shell) OnNav(ctx app.Context) {
	if s.tokens != nil && dashboardID(app.Window().URL().EscapedPath()) != s.want {
		ctx.Reload()
	}
}

// loadSpec fetches the spec with the operator's token until it has it. A
// server that is down or restarting at page load must not leave a dead
// page: keep asking, with backoff, and say why meanwhile. Without a token,
// or with one the server refuses (401), it asks for one and waits for it;
// an unknown dashboard (404) is final.
func (s *Shell) loadSpec(ctx app.Context, first <-chan specFetch) {
	for attempt := 0; ; attempt++ {
		var f specFetch
		if first != nil {
			f, first = <-first, nil
		} else {
			f.tok = storedToken()
			f.spec, f.version, f.err = fetchSpec(ctx, s.want, f.tok, 0)
		}
		tok, spec, version, err := f.tok, f.spec, f.version, f.err
		if ctx.Err() != nil {
			return
		}
		var herr *client.HTTPError
		status := 0
		if errors.As(err, &herr) {
			status = herr.Status
		}
		ctx.Dispatch(func(ctx app.Context) {
			s.loadErr, s.signedOut = "", ""
			switch {
			case err == nil:
				startMark("spec")
				if !s.specArrived(ctx, spec, version) {
					s.spec, s.reload.version = spec, version
					s.start(ctx)
				}
			case status == 404:
				s.noDashboard = true
			case tok == "":
				s.signedOut = "Sign in to see this dashboard."
			case status == 401:
				if s.client == nil { // else the client says it is refused
					s.signedOut = "The server refused your token (" + herr.Message + ")."
				}
			case s.client == nil: // else the stored dashboard is on screen
				s.loadErr = err.Error()
			}
		})
		if err == nil || status == 404 {
			s.loadBoards(ctx, tok) // the picker, or the links of the 404 page
			return
		}
		wait := time.After(min(30*time.Second, time.Second<<min(attempt, 5)))
		if tok == "" || status == 401 {
			wait, attempt = nil, -1 // until a token is pasted
		}
		select {
		case <-ctx.Done():
			return
		case <-s.tokens:
			attempt = -1
		case <-wait:
		}
	}
}

// specFetch is one answer to the spec's request, with the token it was
// asked with.
type specFetch struct {
	tok     string
	spec    *dashboard.Dashboard
	version int
	err     error
}

// prefetchSpec asks for the spec at once, for loadSpec's first attempt: on
// a first visit, opening the stored state's database takes a few hundred ms
// on a phone, which the request no longer waits for.
func (s *Shell) prefetchSpec(ctx app.Context) <-chan specFetch {
	ch := make(chan specFetch, 1)
	f := specFetch{tok: storedToken()}
	m4px := 0
	if on, _, _, px := liteNow(); on {
		m4px = max(px, 1) // the server starts the page's m4 streams now, not at its subscription
	}
	ctx.Async(func() {
		f.spec, f.version, f.err = fetchSpec(ctx, s.want, f.tok, m4px)
		ch <- f
	})
	return ch
}

func origin() *url.URL {
	u := app.Window().URL()
	return &url.URL{Scheme: u.Scheme, Host: u.Host}
}

// errNoToken: the page holds no token to ask for a spec with.
var errNoToken = errors.New("no token")

// fetchBytes GETs url's body with the browser's fetch, with the operator's
// token when one is given. Not net/http: its client side (transport, HTTP/2)
// adds 850 KB brotli to app.wasm (measured: a go-app main grows from 1.40 MB
// to 2.25 MB with one http.Get).
// The callbacks are released in the chain's finally, and ctx aborts the
// request, so the chain always settles and nothing leaks however it ends.
func fetchBytes(ctx context.Context, url, token string) ([]byte, error) {
	return fetchRequest(ctx, "GET", url, token)
}

// fetchRequest is fetchBytes with another method (signin.go's POST).
func fetchRequest(ctx context.Context, method, url, token string) ([]byte, error) {
	type result struct {
		body []byte
		err  error
	}
	done := make(chan result, 1)
	settle := func(r result) {
		select {
		case done <- r:
		default:
		}
	}
	status := 0
	var onResponse, onBody, onError, onFinally app.Func
	onResponse = app.FuncOf(func(_ app.Value, args []app.Value) any {
		status = args[0].Get("status").Int()
		return args[0].Call("arrayBuffer")
	})
	onBody = app.FuncOf(func(_ app.Value, args []app.Value) any {
		arr := app.Window().Get("Uint8Array").New(args[0])
		body := make([]byte, arr.Length())
		app.CopyBytesToGo(body, arr)
		if status != 200 {
			settle(result{err: &client.HTTPError{Status: status, Message: fmt.Sprintf("%.200s", strings.TrimSpace(problemText(body)))}})
			return nil
		}
		settle(result{body: body})
		return nil
	})
	onError = app.FuncOf(func(_ app.Value, args []app.Value) any {
		msg := "network error"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		settle(result{err: errors.New(msg)})
		return nil
	})
	onFinally = app.FuncOf(func(app.Value, []app.Value) any {
		onResponse.Release()
		onBody.Release()
		onError.Release()
		onFinally.Release()
		return nil
	})
	abort := app.Window().Get("AbortController").New()
	opts := map[string]any{"method": method, "signal": abort.Get("signal"), "cache": "no-store"}
	if token != "" {
		opts["headers"] = map[string]any{"Authorization": "Bearer " + token}
	}
	app.Window().Call("fetch", url, opts).
		Call("then", onResponse).
		Call("then", onBody).
		Call("catch", onError).
		Call("finally", onFinally)
	select {
	case r := <-done:
		return r.body, r.err
	case <-ctx.Done():
		abort.Call("abort") // rejects the chain: onError, then onFinally
		return nil, ctx.Err()
	}
}

// problemText is an error body's message: the "error" of a JSON problem,
// else the text itself.
func problemText(body []byte) string {
	var p struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &p) == nil && p.Error != "" {
		return p.Error
	}
	return string(body)
}

func (s *Shell) start(ctx app.Context) {
	s.startLite() // before anything reads the panels' streams
	ws := origin()
	ws.Scheme = map[string]string{"https": "wss"}[ws.Scheme]
	if ws.Scheme == "" {
		ws.Scheme = "ws"
	}
	meter := s.startSLA() // sla.go
	s.client = client.New(client.Config{
		URL:           ws.JoinPath(PathWS).String(),
		Token:         signInToken(),
		Streams:       pageStreams(s.spec),                                       // reload.go, alerts.go
		Limits:        livestate.Limits{Points: 100_000, Rows: rowsKept(s.spec)}, // charts decimate to their width; tables draw only the rows in view
		StreamLimits:  map[string]livestate.Limits{dashboard.ChangesStream: {Rows: changesRows}, dashboard.AlertsStream: {Rows: dashboard.MaxAlerts}},
		OnChange:      func() { s.invalidate(ctx) },
		AfterSnapshot: s.awaitFrame, // the first chart before the other snapshots' decode
		Trace:         s.trace.record,
		Get:           httpGet,        // the fallback when WebSockets are blocked
		Refresh:       s.refreshToken, // the sign-in session's next token (signin.go)
		Meter:         meter,
	})
	c := s.client
	s.startLKG(ctx, c)
	s.redraw = func() {
		s.waiting.Store(true)
		s.requestFrame(ctx)
	}
	s.startWindowFetches(ctx)
	s.startOpenFetches(ctx)
	s.hooks = map[string]ChartHooks{}
	for _, p := range s.spec.Panels {
		s.hooks[p.ID] = s.chartHooks(ctx, p.ID)
	}
	app.Window().Set("telltaleStats", app.FuncOf(func(app.Value, []app.Value) any {
		var info client.Info
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { info = i })
		return s.trace.json(info, s.renders, int(s.chartDraws.Load()), &s.missing)
	}))
	s.listenNetwork(ctx, c)
	s.listenSLA(ctx)
	ctx.Async(func() {
		startMark("client-run")
		_ = c.Run(ctx)
	})
	startMark("client-started")
	if s.bridges.Frames != nil {
		// Draw the panels at the next frame, not now: mounting them (a
		// uPlot per chart) takes a second on a throttled phone, and the
		// client's goroutine runs only once this one yields. Yielding first
		// lets it open the WebSocket, whose handshake and first snapshots
		// then travel while the panels mount. The client's first change
		// (connecting) asks for that frame; invalidate asks in case, and a
		// dispatch queued behind the client's goroutine renders the panels
		// even if no frame comes.
		ctx.PreventUpdate()
		s.invalidate(ctx)
		ctx.Async(func() { ctx.Dispatch(func(app.Context) {}) })
	}
}

// awaitFrame returns once the page has had a frame to draw what the client
// just applied: the frame after the next (the next one dispatches the
// drawing to the UI goroutine, which runs before the browser's following
// frame), or after awaitFrameMax, as a hidden tab fires no frames.
func (s *Shell) awaitFrame(ctx context.Context) {
	if s.bridges.Frames == nil {
		return
	}
	done := make(chan struct{})
	s.bridges.Frames.Request(func() { s.bridges.Frames.Request(func() { close(done) }) })
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(awaitFrameMax):
	}
}

// awaitFrameMax bounds awaitFrame: two frames at 60 Hz are 33 ms.
const awaitFrameMax = 100 * time.Millisecond

// invalidate is called from the client goroutine on every change. However
// many events arrive between two animation frames, they cost one render.
func (s *Shell) invalidate(ctx app.Context) {
	s.dirty.Store(true)
	s.requestFrame(ctx)
}

// requestFrame asks for an animation frame, once however often it is called
// before the frame. The frame re-renders the tree if the client's state
// changed, and otherwise only draws the charts still waiting (without a
// go-app update).
func (s *Shell) requestFrame(ctx app.Context) {
	if s.bridges.Frames == nil || !s.scheduled.CompareAndSwap(false, true) {
		return
	}
	s.bridges.Frames.Request(func() {
		s.scheduled.Store(false)
		start := time.Now()
		switch {
		case s.dirty.Swap(false):
			s.waiting.Store(false)
			ctx.Dispatch(func(ctx app.Context) { s.frame(ctx, start) })
		case s.waiting.Swap(false):
			ctx.Dispatch(func(ctx app.Context) {
				ctx.PreventUpdate()
				s.client.Read(func(streams map[string]*livestate.Stream, info client.Info) {
					s.chartsWaiting(ctx, s.drawCharts(streams, info.Snapshots+info.Resumes, start, time.Now))
				})
				s.painted()
			})
		}
	})
}

// chartsWaiting asks for another frame while some chart has not caught up.
func (s *Shell) chartsWaiting(ctx app.Context, waiting bool) {
	if waiting {
		s.waiting.Store(true)
		s.requestFrame(ctx)
	}
}

// frame copies what the panels show out of the client state and draws the
// charts that are due; go-app then re-renders the tree once.
func (s *Shell) frame(ctx app.Context, start time.Time) {
	if s.renders == 0 {
		startMark("first-frame")
	}
	s.renders++
	s.now = time.Now()
	v := view{values: map[string]map[string]float64{}, rows: map[string][]rowView{}}
	s.client.Read(func(streams map[string]*livestate.Stream, info client.Info) {
		v.info = info
		for name, st := range streams {
			if len(st.State.Values) > 0 {
				vals := make(map[string]float64, len(st.State.Values))
				for k, x := range st.State.Values {
					vals[k] = x
				}
				v.values[name] = vals
			}
			rows := make([]rowView, len(st.State.Rows))
			for i, r := range st.State.Rows {
				rows[i] = rowView{key: r.Key, fields: r.Fields}
			}
			v.rows[name] = rows
		}
		s.recordHistory(&v, streams, s.now)
		s.trackArrivals(streams, s.now)
		s.missing.update(s.spec, streams)
		s.followChanges(ctx, streams)
		if s.spec != nil {
			v.alerts = firing(streams, s.spec.ID)
		}
		s.chartsWaiting(ctx, s.drawCharts(streams, info.Snapshots+info.Resumes, start, time.Now))
		s.drawnPanels(streams)
	})
	s.painted()
	s.view = v
	s.watchLite(ctx, v.info, time.Since(start))
}

func chartID(panel string) string { return "chart-" + panel }

func (s *Shell) Render() app.UI {
	return app.Div().Class("tt-app").Body(
		app.Header().Class("tt-header").Body(
			app.H1().Class("tt-title").Title(s.versionNote()).Text(s.title()),
			app.If(len(s.pickerBoards()) > 1, s.picker),
			s.badge(),
			app.Raw(s.slaLink()),
			app.If(s.sso.renews.Load(), func() app.UI { return app.Raw(s.ssoSignOut()) }),
		),
		&updateBanner{},
		// The banners that come and go share one element, so the grid stays
		// the third child: go-app diffs children by position, and a banner
		// going away (the stored state's, once live) made it re-create the
		// grid and every chart in it.
		app.Div().Class("tt-banners").Body(
			app.If(s.showingLKG(), s.lkgBanner),
			app.If(s.signInWhy() != "", s.signIn),
			app.If(s.reload.deleted, s.deletedBanner),
			app.If(len(s.view.alerts) > 0, s.alertBanner),
		),
		app.Main().Class("tt-grid").ID("tt-grid").DataSet("deleted", s.reload.deleted).Body(s.panels()...),
	)
}

// signIn asks for a token when the page has none or the server refused the
// one it had. Panels already drawn stay below it with the last data they
// showed; a page that never had a spec draws none. It is plain HTML with
// one document-level submit listener (listenSignIn): go-app's typed form and
// input elements would add 19 KB brotli to app.wasm.
func (s *Shell) signIn() app.UI {
	return app.Raw(`<form class="tt-signin" id="tt-signin"><p class="tt-signin-why">` +
		html.EscapeString(s.signInWhy()) +
		`</p>` + s.ssoLink() + `<label for="tt-token">Paste your Telltale token</label>` +
		`<input id="tt-token" name="token" type="password" autocomplete="off">` +
		`<button type="submit">Sign in</button></form>`)
}

// signInWhy is why the page asks for a token, or "": the server refused the
// one it had, or the session ends within five minutes (a token pasted then
// is handed over on the open connection, nothing is missed).
func (s *Shell) signInWhy() string {
	info := s.view.info
	switch {
	case s.signedOut != "":
		return s.signedOut
	case s.client == nil:
		return ""
	case info.Status == client.SignedOut:
		return info.LastError
	case !info.TokenExpires.IsZero() && info.TokenExpires.Sub(s.now) < 5*time.Minute && !s.sso.renews.Load():
		return "Your session ends at " + s.clock(info.TokenExpires) + ": paste a new token to stay connected."
	}
	return ""
}

// listenSignIn handles the sign-in form's submit for the page's lifetime:
// the token goes to the running client, or wakes the spec's loader.
func (s *Shell) listenSignIn() {
	app.Window().Get("document").Call("addEventListener", "submit", app.FuncOf(func(_ app.Value, args []app.Value) any {
		ev := args[0]
		form := ev.Get("target")
		if form.Get("id").String() != "tt-signin" {
			return nil
		}
		ev.Call("preventDefault")
		tok := strings.TrimSpace(form.Get("elements").Get("token").Get("value").String())
		if tok == "" {
			return nil
		}
		saveToken(tok)
		if s.client != nil {
			s.client.SetToken(tok)
		}
		select { // wakes loadSpec if it waits for a token
		case s.tokens <- struct{}{}:
		default:
		}
		return nil
	}))
}

func (s *Shell) title() string {
	if s.spec != nil && s.spec.Title != "" {
		return s.spec.Title
	}
	return "Telltale"
}

func (s *Shell) badge() app.UI {
	state, text := "connecting", "connecting…"
	switch {
	case s.signedOut != "":
		state, text = "signed-out", "signed out"
	case s.noDashboard:
		state, text = "missing", "no such dashboard"
	case s.loadErr != "":
		state, text = "offline", "cannot load dashboard, retrying"
	case s.client != nil:
		state, text = badgeFor(s.view.info, s.dataHealth(s.now), s.now)
	}
	return app.Div().Class("tt-badge").DataSet("state", state).ID("tt-badge").Body(
		app.Span().Class("tt-dot"),
		app.Span().Class("tt-badge-text").Text(text),
	)
}

func (s *Shell) panels() []app.UI {
	if s.noDashboard {
		return []app.UI{s.missingDashboard()}
	}
	if s.signedOut != "" {
		return nil // nothing of the dashboard before the server accepts a token
	}
	if s.loadErr != "" {
		return []app.UI{app.Div().Class("tt-error").Text("Cannot load the dashboard (" + s.loadErr + "). Retrying…")}
	}
	if s.spec == nil {
		return []app.UI{app.Div().Class("tt-loading").Text("Loading dashboard…")}
	}
	if s.reload.blank {
		return nil // a new version's panels mount afresh at the next render (reload.go)
	}
	out := make([]app.UI, 0, len(s.spec.Panels))
	for _, p := range s.spec.Panels {
		out = append(out, s.panel(p))
	}
	return out
}

func (s *Shell) panel(p dashboard.Panel) app.UI {
	width := p.Width
	if width == 0 {
		width = 12
	}
	var body app.UI
	switch p.Kind {
	case dashboard.KindKPI:
		body = s.kpi(p)
	case dashboard.KindTimeSeries:
		body = &chartPanel{ID: chartID(p.ID), Spec: chartSpec(p), charts: s.bridges.Charts, hooks: s.hooks[p.ID], mounted: s.chartMounted}
	case dashboard.KindTable:
		body = s.table(p)
	case dashboard.KindStat:
		body = s.stat(p)
	case dashboard.KindStatus:
		body = s.status(p)
	case dashboard.KindBar:
		body = s.bar(p)
	}
	return app.Section().
		Class("tt-panel", "tt-"+string(p.Kind), fmt.Sprintf("tt-w%d", width)).
		DataSet("panel", p.ID).
		Body(
			// The head's children vary (zoom controls); the body stays the
			// section's second child, so go-app never re-creates a chart.
			app.Div().Class("tt-panel-head").Body(
				s.panelTitle(p),
				s.zoomControls(p),
				s.liteNote(p),
				s.freshnessLabel(p),
				s.missingNote(p),
				s.historyError(p),
				s.historyNote(p), // last: the others keep their places (go-app diffs by position)
			),
			body,
		)
}

func (s *Shell) kpi(p dashboard.Panel) app.UI {
	if grouped(p) {
		return s.kpiGroups(p)
	}
	text := "—"
	f := FormatOf(p.Format, p.Currency, p.Decimals)
	loc := s.bridges.locale()
	if name, ok := strings.CutPrefix(p.Field, "row."); ok {
		if rows := s.view.rows[p.Stream]; len(rows) > 0 {
			if v := rows[0].field(name); v != nil {
				text = f.Value(loc, v, s.now)
			}
		}
	} else if v, ok := s.view.values[p.Stream][p.Field]; ok {
		text = f.Number(loc, v)
	}
	// A money value in a currency shows the currency instead of the unit.
	if text != "—" {
		text = withUnit(p, text)
	}
	// The value never wraps: static/telltale.css sizes it to fit its tile
	// by its length in characters.
	value := app.Div().Class("tt-kpi-value").ID("kpi-"+p.ID).Style("--tt-chars", "%d", utf8.RuneCountInString(text)).Text(text)
	if len(p.Thresholds) > 0 || p.CompareSeconds > 0 {
		return s.leveled(p, value) // stat.go
	}
	return value
}

func (s *Shell) table(p dashboard.Panel) app.UI {
	return &feedTable{Panel: p, Frame: s.renders, rows: s.tableRows, loc: s.bridges.locale()}
}

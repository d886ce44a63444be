package ui

// Freshness reports (issue 18): the page measures what the operator sees
// with a client.Meter and sends what it measured every sla.ReportEvery, and
// once more as it goes (pagehide).
//
//   - Painted: a chart's events count as painted at the animation frame
//     after the frame whose uPlot draw showed them; a KPI's, stat's,
//     table's, status' or bar's at the frame after the DOM update that
//     showed them (go-app updates the DOM right after the frame's
//     dispatch). The frame after is when the browser has drawn.
//   - Fresh or stale: the panel's freshness label's own verdict
//     (freshness.go), sampled every second, with the cause the page can
//     tell (slaCause).
//   - Reports go over the open WebSocket (wire.Report); over the HTTP
//     fallback, and on pagehide, by POST /api/v1/sla/report with fetch's
//     keepalive (the request outlives the page), JSON, with the operator's
//     token.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// PathSLAReport is where a page posts its report when it has no WebSocket.
const PathSLAReport = "/api/v1/sla/report"

// slaState is the shell's side of the reports. UI goroutine only, but for
// the meter (safe from anywhere).
type slaState struct {
	meter  *client.Meter
	spec   *dashboard.Dashboard // the spec the meter's panels are of
	paints []client.Paint       // drawn this frame; painted at the next
	screen string               // random, for this page's life
	dash   string               // the dashboard's id
	sent   time.Time            // when the last report was made
	// ignore drops a failed post's rejection: a report that could not be
	// posted is lost, as its period is.
	ignore app.Func
}

// startSLA makes the page's meter, for client.Config.Meter.
func (s *Shell) startSLA() *client.Meter {
	s.sla.meter = client.NewMeter(nil)
	s.sla.screen = strconv.FormatUint(rand.Uint64(), 36)
	s.sla.dash, s.sla.sent = s.spec.ID, time.Now()
	if s.sla.dash == "" {
		s.sla.dash = s.want
	}
	s.slaPanels()
	return s.sla.meter
}

// slaPanels tells the meter the panels on screen when the spec changed (a
// new version, the lite streams).
func (s *Shell) slaPanels() {
	if s.sla.meter == nil || s.spec == s.sla.spec || s.spec == nil {
		return
	}
	s.sla.spec = s.spec
	ps := make([]client.PanelStream, len(s.spec.Panels))
	for i, p := range s.spec.Panels {
		ps[i] = client.PanelStream{Panel: p.ID, Stream: p.Stream}
	}
	s.sla.meter.SetPanels(ps)
}

// drawn notes a panel drawn this frame up to its stream's position.
func (s *Shell) drawn(panel string, epoch, seq uint64) {
	if s.sla.meter != nil && seq > 0 {
		s.sla.paints = append(s.sla.paints, client.Paint{Panel: panel, Epoch: epoch, Seq: seq})
	}
}

// drawnPanels notes the panels other than charts, which the DOM update
// after this frame shows up to their streams' positions.
func (s *Shell) drawnPanels(streams map[string]*livestate.Stream) {
	if s.sla.meter == nil || s.spec == nil {
		return
	}
	s.slaPanels()
	for _, p := range s.spec.Panels {
		if st := streams[p.Stream]; st != nil && p.Kind != dashboard.KindTimeSeries {
			s.drawn(p.ID, st.Epoch, st.Seq)
		}
	}
}

// painted hands this frame's draws to the meter at the next animation
// frame: by then the browser has drawn them.
func (s *Shell) painted() {
	if len(s.sla.paints) == 0 || s.bridges.Frames == nil {
		return
	}
	paints, m := s.sla.paints, s.sla.meter
	s.sla.paints = nil
	s.bridges.Frames.Request(func() { m.Painted(paints, m.Now()) })
}

// slaFresh samples every panel's freshness for the meter.
func (s *Shell) slaFresh(now time.Time) {
	m := s.sla.meter
	if m == nil || s.spec == nil {
		return
	}
	s.slaPanels()
	at := m.Now()
	for _, p := range s.spec.Panels {
		f := s.freshness(p, now)
		cause := ""
		if f.stale {
			cause = slaCause(s.view.info, m.Behind(p.ID, at))
		}
		m.Fresh(p.ID, f.known, f.stale, cause, at)
	}
}

// slaCause is why a panel is stale, as the page can tell: the connection
// is down, the data comes over the HTTP fallback, events arrived that the
// page has not painted yet (behind), or else the stream is silent.
func slaCause(info client.Info, behind bool) string {
	switch {
	case info.NetworkDown || info.Status == client.Offline || info.Status == client.Connecting || info.Status == client.SignedOut:
		return sla.CauseDisconnect
	case info.Transport == client.TransportPoll:
		return sla.CauseFallback
	case behind:
		return sla.CauseClientLag
	}
	return sla.CauseSilent
}

// slaTick runs every second on the UI goroutine (the shell's clock):
// it samples the panels' freshness and, every sla.ReportEvery, sends a
// report over the WebSocket, or posts it when there is none.
func (s *Shell) slaTick(ctx app.Context, now time.Time) {
	if s.sla.meter == nil || s.client == nil {
		return
	}
	s.slaFresh(now)
	if now.Sub(s.sla.sent) < sla.ReportEvery {
		return
	}
	s.sla.sent = now
	if r := s.report(); r != nil {
		c := s.client
		ctx.Async(func() {
			if c.SendReport(ctx, r) != nil {
				s.sla.post(r, c.Token())
			}
		})
	}
}

// report empties the meter into a report; nil when it has nothing.
func (s *Shell) report() *wire.Report {
	r := &wire.Report{Screen: s.sla.screen, Dashboard: s.sla.dash, Transport: sla.TransportSocket}
	if s.view.info.Transport == client.TransportPoll {
		r.Transport = sla.TransportFallback
	}
	if !s.sla.meter.Report(r, s.sla.meter.Now()) {
		return nil
	}
	return r
}

// listenSLA posts a last report on pagehide (the time since the last
// freshness sample counts as what it said), and tells the meter when the
// page is hidden: a hidden page draws nothing, and nothing is measured.
func (s *Shell) listenSLA(ctx context.Context) {
	m, win := s.sla.meter, app.Window()
	doc := win.Get("document")
	on := app.FuncOf(func(_ app.Value, args []app.Value) any {
		if len(args) > 0 && args[0].Get("type").String() == "pagehide" {
			if r := s.report(); r != nil {
				s.sla.post(r, s.client.Token())
			}
			return nil
		}
		m.SetVisible(doc.Get("visibilityState").String() != "hidden", m.Now())
		return nil
	})
	on.Invoke() // visible now?
	win.Call("addEventListener", "pagehide", on)
	win.Call("addEventListener", "visibilitychange", on) // bubbles from the document
	context.AfterFunc(ctx, func() {
		win.Call("removeEventListener", "pagehide", on)
		win.Call("removeEventListener", "visibilitychange", on)
		on.Release()
	})
}

// post posts r with fetch's keepalive, so that it is sent even as the page
// goes (not net/http: 850 KB of app.wasm); the answer is not awaited. The
// body is msgpack, which the endpoint reads like JSON: the encoder is the
// one the WebSocket's reports use already, where JSON would add its own.
func (st *slaState) post(r *wire.Report, token string) {
	body := reportBody(r)
	if body == nil || len(body) > sla.MaxReportBytes {
		return
	}
	if st.ignore == nil {
		st.ignore = app.FuncOf(func(app.Value, []app.Value) any { return nil })
	}
	// The options as JSON: go-app's conversion of nested Go maps costs
	// app.wasm more than this.
	opts := app.Window().Get("JSON").Call("parse", `{"method":"POST","keepalive":true,"headers":{"Content-Type":"application/msgpack","Authorization":`+
		strconv.Quote("Bearer "+token)+`}}`)
	arr := app.Window().Get("Uint8Array").New(len(body))
	app.CopyBytesToJS(arr, body)
	opts.Set("body", arr)
	app.Window().Call("fetch", PathSLAReport, opts).Call("catch", st.ignore)
}

// reportHead ends a report frame's envelope ({v, t: "report", b: body}):
// POST /api/v1/sla/report takes the body alone.
var reportHead = []byte("\xa6report\xa1b")

// reportBody is r encoded as POST /api/v1/sla/report reads msgpack: the
// report frame's body (nil if r does not encode).
func reportBody(r *wire.Report) []byte {
	b, err := wire.EncodeClient(r)
	if err != nil {
		return nil
	}
	if i := bytes.Index(b, reportHead); i >= 0 {
		return b[i+len(reportHead):]
	}
	return nil
}

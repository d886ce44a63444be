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
	// ignore drops a failed post's rejection: a report that could not be
	// posted is lost, as its period is.
	ignore app.Func
}

// startSLA makes the page's meter, for client.Config.Meter.
func (s *Shell) startSLA() *client.Meter {
	s.sla.meter = client.NewMeter(nil)
	s.sla.screen = strconv.FormatUint(rand.Uint64(), 36)
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

// runReports sends a report every sla.ReportEvery while ctx lives, and a
// last one on pagehide.
func (s *Shell) runReports(ctx app.Context, c *client.Client) {
	if s.sla.meter == nil || s.spec == nil {
		return
	}
	dash := s.spec.ID
	if dash == "" {
		dash = s.want
	}
	report := func() *wire.Report {
		r := &wire.Report{Screen: s.sla.screen, Dashboard: dash, Transport: sla.TransportSocket}
		var info client.Info
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { info = i })
		if info.Transport == client.TransportPoll {
			r.Transport = sla.TransportFallback
		}
		if !s.sla.meter.Report(r, s.sla.meter.Now()) {
			return nil
		}
		return r
	}
	ctx.Async(func() {
		t := time.NewTicker(sla.ReportEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				ctx.Dispatch(func(ctx app.Context) {
					ctx.PreventUpdate()
					s.slaFresh(now)
					r := report()
					if r == nil {
						return
					}
					ctx.Async(func() {
						if err := c.SendReport(ctx, r); err != nil {
							s.sla.post(r, c.Token())
						}
					})
				})
			}
		}
	})
	// On pagehide the time since the last sample counts as what it said:
	// no freshness is read here, off the UI goroutine.
	win := app.Window()
	onHide := app.FuncOf(func(app.Value, []app.Value) any {
		if r := report(); r != nil {
			s.sla.post(r, c.Token())
		}
		return nil
	})
	win.Call("addEventListener", "pagehide", onHide)
	context.AfterFunc(ctx, func() {
		win.Call("removeEventListener", "pagehide", onHide)
		onHide.Release()
	})
}

// post posts r as JSON with fetch's keepalive, so that it is sent
// even as the page goes. Not net/http (850 KB of app.wasm); the answer is
// not awaited.
func (st *slaState) post(r *wire.Report, token string) {
	body := reportJSON(r)
	if len(body) > sla.MaxReportBytes {
		return
	}
	if st.ignore == nil {
		st.ignore = app.FuncOf(func(app.Value, []app.Value) any { return nil })
	}
	headers := map[string]any{"Content-Type": "application/json"}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	app.Window().Call("fetch", origin().JoinPath(PathSLAReport).String(), map[string]any{
		"method": "POST", "keepalive": true, "body": string(body), "headers": headers,
	}).Call("catch", st.ignore)
}

// reportJSON is r as POST /api/v1/sla/report reads JSON: the frame's
// msgpack keys. Written by hand: wire.Report has no JSON tags, and
// encoding/json's reflection over its four types costs app.wasm more.
// Strings are quoted ASCII-only; ids with control characters, which Go
// would quote as JSON cannot read, are refused by the server anyway.
func reportJSON(r *wire.Report) []byte {
	b := make([]byte, 0, 1024)
	str := func(k, v string) {
		b = strconv.AppendQuoteToASCII(append(append(b, '"'), k+`":`...), v)
		b = append(b, ',')
	}
	num := func(k string, v int64) {
		b = strconv.AppendInt(append(append(b, '"'), k+`":`...), v, 10)
		b = append(b, ',')
	}
	end := func(c byte) { b[len(b)-1] = c } // the last comma closes
	b = append(b, '{')
	str("screen", r.Screen)
	str("dashboard", r.Dashboard)
	num("from", r.From)
	num("to", r.To)
	num("clock_err", r.ClockErr)
	str("transport", r.Transport)
	b = append(b, `"panels":[`...)
	for _, p := range r.Panels {
		b = append(b, '{')
		str("panel", p.Panel)
		b = strconv.AppendUint(append(b, `"painted":`...), p.Painted, 10)
		b = append(b, ',')
		num("fresh_ms", p.FreshMs)
		num("stale_ms", p.StaleMs)
		b = append(b, `"stale":[`...)
		for _, sp := range p.Stale {
			b = append(b, '{')
			num("start", sp.Start)
			num("ms", sp.Ms)
			str("cause", sp.Cause)
			end('}')
			b = append(b, ',')
		}
		b = append(trimComma(b), `],"stages":[`...)
		for _, h := range p.Stages {
			b = append(b, '{')
			str("stage", h.Stage)
			b = append(b, `"index":[`...)
			for _, i := range h.Index {
				b = append(strconv.AppendInt(b, int64(i), 10), ',')
			}
			b = append(trimComma(b), `],"counts":[`...)
			for _, c := range h.Counts {
				b = append(strconv.AppendUint(b, uint64(c), 10), ',')
			}
			b = append(trimComma(b), "]},"...)
		}
		b = append(trimComma(b), "]},"...)
	}
	return append(trimComma(b), "]}"...)
}

// trimComma drops a trailing comma (a list's last item's).
func trimComma(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == ',' {
		return b[:len(b)-1]
	}
	return b
}

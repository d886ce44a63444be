package ui

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/dashboard"
)

// A lite page is one on a device that cannot draw every point (issue 16,
// "phones get what they can draw"): each of its time-series panels follows
// the m4 stream of its points stream at the panel's resolution
// (agg.M4Name(stream, agg.M4Bucket(window, width px))), computed once on the
// server per source and bucket and shared by every page that asks, instead
// of the raw stream. Per bucket (about a pixel column) it holds each
// series' first, lowest, highest and last value, so the chart still shows
// every peak and trough; the page receives a few small events a second
// whatever the source's rate. With the render benchmark's 80,000 points/s
// a 4x throttled phone cannot apply the raw streams (frames p50/p95 183/317
// ms, resynced by the server); lite, 16.7/33.4 ms, no resync, and every
// bucket's extremes on the charts (bench/results/2026-12-06-phone.md).
//
// A page is lite when its URL says ?lite=1, on a narrow touch screen, or
// after it found it could not keep up (its frames, or the server resyncing
// it as a slow consumer): it then reloads itself as lite for the rest of the
// browser tab's session. ?lite=0 turns all of this off.
type lite struct {
	on  bool
	why string
	// off: ?lite=0, never lite.
	off bool
	// raw is the spec as the server sent it, before panels were pointed at
	// m4 streams: what the stored last-known-good record keeps, so a page
	// that is not lite never restores m4 streams.
	raw *dashboard.Dashboard
	// buckets are the m4 buckets of the panels that follow one, by id.
	buckets map[string]time.Duration
	slow    keepUp
	started time.Time
	px      int // the page's width when it started: a new version's lite spec (reload.go)
}

// liteKey is the session storage item of a page that switched itself to
// lite: why it did. It lasts as long as the tab.
const liteKey = "telltale.lite"

// Why a page is lite, as its panels' tooltips say.
const (
	liteAsked   = "the address asks for it (?lite=1)"
	liteNarrow  = "this is a narrow touch screen"
	liteFrames  = "this device could not draw every point in time"
	liteResyncs = "the server had to resync this page: it could not keep up with every point"
)

// liteNarrowPx is the widest screen that is lite by itself when it is a touch
// screen: a phone, not a tablet (static/telltale.css stacks panels below
// 600 px too).
const liteNarrowPx = 600

// liteHint decides whether a page starts lite: query is the URL's query
// string, stored the session's liteKey item ("" when none), narrowTouch
// whether the screen is a touch screen no wider than liteNarrowPx.
func liteHint(query, stored string, narrowTouch bool) (on, off bool, why string) {
	q, _ := url.ParseQuery(strings.TrimPrefix(query, "?"))
	switch q.Get("lite") {
	case "0", "false", "no":
		return false, true, ""
	case "1", "true", "yes":
		return true, false, liteAsked
	}
	if stored != "" {
		return true, false, stored
	}
	if narrowTouch {
		return true, false, liteNarrow
	}
	return false, false, ""
}

// liteSpec returns a copy of spec whose time-series panels follow m4 streams
// of their points streams, bucketed for charts px pixels wide, and those
// panels' buckets. Panels that show an aggregate, name a stream that is
// derived already, or whose m4 name would be too long keep their stream.
func liteSpec(spec *dashboard.Dashboard, px int) (*dashboard.Dashboard, map[string]time.Duration) {
	out := *spec
	out.Panels = slices.Clone(spec.Panels)
	buckets := map[string]time.Duration{}
	for i := range out.Panels {
		p := &out.Panels[i]
		name, bucket, ok := dashboard.LiteStream(*p, px)
		if !ok {
			continue
		}
		p.Stream = name
		buckets[p.ID] = bucket
	}
	return &out, buckets
}

// keepUp tells a page that cannot keep up: of the last keepUpFrames frames,
// keepUpSlow took longer than keepUpFrame from the animation frame to the
// end of the shell's work (the wait for the UI goroutine included: a page
// busy applying events is late to it).
type keepUp struct {
	ring [keepUpFrames]bool
	n    int // frames seen
	slow int // slow frames in ring
}

const (
	keepUpFrames = 40
	keepUpSlow   = 20
	keepUpFrame  = 50 * time.Millisecond
	// liteGrace is how long after the start a page is not judged: the
	// first snapshots and the stored state's restore are slow anywhere.
	liteGrace = 10 * time.Second
)

// frame records one frame's time and reports whether the page cannot keep
// up.
func (k *keepUp) frame(d time.Duration) bool {
	i := k.n % keepUpFrames
	if k.n >= keepUpFrames && k.ring[i] {
		k.slow--
	}
	k.ring[i] = d > keepUpFrame
	if k.ring[i] {
		k.slow++
	}
	k.n++
	return k.n >= keepUpFrames && k.slow >= keepUpSlow
}

// behind reports why a page that is not lite should become lite after a
// frame of duration d at now, or "": its frames cannot keep up, or the
// server resynced it as a slow consumer.
func (l *lite) behind(info client.Info, d time.Duration, now time.Time) string {
	if l.on || l.off || len(l.buckets) == 0 {
		return ""
	}
	if strings.Contains(info.LastResync, "slow consumer") {
		return liteResyncs
	}
	if now.Sub(l.started) < liteGrace {
		return ""
	}
	if l.slow.frame(d) {
		return liteFrames
	}
	return ""
}

// startLite decides, as the page starts, whether it is lite, and if so
// points s.spec's time-series panels at m4 streams. Browser only.
func (s *Shell) startLite() {
	l := &s.lite
	var px int
	l.on, l.off, l.why, px = liteNow()
	l.started = time.Now()
	l.raw, l.px = s.spec, px
	// Which panels would follow m4 streams, lite or not: a page with none
	// has nothing to gain from switching.
	lspec, buckets := liteSpec(s.spec, max(px, 1))
	l.buckets = buckets
	if l.on {
		s.spec = lspec
	}
}

// liteNow decides from the page as it is whether it starts lite, and its
// width in CSS px. It needs no spec: the spec's first request names the
// width (fetchSpec's m4px), so the server starts the m4 streams ahead.
// Browser only.
func liteNow() (on, off bool, why string, px int) {
	w := app.Window()
	stored := ""
	if v := w.Get("sessionStorage").Call("getItem", liteKey); v.Truthy() {
		stored = v.String()
	}
	px = w.Get("innerWidth").Int()
	if sw := w.Get("screen").Get("width").Int(); sw > 0 && sw < px {
		px = sw // a page without its viewport yet lays out 980 px wide on a phone
	}
	// The primary pointer, not navigator.maxTouchPoints: a laptop with a
	// touch screen has touch points and a fine pointer.
	touch := w.Call("matchMedia", "(pointer: coarse)").Get("matches").Bool()
	on, off, why = liteHint(w.Get("location").Get("search").String(), stored, touch && px > 0 && px <= liteNarrowPx)
	return on, off, why, px
}

// watchLite switches a page that cannot keep up to lite: it says why in
// the session and reloads (the client's streams are fixed for its life).
func (s *Shell) watchLite(ctx app.Context, info client.Info, d time.Duration) {
	why := s.lite.behind(info, d, time.Now())
	if why == "" {
		return
	}
	s.lite.off = true // once
	app.Window().Get("sessionStorage").Call("setItem", liteKey, why)
	app.Log("telltale: lite mode:", why)
	ctx.Reload()
}

// storedSpec is the spec the last-known-good record keeps: the server's,
// not the lite page's.
func (s *Shell) storedSpec() *dashboard.Dashboard {
	if s.lite.on && s.lite.raw != nil {
		return s.lite.raw
	}
	return s.spec
}

// liteNote says, in a lite panel's head, that its chart is decimated on
// the server, and why.
func (s *Shell) liteNote(p dashboard.Panel) app.UI {
	b, ok := s.lite.buckets[p.ID]
	if !s.lite.on || !ok {
		return nil
	}
	every := formatBucket(b)
	return app.Span().Class("tt-lite").ID("lite-"+p.ID).DataSet("bucket-ms", b.Milliseconds()).
		Title("Decimated on the server because " + s.lite.why + ": per " + every +
			", each series' first, lowest, highest and last value (M4), so every peak stays on the chart. Open the page with ?lite=0 for every point.").
		Text("decimated · " + every)
}

// formatBucket writes a ladder rung briefly: "500 ms", "2 s", "5 min", "1 h".
func formatBucket(b time.Duration) string {
	switch {
	case b < time.Second:
		return strconv.FormatInt(b.Milliseconds(), 10) + " ms"
	case b < time.Minute:
		return strconv.FormatInt(int64(b/time.Second), 10) + " s"
	case b < time.Hour:
		return strconv.FormatInt(int64(b/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(b/time.Hour), 10) + " h"
}

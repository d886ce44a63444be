// Command render measures the dashboard's rendering in real Chromium: it
// starts the telltale binary with a synthetic feed (-panels time-series
// panels of -series series each, pre-filled with -points points per series,
// then -rate points/s per series), opens the dashboard through rod and
// measures in the page: frame times from a requestAnimationFrame probe,
// long tasks, the time to the first painted chart, the Go (wasm) and JS
// heaps at start and end, and the events applied per second.
//
//	go run ./bench/cmd/render -panels 4 -series 4 -points 100000 -rate 200 -duration 20s -json
//
// Run `make build` first; Chromium comes from $CHROMIUM or /usr/bin/chromium.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/devices"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// networks are the throttling presets of -network, in bytes per second.
var networks = map[string]proto.NetworkEmulateNetworkConditions{
	"":       {},
	"slow4g": {Latency: 150, DownloadThroughput: 1.6e6 / 8, UploadThroughput: 750e3 / 8},
	"3g":     {Latency: 562.5, DownloadThroughput: 1.6e6 * 0.9 / 8, UploadThroughput: 750e3 * 0.9 / 8},
	// Fast 4G as issue 17 sets it: 9 Mbit/s down, 40 ms of latency, and
	// 1.5 Mbit/s up (DevTools' own Fast 4G uploads at 1.5 Mbit/s too).
	"4g": {Latency: 40, DownloadThroughput: 9e6 / 8, UploadThroughput: 1.5e6 / 8},
}

type result struct {
	Device       string  `json:"device"`
	Panels       int     `json:"panels"`
	Series       int     `json:"series"`
	Points       int     `json:"points"`
	Rate         int     `json:"rate"`
	DurationS    float64 `json:"duration_s"`
	Frames       int     `json:"frames"`
	FrameP50ms   float64 `json:"frame_p50_ms"`
	FrameP95ms   float64 `json:"frame_p95_ms"`
	FrameP99ms   float64 `json:"frame_p99_ms"`
	FramesOver16 int     `json:"frames_over_16ms"`
	// FramesMissed counts frames over 20 ms: a missed vsync. Frames of
	// 16.8 ms are the 60 Hz interval read through performance.now's 0.1 ms
	// coarsening, not a miss, and frames_over_16ms counts them.
	FramesMissed int     `json:"frames_over_20ms"`
	FramesOver50 int     `json:"frames_over_50ms"`
	LongTasks    int     `json:"long_tasks"`
	LongTaskMs   float64 `json:"long_task_ms"`
	LongTaskMax  float64 `json:"long_task_max_ms"`
	FirstChartMs float64 `json:"first_chart_ms"`
	// StoredBytes: with -warm, the size of the page's stored
	// last-known-good record (IndexedDB, static/lkg.js) when the measured
	// navigation starts, and its error if reading it failed: a warm visit
	// draws its first chart from it. 0 means the visit starts from nothing.
	StoredBytes int    `json:"stored_bytes,omitempty"`
	StoredErr   string `json:"stored_err,omitempty"`
	// StoredAfter: the record's size as the measured page reads it once
	// its charts are drawn (-1: none).
	StoredAfter int `json:"stored_after,omitempty"`
	// StoredEarly: the record as read straight from IndexedDB when the
	// measured document starts (ms from navigation, bytes, type or error).
	StoredEarly string `json:"stored_early,omitempty"`
	// StoredLog: what the measured page logged about its stored state
	// (a failed read or save), up to its first chart.
	StoredLog []string `json:"stored_log,omitempty"`
	Network   string   `json:"network,omitempty"`
	Cold      bool     `json:"cold"` // a first visit: fresh profile, no service worker, no stored state
	// Timeline: what the page did before its first chart, in ms from
	// navigation (see timeline.go).
	Timeline     []mark  `json:"timeline"`
	HeapStartMB  float64 `json:"heap_start_mb"` // Go (wasm) heap in use
	HeapEndMB    float64 `json:"heap_end_mb"`
	JSHeapStart  float64 `json:"js_heap_start_mb"`
	JSHeapEnd    float64 `json:"js_heap_end_mb"`
	EventsPerS   float64 `json:"events_per_s"`
	PointsPerS   float64 `json:"points_per_s"`
	Renders      int     `json:"renders"`
	OnScreen     int     `json:"charts_on_screen"`  // the page draws only these
	ChartDrawsPS float64 `json:"chart_draws_per_s"` // per chart on screen: how often each chart's picture moves
	Snapshots    int     `json:"snapshots"`         // taken while measuring: a resync would show here
	Reconnects   int     `json:"reconnects"`        // the page's WebSocket reconnects, from its start to the end
	DrawnPoints  int     `json:"drawn_points"`      // x values uPlot holds per chart (mean), after decimation
	// Lite: the charts on screen follow the server's m4 streams (the page's
	// lite mode, app/ui/lite.go), of BucketMs buckets.
	Lite     bool  `json:"lite"`
	BucketMs int64 `json:"bucket_ms,omitempty"`
	// Extremes: every series' lowest and highest value on each chart on
	// screen, checked against the points published (per bucket when lite,
	// over the chart's range otherwise); ExtremesMissed of ExtremesChecked
	// were not drawn.
	ExtremesChecked int `json:"extremes_checked"`
	ExtremesMissed  int `json:"extremes_missed"`
}

// earlyRead reads the stored record from IndexedDB as a document starts,
// before the app does, into window.__ttEarly.
const earlyRead = `() => {
	window.__ttEarly = {started: performance.now(), origin: location.origin};
	let r;
	try { r = indexedDB.open("telltale"); } catch (e) { window.__ttEarly.err = String(e); return; }
	r.onblocked = () => { window.__ttEarly.blocked = performance.now(); };
	r.onerror = () => { window.__ttEarly = {ms: performance.now(), err: String(r.error)}; };
	r.onsuccess = () => {
		try {
			const q = r.result.transaction("lkg").objectStore("lkg").get("lkg");
			q.onsuccess = () => { window.__ttEarly = {ms: performance.now(), n: q.result ? q.result.length : 0, type: Object.prototype.toString.call(q.result)}; r.result.close(); };
			q.onerror = () => { window.__ttEarly = {ms: performance.now(), err: String(q.error)}; };
		} catch (e) { window.__ttEarly = {ms: performance.now(), err: String(e)}; }
	};
}`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

// probe is installed before the page's own scripts: a rAF loop that records
// every frame's interval, and a long-task observer.
const probe = `() => {
	window.__tt = {frames: [], longTasks: 0, longTaskMs: 0, longTaskMax: 0, recording: false};
	let last = performance.now();
	const tick = (t) => { if (window.__tt.recording) window.__tt.frames.push(t - last); last = t; requestAnimationFrame(tick); };
	requestAnimationFrame(tick);
	try {
		new PerformanceObserver((list) => {
			if (!window.__tt.recording) return;
			for (const e of list.getEntries()) { window.__tt.longTasks++; window.__tt.longTaskMs += e.duration; window.__tt.longTaskMax = Math.max(window.__tt.longTaskMax, e.duration); }
		}).observe({type: "longtask", buffered: false});
	} catch (e) {}
}`

func run() error {
	bin := flag.String("bin", "bin/telltale", "the binary (make build)")
	web := flag.String("web", "static", "its web folder")
	panels := flag.Int("panels", 4, "time-series panels")
	series := flag.Int("series", 4, "series per panel")
	points := flag.Int("points", 100_000, "points per series held before measuring (and kept by the page)")
	rate := flag.Int("rate", 200, "points per second per series while measuring")
	duration := flag.Duration("duration", 20*time.Second, "how long to measure")
	device := flag.String("device", "desktop", "desktop or phone (iPhone X viewport, CPU throttled 4x)")
	asJSON := flag.Bool("json", false, "print the result as one JSON object on the last line")
	warmWait := flag.Duration("warm-wait", 45*time.Second, "with -warm, how long the first visit stays open before the measured one")
	warm := flag.Bool("warm", true, "measure a second visit (warm cache, service worker and stored state); -warm=false is -cold")
	cold := flag.Bool("cold", false, "measure a first visit: a fresh browser profile, so no HTTP cache, no service worker, no stored state (the same as -warm=false)")
	network := flag.String("network", "", "throttle the page's network: 4g (fast 4G: 40 ms latency, 9 Mbit/s down, 1.5 Mbit/s up), slow4g (Lighthouse's mobile preset: 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up) or 3g (DevTools' Fast 3G: 562.5 ms, 1.44 Mbit/s down, 675 kbit/s up); empty means none")
	profile := flag.Bool("profile", false, "also take a CPU profile of the page while measuring and print its top functions (self time)")
	profileStart := flag.Bool("profile-start", false, "take a CPU profile of the page from the measured navigation to its first chart and print its top functions (build app.wasm without -s to see the Go functions' names)")
	liteFlag := flag.String("lite", "", "the page's lite mode (m4 streams): 1 asks for it, 0 refuses it; empty lets the page decide (a phone is lite)")
	flag.Parse()
	if *device != "desktop" && *device != "phone" {
		return errors.New("-device is desktop or phone")
	}
	throttle, ok := networks[*network]
	if !ok {
		return errors.New("-network is 4g, slow4g, 3g or empty")
	}
	warmSet := false
	flag.Visit(func(f *flag.Flag) { warmSet = warmSet || f.Name == "warm" })
	if *cold && warmSet && *warm {
		return errors.New("-cold and -warm=true contradict each other: a cold visit is the first one")
	}
	if *cold {
		*warm = false
	}
	query := ""
	switch *liteFlag {
	case "":
	case "0", "1":
		query = "?lite=" + *liteFlag
	default:
		return errors.New("-lite is 1, 0 or empty")
	}

	// The dashboard: one stream per panel, its series as columns.
	dash := dashboard.Dashboard{ID: "render", Title: "Render benchmark"}
	var cols []string
	for s := range *series {
		cols = append(cols, fmt.Sprintf("s%d", s))
	}
	window := max(60, int(math.Ceil(float64(*points)/float64(max(*rate, 1))))+60)
	for p := range *panels {
		dash.Panels = append(dash.Panels, dashboard.Panel{ID: fmt.Sprintf("p%d", p), Kind: dashboard.KindTimeSeries, Title: fmt.Sprintf("Panel %d", p),
			Stream: fmt.Sprintf("r%d", p), Series: cols, Width: 4, WindowSeconds: window})
	}
	dir, err := os.MkdirTemp("", "telltale-render")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	specFile := filepath.Join(dir, "dashboards.json")
	b, _ := json.Marshal([]dashboard.Dashboard{dash})
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		return err
	}
	srv, err := benchserver.Start(*bin, *web, "-dashboards", specFile, "-points", fmt.Sprint(*points))
	if err != nil {
		return err
	}
	defer srv.Stop()
	base, key := "http://"+srv.Addr, srv.Key

	// Pre-fill: -points per series, ending now, spaced by the rate.
	step := int64(1000 / max(*rate, 1))
	now := time.Now().UnixMilli()
	start := now - int64(*points)*step
	for p := range *panels {
		for from := 0; from < *points; from += 5000 {
			n := min(5000, *points-from)
			if err := publish(base, key, fmt.Sprintf("r%d", p), cols, start+int64(from)*step, step, n); err != nil {
				return err
			}
		}
	}

	tok, err := srv.Token("render-bench")
	if err != nil {
		return err
	}
	browser, stop, err := newBrowser()
	if err != nil {
		return err
	}
	defer stop()
	page, err := browser.Page(proto.TargetCreateTarget{})
	if err != nil {
		return err
	}
	if *device == "desktop" {
		// A full-HD screen: three panels per row, so 8 or 9 panels are all
		// on screen and all drawn (the page skips charts out of view).
		if err := page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1920, Height: 1080, DeviceScaleFactor: 1}); err != nil {
			return err
		}
	}
	if *device == "phone" {
		if err := page.Emulate(devices.IPhoneX); err != nil {
			return err
		}
		if err := (proto.EmulationSetCPUThrottlingRate{Rate: 4}).Call(page); err != nil {
			return err
		}
	}
	// The network domain is on for every run: the timeline reads its
	// WebSocket events.
	if err := (proto.NetworkEnable{}).Call(page); err != nil {
		return err
	}
	// And the runtime domain: the timeline keeps the page's console lines
	// about its stored state.
	if err := (proto.RuntimeEnable{}).Call(page); err != nil {
		return err
	}
	if *network != "" {
		if err := throttle.Call(page); err != nil {
			return err
		}
	}
	if _, err := page.EvalOnNewDocument("(" + probe + ")()"); err != nil {
		return err
	}
	var storedBytes int
	var storedErr string
	if *warm {
		// A returning operator: the page was opened before, so the HTTP
		// cache, the service worker, the compiled wasm and the stored
		// last-known-good state are warm. Open it once, wait for its first
		// chart and a stored save, then measure a second navigation.
		if err := page.Navigate(base + "/" + query + "#token=" + tok); err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for page.MustEval(`() => performance.getEntriesByName("telltale:first-chart").length`).Int() == 0 {
			if time.Now().After(deadline) {
				return errors.New("warm-up: no chart drawn after 2 minutes")
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Long enough for the stored state to hold every stream: its first
		// pass folds 5,000 rows every 250 ms (app/ui/lkg.go), so 8 streams of
		// 100k points take ~40 s.
		time.Sleep(*warmWait)
		var st struct {
			N   int    `json:"n"`
			Err string `json:"err"`
		}
		if err := page.MustEval(`() => new Promise(r => telltaleStore.load((b, e) => r({n: b ? b.length : 0, err: e || ""})))`).Unmarshal(&st); err != nil {
			return err
		}
		storedBytes, storedErr = st.N, st.Err
		// And as the measured page reads it first, from its document's
		// start, without the app (stored_early).
		if _, err := page.EvalOnNewDocument("(" + earlyRead + ")()"); err != nil {
			return err
		}
	}
	tl := watchTimeline(page)
	if *profileStart {
		if err := (proto.ProfilerEnable{}).Call(page); err != nil {
			return err
		}
		if err := (proto.ProfilerStart{}).Call(page); err != nil {
			return err
		}
	}
	// The measured navigation. Warm, it opens the page's address as a
	// returning operator does, without the #token= link: the first visit
	// kept the token and took the link's hash out of the address, so
	// navigating to the link again would only change the fragment, a
	// same-document navigation that loads nothing (the old page's marks
	// were measured then). A mark on the old document proves a new one.
	target := base + "/" + query
	if !*warm {
		target += "#token=" + tok
	} else {
		page.MustEval(`() => { window.__ttOld = true }`)
	}
	if err := page.Navigate(target); err != nil {
		return err
	}
	// Live, every chart on screen drawn with its pre-filled points (the page
	// draws only the charts in view: on a phone that is two or three).
	deadline := time.Now().Add(2 * time.Minute)
	var onScreen int
	for {
		var counts struct{ Charts, OnScreen, Drawn int }
		if err := page.MustEval(`() => {
			const cs = [...document.querySelectorAll(".tt-chart")];
			const on = cs.filter(e => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; });
			return {charts: cs.length, onScreen: on.length, drawn: on.filter(e => e._uplot && e._uplot.data[0].length > 0).length};
		}`).Unmarshal(&counts); err != nil {
			return err
		}
		if counts.Charts == *panels && counts.OnScreen > 0 && counts.Drawn == counts.OnScreen {
			onScreen = counts.OnScreen
			break
		}
		if time.Now().After(deadline) {
			printTimeline(tl.read(page)) // how far the page got
			fmt.Println("page stats:", page.MustEval(`() => window.telltaleStats ? telltaleStats() : ""`).Str())
			fmt.Println("charts (points, on screen):", page.MustEval(`() => JSON.stringify([...document.querySelectorAll(".tt-chart")].map(e => { const r = e.getBoundingClientRect(); return [e.id, e._uplot ? e._uplot.data[0].length : -1, r.bottom > 0 && r.top < innerHeight]; }))`).Str())
			return fmt.Errorf("%d of %d charts on screen drawn after 2 minutes (%d panels)", counts.Drawn, counts.OnScreen, counts.Charts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	res := result{Device: *device, Panels: *panels, Series: *series, Points: *points, Rate: *rate, Network: *network, Cold: !*warm}
	if *warm && page.MustEval(`() => window.__ttOld === true`).Bool() {
		return errors.New("the measured navigation did not load a new document")
	}
	res.StoredBytes, res.StoredErr = storedBytes, storedErr
	if *warm {
		res.StoredEarly = page.MustEval(`() => JSON.stringify(window.__ttEarly || null)`).Str()
		res.StoredAfter = page.MustEval(`() => new Promise(r => telltaleStore.load((b, e) => r(b ? b.length : -1)))`).Int()
	}
	res.FirstChartMs = page.MustEval(`() => { const m = performance.getEntriesByName("telltale:first-chart")[0]; return m ? m.startTime : -1 }`).Num()
	res.Timeline = tl.read(page)
	tl.mu.Lock()
	res.StoredLog = append([]string(nil), tl.console...)
	tl.mu.Unlock()
	for _, l := range res.StoredLog {
		fmt.Println("page:", l)
	}
	if *profileStart {
		prof, err := proto.ProfilerStop{}.Call(page)
		if err != nil {
			return err
		}
		fmt.Println("from navigation to the first chart:")
		printProfile(prof.Profile)
	}
	type stats struct {
		Streams map[string]struct {
			Seq uint64 `json:"seq"`
		} `json:"streams"`
		Renders    int     `json:"renders"`
		ChartDraws int     `json:"chart_draws"`
		Snapshots  int     `json:"snapshots"`
		Reconnects int     `json:"reconnects"`
		GoHeapMB   float64 `json:"go_heap_mb"`
	}
	readStats := func() stats {
		var s stats
		_ = json.Unmarshal([]byte(page.MustEval(`() => window.telltaleStats()`).Str()), &s)
		return s
	}
	jsHeap := func() float64 {
		return page.MustEval(`() => performance.memory ? performance.memory.usedJSHeapSize / 1048576 : -1`).Num()
	}
	before := readStats()
	res.HeapStartMB, res.JSHeapStart = before.GoHeapMB, jsHeap()
	page.MustEval(`() => { window.__tt.recording = true }`)
	if *profile {
		if err := (proto.ProfilerEnable{}).Call(page); err != nil {
			return err
		}
		if err := (proto.ProfilerStart{}).Call(page); err != nil {
			return err
		}
	}

	// Feed while measuring: every 50 ms, what the rate owes, per panel.
	began := time.Now()
	sent := 0
	next := now
	for time.Since(began) < *duration {
		owed := int(time.Since(began).Seconds()*float64(*rate)) - sent
		if owed > 0 {
			for p := range *panels {
				if err := publish(base, key, fmt.Sprintf("r%d", p), cols, next, step, owed); err != nil {
					return err
				}
			}
			next += int64(owed) * step
			sent += owed
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(began)
	page.MustEval(`() => { window.__tt.recording = false }`)
	if *profile {
		prof, err := proto.ProfilerStop{}.Call(page)
		if err != nil {
			return err
		}
		printProfile(prof.Profile)
	}
	after := readStats()
	res.HeapEndMB, res.JSHeapEnd = after.GoHeapMB, jsHeap()
	res.DurationS = elapsed.Seconds()
	var applied uint64
	for name, st := range after.Streams {
		applied += st.Seq - before.Streams[name].Seq
	}
	res.EventsPerS = float64(applied) / elapsed.Seconds()
	res.PointsPerS = float64(sent**panels**series) / elapsed.Seconds()
	res.Renders = after.Renders - before.Renders
	res.ChartDrawsPS = float64(after.ChartDraws-before.ChartDraws) / float64(max(onScreen, 1)) / elapsed.Seconds()
	res.Snapshots = after.Snapshots - before.Snapshots
	res.Reconnects = after.Reconnects
	res.OnScreen = onScreen
	// Every series' extremes, once what was published has reached the
	// charts (an m4 bucket is emitted at most every 250 ms).
	time.Sleep(1500 * time.Millisecond)
	if err := checkExtremes(page, &res, start, step, now+int64(sent)*step, *series); err != nil {
		return err
	}
	res.DrawnPoints = page.MustEval(`() => { const cs = [...document.querySelectorAll(".tt-chart")].filter(e => e._uplot && e._uplot.data[0].length > 0); return cs.length ? Math.round(cs.reduce((a, e) => a + e._uplot.data[0].length, 0) / cs.length) : 0 }`).Int()

	var probeOut struct {
		Frames      []float64 `json:"frames"`
		LongTasks   int       `json:"longTasks"`
		LongTaskMs  float64   `json:"longTaskMs"`
		LongTaskMax float64   `json:"longTaskMax"`
	}
	if err := json.Unmarshal([]byte(page.MustEval(`() => JSON.stringify(window.__tt)`).Str()), &probeOut); err != nil {
		return err
	}
	f := probeOut.Frames
	sort.Float64s(f)
	res.Frames = len(f)
	if len(f) > 0 {
		q := func(p float64) float64 { return f[min(len(f)-1, int(p*float64(len(f))))] }
		res.FrameP50ms, res.FrameP95ms, res.FrameP99ms = q(0.50), q(0.95), q(0.99)
	}
	for _, d := range f {
		if d > 16.7 {
			res.FramesOver16++
		}
		if d > 20 {
			res.FramesMissed++
		}
		if d > 50 {
			res.FramesOver50++
		}
	}
	res.LongTasks, res.LongTaskMs, res.LongTaskMax = probeOut.LongTasks, probeOut.LongTaskMs, probeOut.LongTaskMax

	mode := "raw streams"
	if res.Lite {
		mode = fmt.Sprintf("lite (m4 streams of %d ms buckets)", res.BucketMs)
	}
	fmt.Printf("%s, %s, %d panels × %d series, %d points each, +%d points/s per series: extremes drawn %d of %d; frames p50 %.1f ms, p95 %.1f ms, p99 %.1f ms (%d over 16.7 ms, %d over 20 ms, %d over 50 ms of %d); %d long tasks (%.0f ms, longest %.0f ms); first chart %.0f ms; Go heap %.1f → %.1f MB, JS heap %.1f → %.1f MB; %.0f events/s applied, %d renders, %d charts on screen drawn %.1f times/s each, %d snapshots, %d points drawn per chart, %d reconnects\n",
		res.Device, mode, res.Panels, res.Series, res.Points, res.Rate, res.ExtremesChecked-res.ExtremesMissed, res.ExtremesChecked, res.FrameP50ms, res.FrameP95ms, res.FrameP99ms, res.FramesOver16, res.FramesMissed, res.FramesOver50, res.Frames,
		res.LongTasks, res.LongTaskMs, res.LongTaskMax, res.FirstChartMs, res.HeapStartMB, res.HeapEndMB, res.JSHeapStart, res.JSHeapEnd, res.EventsPerS, res.Renders, res.OnScreen, res.ChartDrawsPS, res.Snapshots, res.DrawnPoints, res.Reconnects)
	printTimeline(res.Timeline)
	if *asJSON {
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	}
	return nil
}

// printProfile prints the functions with the most self time in a page CPU
// profile.
func printProfile(p *proto.ProfilerProfile) {
	self := map[string]float64{}
	byID := map[int]*proto.ProfilerProfileNode{}
	for _, n := range p.Nodes {
		byID[n.ID] = n
	}
	total := 0.0
	for i, id := range p.Samples {
		dt := 0.0
		if i < len(p.TimeDeltas) {
			dt = float64(p.TimeDeltas[i]) / 1000
		}
		n := byID[id]
		if n == nil {
			continue
		}
		name := n.CallFrame.FunctionName
		if name == "" {
			name = "(anonymous)"
		}
		if u := n.CallFrame.URL; u != "" {
			name += " " + filepath.Base(u)
		}
		self[name] += dt
		total += dt
	}
	type kv struct {
		k string
		v float64
	}
	var top []kv
	for k, v := range self {
		top = append(top, kv{k, v})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v })
	// Self time by where it runs: the wasm module, wasm_exec.js, uPlot,
	// the browser's own functions (canvas, DOM), and "(program)", which
	// under -device phone is mostly the CPU throttle's stolen time.
	where := map[string]float64{}
	for k, v := range self {
		w := "browser"
		switch {
		case strings.HasPrefix(k, "(program)"), strings.HasPrefix(k, "(idle)"), strings.HasPrefix(k, "(garbage collector)"):
			w = k
		case strings.HasPrefix(k, "wasm-function"), strings.HasPrefix(k, "wasm-to-js"), strings.HasPrefix(k, "js-to-wasm"):
			w = "wasm (Go)"
		case strings.Contains(k, "wasm_exec.js"):
			w = "wasm_exec.js"
		case strings.Contains(k, "uPlot"):
			w = "uPlot"
		}
		where[w] += v
	}
	var ws []string
	for k := range where {
		ws = append(ws, k)
	}
	sort.Slice(ws, func(i, j int) bool { return where[ws[i]] > where[ws[j]] })
	for _, k := range ws {
		fmt.Printf("  %8.1f ms %5.1f%%  [%s]\n", where[k], 100*where[k]/total, k)
	}
	// Inclusive time of the page's own Go functions (a wasm built without
	// -s names them): which of them the work is under.
	parent := map[int]int{}
	for _, n := range p.Nodes {
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	incl := map[string]float64{}
	for i, id := range p.Samples {
		dt := 0.0
		if i < len(p.TimeDeltas) {
			dt = float64(p.TimeDeltas[i]) / 1000
		}
		seen := map[string]bool{}
		for n, ok := byID[id], true; ok && n != nil; n, ok = byID[parent[n.ID]] {
			name := n.CallFrame.FunctionName
			if strings.Contains(name, "telltale") && !seen[name] {
				seen[name] = true
				incl[name] += dt
			}
			if _, has := parent[n.ID]; !has {
				break
			}
		}
	}
	var inc []kv
	for k, v := range incl {
		inc = append(inc, kv{k, v})
	}
	sort.Slice(inc, func(i, j int) bool { return inc[i].v > inc[j].v })
	if len(inc) > 0 {
		fmt.Println("inclusive time of the page's Go functions:")
		for _, e := range inc[:min(30, len(inc))] {
			fmt.Printf("  %8.1f ms %5.1f%%  %s\n", e.v, 100*e.v/total, e.k)
		}
	}
	fmt.Printf("page CPU profile, %.0f ms sampled; top self time:\n", total)
	for _, e := range top[:min(60, len(top))] {
		fmt.Printf("  %8.1f ms %5.1f%%  %s\n", e.v, 100*e.v/total, e.k)
	}
}

// sample is series c's value at ts, as publish sends it.
func sample(ts int64, c int) float64 {
	x := float64(ts) / 1000
	return math.Sin(x/(3+float64(c))) * 100 * (1 + 0.1*math.Sin(x*7))
}

// checkExtremes reads the data of every chart on screen and checks that
// each series' lowest and highest values are drawn, against the points
// published (every step ms from first to end, exclusive). A lite chart
// (m4 buckets) is checked bucket by bucket: the rows of each whole bucket
// must hold the lowest and highest sample of the bucket. Other charts are
// checked over their whole range. The first and the newest bucket are left
// out: the window's edge cuts the one, the other may still be filling.
func checkExtremes(page *rod.Page, res *result, first, step, end int64, series int) error {
	var charts []struct {
		Bucket int64        `json:"bucket"`
		Data   [][]*float64 `json:"data"` // x, then the series; NaN (a gap) as null
	}
	js := page.MustEval(`() => JSON.stringify([...document.querySelectorAll(".tt-chart")].filter(e => {
		const r = e.getBoundingClientRect(); return e._uplot && r.bottom > 0 && r.top < innerHeight;
	}).map(e => {
		const note = e.closest(".tt-panel").querySelector(".tt-lite");
		return {bucket: note ? +note.dataset.bucketMs : 0, data: e._uplot.data.map(a => Array.from(a, v => Number.isFinite(v) ? v : null))};
	}))`).Str()
	if err := json.Unmarshal([]byte(js), &charts); err != nil {
		return fmt.Errorf("read the charts' data: %w", err)
	}
	rawRange := func(c int, from, to int64) (lo, hi float64) { // samples in [from, to)
		lo, hi = math.Inf(1), math.Inf(-1)
		k := max(0, (from-first+step-1)/step)
		for ts := first + k*step; ts < to && ts < end; ts += step {
			v := sample(ts, c)
			lo, hi = min(lo, v), max(hi, v)
		}
		return lo, hi
	}
	drawn := func(xs, ys []float64, from, to int64) (lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for i, x := range xs {
			if int64(x) >= from && int64(x) < to && i < len(ys) && !math.IsNaN(ys[i]) {
				lo, hi = min(lo, ys[i]), max(hi, ys[i])
			}
		}
		return lo, hi
	}
	same := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for _, ch := range charts {
		if len(ch.Data) != series+1 || len(ch.Data[0]) == 0 {
			continue
		}
		data := make([][]float64, len(ch.Data))
		for i := range ch.Data {
			data[i] = make([]float64, len(ch.Data[i]))
			for k, v := range ch.Data[i] {
				data[i][k] = math.NaN()
				if v != nil {
					data[i][k] = *v
				}
			}
		}
		xs := data[0]
		x0, xn := int64(xs[0]), int64(xs[len(xs)-1])
		check := func(c int, from, to int64) {
			rlo, rhi := rawRange(c, from, to)
			if math.IsInf(rlo, 1) {
				return
			}
			dlo, dhi := drawn(xs, data[c+1], from, to)
			res.ExtremesChecked += 2
			if !same(dlo, rlo) {
				res.ExtremesMissed++
			}
			if !same(dhi, rhi) {
				res.ExtremesMissed++
			}
		}
		if w := ch.Bucket; w > 0 {
			res.Lite, res.BucketMs = true, w
			for b := (x0 + w - 1) / w * w; b+2*w <= xn+1; b += w {
				for c := range series {
					check(c, b, b+w)
				}
			}
			continue
		}
		for c := range series {
			check(c, x0, xn+1)
		}
	}
	return nil
}

// publish sends n points of every series of a stream in one points event.
func publish(base, key, stream string, cols []string, from, step int64, n int) error {
	p := wire.Points{TS: make([]int64, n), Cols: make([]wire.Column, len(cols))}
	for i := range n {
		p.TS[i] = from + int64(i)*step
	}
	for c, name := range cols {
		vals := make([]float64, n)
		for i := range n {
			vals[i] = sample(p.TS[i], c)
		}
		p.Cols[c] = wire.Column{Name: name, Vals: vals}
	}
	body, _ := json.Marshal(map[string]any{"events": []map[string]any{{"stream": stream, "points": p}}})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e map[string]string
		_ = json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("ingest: %s: %s", res.Status, e["error"])
	}
	return nil
}

func newBrowser() (*rod.Browser, func(), error) {
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	dir, err := os.MkdirTemp("", "telltale-render-chromium")
	if err != nil {
		return nil, nil, err
	}
	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(dir).
		Set("disable-background-networking").Set("disable-component-update").Set("disable-sync").
		Set("no-first-run").Set("disable-quic").Set("enable-precise-memory-info")
	u, err := l.Launch()
	if err != nil {
		return nil, nil, fmt.Errorf("launch %s: %w", bin, err)
	}
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		return nil, nil, err
	}
	return b, func() { _ = b.Close(); l.Kill(); os.RemoveAll(dir) }, nil
}

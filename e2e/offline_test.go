//go:build e2e

package e2e

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// countingProxy forwards HTTP and WebSocket requests to a server and counts
// them, so a test can prove that none reached the server.
type countingProxy struct {
	URL   string
	n     atomic.Int64
	mu    sync.Mutex
	paths []string
}

// workerUpdateCheck marks a request for the service worker's script that the
// browser made itself (Service-Worker: script): the update check a
// navigation to a controlled page schedules. The browser process makes it,
// outside the page and the worker, so DevTools' offline emulation does not
// cover it; a device that is really offline fails it, and the page does not
// wait for it.
const workerUpdateCheck = " (the browser's service-worker update check)"

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	cp := &countingProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cp.n.Add(1)
		path := r.URL.Path
		if r.Header.Get("Service-Worker") == "script" {
			path += workerUpdateCheck
		}
		cp.mu.Lock()
		cp.paths = append(cp.paths, path)
		cp.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cp.URL = srv.URL
	return cp
}

// since returns the paths requested after the first n requests.
func (cp *countingProxy) since(n int) []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]string(nil), cp.paths[n:]...)
}

func (cp *countingProxy) count() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return len(cp.paths)
}

// storedLKG reads the page's last-known-good record from IndexedDB, without
// creating the database when it does not exist yet.
func storedLKG(t *testing.T, p *rod.Page) []byte {
	t.Helper()
	b64 := eval(t, p, `() => new Promise(done => {
		const q = indexedDB.open("telltale");
		q.onupgradeneeded = () => q.transaction.abort();
		q.onerror = () => done("");
		q.onsuccess = () => {
			const db = q.result;
			if (!db.objectStoreNames.contains("lkg")) { db.close(); return done(""); }
			const g = db.transaction("lkg").objectStore("lkg").get("lkg");
			g.onsuccess = () => {
				db.close();
				const b = g.result;
				if (!b) return done("");
				let s = ""; for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
				done(btoa(s));
			};
			g.onerror = () => { db.close(); done(""); };
		};
	})`).Str()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("stored record: %v", err)
	}
	return b
}

// lkgCursors decodes a stored record's snapshots: stream → cursor.
func lkgCursors(t *testing.T, rec []byte) (map[string]wire.Cursor, int64) {
	t.Helper()
	i := bytes.IndexByte(rec, '\n')
	if i < 0 {
		return nil, 0
	}
	var h struct {
		AsOf  int64 `json:"as_of"`
		Sizes []int `json:"sizes"`
	}
	if err := json.Unmarshal(rec[:i], &h); err != nil {
		t.Fatalf("stored header %q: %v", rec[:i], err)
	}
	out := map[string]wire.Cursor{}
	rest := rec[i+1:]
	for _, n := range h.Sizes {
		f, err := wire.Decode(rest[:n])
		if err != nil {
			t.Fatalf("stored snapshot: %v", err)
		}
		s := f.(wire.Snapshot)
		out[s.Stream] = wire.Cursor{Stream: s.Stream, Epoch: s.Epoch, Seq: s.Seq}
		rest = rest[n:]
	}
	return out, h.AsOf
}

// waitStored waits until the page stored every stream of the demo at or
// past the given metrics seq, and returns the record.
func waitStored(t *testing.T, p *rod.Page, metricsAtLeast uint64) []byte {
	t.Helper()
	var rec []byte
	poll.Until(t, 20*time.Second, func() error {
		rec = storedLKG(t, p)
		cur, _ := lkgCursors(t, rec)
		if len(cur) < 3 || cur["metrics"].Seq < metricsAtLeast {
			return fmt.Errorf("stored %d bytes, cursors %v: want 3 streams, metrics ≥ %d", len(rec), cur, metricsAtLeast)
		}
		return nil
	})
	return rec
}

// emulateOffline cuts the page and its service worker off the network with
// Chromium's network emulation (the worker is a target of its own).
func emulateOffline(t *testing.T, b *rod.Browser, p *rod.Page) {
	t.Helper()
	off := proto.NetworkEmulateNetworkConditions{Offline: true, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := (proto.NetworkEnable{}).Call(p); err != nil {
		t.Fatal(err)
	}
	if err := off.Call(p); err != nil {
		t.Fatalf("page offline: %v", err)
	}
	targets, err := proto.TargetGetTargets{}.Call(b)
	if err != nil {
		t.Fatal(err)
	}
	workers := 0
	for _, ti := range targets.TargetInfos {
		if ti.Type != proto.TargetTargetInfoTypeServiceWorker {
			continue
		}
		att, err := proto.TargetAttachToTarget{TargetID: ti.TargetID, Flatten: true}.Call(b)
		if err != nil {
			t.Fatalf("attach to the service worker: %v", err)
		}
		for _, call := range []struct {
			method string
			params any
		}{{"Network.enable", proto.NetworkEnable{}}, {"Network.emulateNetworkConditions", off}} {
			if _, err := b.Call(context.Background(), string(att.SessionID), call.method, call.params); err != nil {
				t.Fatalf("service worker %s: %v", call.method, err)
			}
		}
		workers++
	}
	if workers == 0 {
		t.Fatal("no service worker target to take offline")
	}
}

// TestOfflineColdStart loads the dashboard once online, goes offline (page
// and service worker), and reloads: the app shell comes from the service
// worker's cache and the last-known-good dashboard from IndexedDB, drawn
// with its age, and no request reaches the server.
func TestOfflineColdStart(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	proxy := newCountingProxy(t, srv.URL)
	b := newBrowser(t)
	p := b.MustPage("")
	openLive(t, p, proxy.URL)
	poll.Until(t, 20*time.Second, func() error {
		if !eval(t, p, `() => !!navigator.serviceWorker.controller`).Bool() {
			return fmt.Errorf("the service worker does not control the page yet")
		}
		return nil
	})
	live := stats(t, p)
	rec := waitStored(t, p, live.Streams["metrics"].Seq)
	stored, _ := lkgCursors(t, rec)
	t.Logf("stored last-known-good state: %d bytes, cursors %v", len(rec), stored)

	emulateOffline(t, b, p)
	before := proxy.count()
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	var firstChart float64
	poll.Until(t, 10*time.Second, func() error {
		// ms from navigation start to the first chart drawn (wasm/uplot.go).
		firstChart = eval(t, p, `() => { const m = performance.getEntriesByName("telltale:first-chart")[0]; return m ? m.startTime : 0 }`).Num()
		if firstChart == 0 {
			return fmt.Errorf("no chart drawn yet")
		}
		return nil
	})
	var banner string
	poll.Until(t, 20*time.Second, func() error {
		banner = eval(t, p, `() => { const e = document.getElementById("tt-lkg"); return e ? e.textContent : "" }`).Str()
		if !strings.HasPrefix(banner, "offline — data as of ") || !strings.HasSuffix(banner, " ago") {
			return fmt.Errorf("age label %q, want \"offline — data as of hh:mm:ss, … ago\"", banner)
		}
		return nil
	})
	kpi := eval(t, p, `() => document.getElementById("kpi-queue-now").textContent`).Str()
	if kpi == "" || kpi == "—" {
		t.Fatalf("queue KPI shows %q offline, want the stored value", kpi)
	}
	rows := eval(t, p, `() => document.querySelectorAll("[data-panel=orders-feed] tbody tr").length`).Int()
	if rows < 3 {
		t.Fatalf("orders table has %d rows offline, want the stored rows", rows)
	}
	s := stats(t, p)
	if s.Streams["metrics"].Seq != stored["metrics"].Seq || s.Snapshots != 0 {
		t.Fatalf("offline page at metrics %d with %d snapshots, want the stored %d and none", s.Streams["metrics"].Seq, s.Snapshots, stored["metrics"].Seq)
	}
	var reached, checks []string
	for _, path := range proxy.since(before) {
		if strings.HasSuffix(path, workerUpdateCheck) {
			checks = append(checks, path)
			continue
		}
		reached = append(reached, path)
	}
	if len(reached) != 0 {
		t.Fatalf("offline reload reached the server with %d requests: %v", len(reached), reached)
	}
	if len(checks) > 0 {
		t.Logf("not counted: %v, which offline emulation does not cover", checks)
	}
	p.MustScreenshot(outDir(t) + "/offline.png")
	t.Logf("offline cold start: first panel drawn %.0f ms after navigation start; %q; KPI %q, %d table rows; no request of the page or its worker reached the server", firstChart, banner, kpi, rows)
}

// wsBytes counts the bytes of WebSocket frames the page receives: n on
// every socket, fresh on the sockets opened since the last mark, plus every
// stream API response (the HTTP fallback's polls), fresh once marked. A socket
// the client gave up on during an outage still gets what the server had
// queued into it once the network is back; fresh leaves that out.
type wsBytes struct {
	n, fresh atomic.Int64
	mu       sync.Mutex
	marked   bool
	sockets  map[proto.NetworkRequestID]bool // opened since the mark
	polls    map[proto.NetworkRequestID]bool // stream API requests (the HTTP fallback)
}

func watchWS(t *testing.T, p *rod.Page) *wsBytes {
	t.Helper()
	if err := (proto.NetworkEnable{}).Call(p); err != nil {
		t.Fatal(err)
	}
	w := &wsBytes{sockets: map[proto.NetworkRequestID]bool{}, polls: map[proto.NetworkRequestID]bool{}}
	go p.EachEvent(func(e *proto.NetworkRequestWillBeSent) {
		// The client may catch up over HTTP (its fallback polls the stream
		// API while the WebSocket retries): those bytes count too.
		if strings.Contains(e.Request.URL, "/api/v1/streams/") {
			w.mu.Lock()
			w.polls[e.RequestID] = true
			w.mu.Unlock()
		}
	}, func(e *proto.NetworkLoadingFinished) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.polls[e.RequestID] {
			return
		}
		delete(w.polls, e.RequestID)
		n := int64(e.EncodedDataLength)
		w.n.Add(n)
		if w.marked {
			w.fresh.Add(n)
		}
	}, func(e *proto.NetworkWebSocketCreated) {
		w.mu.Lock()
		if w.marked {
			w.sockets[e.RequestID] = true
		}
		w.mu.Unlock()
	}, func(e *proto.NetworkWebSocketFrameReceived) {
		n := int64(len(e.Response.PayloadData))
		if e.Response.Opcode == 2 { // binary: base64 in CDP
			n = int64(base64.StdEncoding.DecodedLen(int(n)))
		}
		w.n.Add(n)
		w.mu.Lock()
		if w.sockets[e.RequestID] {
			w.fresh.Add(n)
		}
		w.mu.Unlock()
	})()
	return w
}

// mark starts counting fresh bytes from zero, on sockets opened from now.
func (w *wsBytes) mark() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marked, w.sockets = true, map[proto.NetworkRequestID]bool{}
	w.fresh.Store(0)
}

// fullSnapshots is what the server would send to subscribe to the demo's
// streams now: the bytes of their snapshot frames, and the seq of each.
func fullSnapshots(t *testing.T, base string) (sizes snapshotSizes, seqs map[string]uint64) {
	t.Helper()
	tok := token(t, "demo")
	seqs = map[string]uint64{}
	for _, s := range []string{"metrics", "orders", "fleet"} {
		req, _ := http.NewRequest("GET", base+"/api/v1/streams/"+s+"/snapshot", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("snapshot %s: %s %s", s, res.Status, b)
		}
		sizes.raw += len(b)
		sizes.deflated += deflatedLen(t, b)
		f, err := wire.Decode(b)
		if err != nil {
			t.Fatalf("snapshot %s: %v", s, err)
		}
		seqs[s] = f.(wire.Snapshot).Seq
	}
	return sizes, seqs
}

// snapshotSizes is what the full snapshots of the demo's streams cost: as
// msgpack, and deflated as the server sends them over a WebSocket.
type snapshotSizes struct{ raw, deflated int }

// deflatedLen is len(b) after the server's permessage-deflate (best speed).
func deflatedLen(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(b)
	_ = w.Flush()
	return buf.Len()
}

// missed counts the events between two positions of the page, all streams.
func missed(a, b pageStats) uint64 {
	n := uint64(0)
	for name, s := range b.Streams {
		n += s.Seq - a.Streams[name].Seq
	}
	return n
}

// TestResumeNotRefetch drops the network for 10 s while the demo feed keeps
// publishing, then restores it: the page gets exactly the missed events (no
// gap, no duplicate, no new snapshot) for a fraction of the bytes of full
// snapshots. Then it reloads: the page starts from its stored state and
// resumes every stream from the stored cursors, again without a snapshot.
func TestResumeNotRefetch(t *testing.T) {
	// No t.Parallel: the catch-up's bytes include the live events that
	// arrive until the page has caught up, so its bound (under 75% of the
	// full snapshots deflated; 60-68% alone) is a rate: a parallel run on a
	// loaded machine caught up in 1.6 s instead of 0.6 s, for 97% (doc.go).
	srv := startServer(t)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	p := newBrowser(t).MustPage("")
	ws := watchWS(t, p)
	openLive(t, p, "http://"+proxy.Addr())
	// The server's snapshot holds 3,000 points per series (60 s of the
	// demo's metrics): wait until it is full, so the comparison is with a
	// steady-state snapshot rather than a young server's.
	poll.Until(t, 90*time.Second, func() error {
		if s := stats(t, p); s.Streams["metrics"].Seq < 600 {
			return fmt.Errorf("metrics at %d, want ≥ 600 (60 s)", s.Streams["metrics"].Seq)
		}
		return nil
	})
	before := stats(t, p)

	// The phone loses its signal: the browser says offline, and the proxy
	// cuts the socket for real (Chromium's offline emulation leaves an open
	// WebSocket alone).
	offline := proto.NetworkEmulateNetworkConditions{Offline: true, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := offline.Call(p); err != nil {
		t.Fatal(err)
	}
	proxy.Block()
	poll.Until(t, 40*time.Second, func() error {
		if s := stats(t, p); s.Status == "live" {
			return fmt.Errorf("page still says live with its network cut")
		}
		return nil
	})
	// The outage lasts until the server has published 10 s of metrics
	// (10 events/s) the page has not seen.
	tok := token(t, "demo")
	poll.Until(t, 30*time.Second, func() error {
		if h := headOf(t, srv.URL, tok, "metrics"); h < before.Streams["metrics"].Seq+100 {
			return fmt.Errorf("the server is at metrics %d, want ≥ %d", h, before.Streams["metrics"].Seq+100)
		}
		return nil
	})
	full, head := fullSnapshots(t, srv.URL)
	start := ws.n.Load()
	ws.mark()
	down := proxy.Downstream()
	proxy.Unblock()
	back := time.Now()
	online := proto.NetworkEmulateNetworkConditions{Offline: false, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := online.Call(p); err != nil {
		t.Fatal(err)
	}
	// Caught up: live, and every stream past where the server was when the
	// network came back.
	poll.Until(t, 45*time.Second, func() error {
		s := stats(t, p)
		for name, seq := range head {
			if s.Status != "live" || s.Streams[name].Seq < seq {
				return fmt.Errorf("status %s, %s at %d, want live and ≥ %d", s.Status, name, s.Streams[name].Seq, seq)
			}
		}
		return nil
	})
	took := time.Since(back)
	// Everything the page received after the restore, counted by the proxy
	// (WebSocket and HTTP, framing and compression included).
	catchUp, frames := proxy.Downstream()-down, ws.n.Load()-start
	after := stats(t, p)
	if after.Breaks != 0 || after.Snapshots != before.Snapshots || after.Resumes < 3 {
		t.Fatalf("breaks %d, snapshots %d → %d, resumes %d: want no break, no new snapshot, every stream resumed", after.Breaks, before.Snapshots, after.Snapshots, after.Resumes)
	}
	n := missed(before, after)
	t.Logf("10 s outage: metrics %d → %d, %d events missed in all, live again %v after the network came back; catch-up %d bytes received (%d per event; %d in WebSocket frames CDP reported) vs full snapshots of %d bytes deflated as the server sends them (%.0f%%), %d as msgpack (%.0f%%)",
		before.Streams["metrics"].Seq, after.Streams["metrics"].Seq, n, took.Round(time.Millisecond), catchUp, catchUp/int64(max(1, n)), frames,
		full.deflated, 100*float64(catchUp)/float64(full.deflated), full.raw, 100*float64(catchUp)/float64(full.raw))
	// Only the missed events travel, and compressed: no snapshot (checked
	// above), and at most 200 B per event on the wire (a metrics event of
	// 5 points × 4 series is ~410 B as msgpack, ~115 B deflated in a
	// replay). Against the full snapshots the catch-up is bounded by the
	// outage over what they hold: 10 s of a 60 s chart window here, and an
	// event's interleaved columns deflate about half as well as a
	// snapshot's, so ~50% of the deflated snapshots (~12% of them as
	// msgpack); with a 5-minute window it would be a fifth of that.
	if catchUp <= 0 || catchUp > int64(n)*200 {
		t.Fatalf("catching up took %d bytes for %d events: want at most 200 B each", catchUp, n)
	}
	if catchUp*4 > int64(full.deflated)*3 || catchUp*4 > int64(full.raw) {
		t.Fatalf("catching up took %d bytes, the full snapshots %d deflated and %d as msgpack: want under 75%% and 25%%", catchUp, full.deflated, full.raw)
	}

	// A reload starts from the stored state and resumes from its cursors.
	rec := waitStored(t, p, after.Streams["metrics"].Seq)
	stored, _ := lkgCursors(t, rec)
	start = ws.n.Load()
	ws.mark()
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		s := stats(t, p)
		if s.Status != "live" || s.Resumes < 3 || s.Streams["metrics"].Seq <= stored["metrics"].Seq {
			return fmt.Errorf("after reload: %+v; want live, 3 resumes, metrics past the stored %d", s, stored["metrics"].Seq)
		}
		return nil
	})
	reload := stats(t, p)
	resumeBytes := ws.n.Load() - start
	if reload.Snapshots != 0 || reload.Breaks != 0 {
		t.Fatalf("after reload: %d snapshots, %d breaks; want the stored cursors resumed, none", reload.Snapshots, reload.Breaks)
	}
	full, _ = fullSnapshots(t, srv.URL)
	if resumeBytes*2 > int64(full.raw) {
		t.Fatalf("resuming after reload took %d bytes, full snapshots are %d: want well under half", resumeBytes, full.raw)
	}
	t.Logf("reload: stored cursors %v (%d bytes stored) resumed with %d bytes of frames vs %d bytes of full snapshots (%.0f%%), no snapshot, no break", stored, len(rec), resumeBytes, full.raw, 100*float64(resumeBytes)/float64(full.raw))
}

// TestHiddenPageSavesAtOnce: a page sent to the background (a phone's
// operator switching apps) stores its state at once, not at its next
// periodic save: every stream's stored cursor reaches where the page was.
func TestHiddenPageSavesAtOnce(t *testing.T) {
	// No t.Parallel: a hidden page's save within 2 s, under Chromium's
	// throttling of hidden pages, with the CPU to itself (doc.go).
	srv := startServer(t)
	b := newBrowser(t, throttled)
	p := b.MustPage("")
	openLive(t, p, srv.URL)
	first := waitStored(t, p, 1)
	firstCur, _ := lkgCursors(t, first)
	// Let the page move well past the first save (metrics: 10 events/s).
	poll.Until(t, 30*time.Second, func() error {
		if s := stats(t, p); s.Streams["metrics"].Seq < firstCur["metrics"].Seq+30 {
			return fmt.Errorf("metrics at %d, stored %d", s.Streams["metrics"].Seq, firstCur["metrics"].Seq)
		}
		return nil
	})
	at := stats(t, p)
	b.MustPage("about:blank").MustActivate()
	hidden := time.Now()
	// Periodic saves re-encode one stream every 5 s; the hide saves all of
	// them within a moment.
	poll.Until(t, 2*time.Second, func() error {
		cur, _ := lkgCursors(t, storedLKG(t, p))
		for name, s := range at.Streams {
			if cur[name].Seq < s.Seq {
				return fmt.Errorf("%s stored at %d, the page was at %d when hidden", name, cur[name].Seq, s.Seq)
			}
		}
		return nil
	})
	t.Logf("stored every stream %v after the page was hidden", time.Since(hidden).Round(time.Millisecond))
}

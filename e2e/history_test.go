//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/internal/poll"
)

// historyGate is a reverse proxy in front of a server that counts the
// page's history requests (GET …/window) and can hold them in flight or
// fail them; everything else, the WebSocket included, passes through.
type historyGate struct {
	URL  string
	mu   sync.Mutex
	n    int
	hold chan struct{} // requests wait while it is open
	fail bool
}

func newHistoryGate(t *testing.T, target string) *historyGate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &historyGate{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/window") {
			g.mu.Lock()
			g.n++
			hold, fail := g.hold, g.fail
			g.mu.Unlock()
			if hold != nil {
				select {
				case <-hold:
				case <-r.Context().Done():
					return
				}
			}
			if fail {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error":"history store unavailable"}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.release()
		srv.CloseClientConnections()
		srv.Close()
	})
	g.URL = srv.URL
	return g
}

func (g *historyGate) requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// holdAll holds every history request until release.
func (g *historyGate) holdAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil {
		g.hold = make(chan struct{})
	}
}

func (g *historyGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

func (g *historyGate) failing(fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = fail
}

// zoomLabel is the zoomed chart's range label ("" when live).
func zoomLabel(t *testing.T, p *rod.Page) string {
	t.Helper()
	return eval(t, p, `() => { const e = document.querySelector(".tt-zoom-range"); return e ? e.textContent : "" }`).Str()
}

// backButtonX is the left edge of the zoomed panel's ◀, in CSS pixels.
func backButtonX(t *testing.T, p *rod.Page) float64 {
	t.Helper()
	return eval(t, p, `() => { const e = document.querySelector(".tt-zoom-back"); return e ? e.getBoundingClientRect().left : -1 }`).Num()
}

// historyError is the panel's history error ("" when none).
func historyError(t *testing.T, p *rod.Page) string {
	t.Helper()
	return eval(t, p, `() => { const e = document.querySelector('section[data-panel="fast"] .tt-zoom-error'); return e ? e.textContent : "" }`).Str()
}

// openPageOfRecentPoints publishes 8,000 points 5 ms apart (sparser than
// the chart's pixel columns once zoomed, as most streams are: a range
// rarely starts on a point) to a server whose page keeps only the 2,000
// newest, opens the page through a history gate and waits until the chart
// ends at the newest point. It returns the page, the gate, the chart as
// drawn and the server.
func openPageOfRecentPoints(t *testing.T, key string) (*rod.Page, *historyGate, uplotState, *server) {
	t.Helper()
	// The panel's window (9 s) is within the page's points (10 s): its live
	// chart asks the server nothing (history.go), so every request the
	// gate sees is the zoom's.
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 9), "-ingest-keys", "demo:"+key, "-points", "2000")
	const n = 8_000
	ts, vs := series(n, 1_000, 7_000)
	for i := range ts {
		ts[i] = ts[n-1] - 5*int64(n-1-i)
	}
	publishPoints(t, srv.URL, key, ts, vs, 100) // before the page opens: it gets a snapshot
	gate := newHistoryGate(t, srv.URL)
	p := newBrowser(t).MustPage("")
	openLive(t, p, gate.URL)
	var s uplotState
	poll.Until(t, 20*time.Second, func() (err error) {
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if int64(s.Last) != ts[n-1] {
			return fmt.Errorf("chart ends at %.0f, want %d", s.Last, ts[n-1])
		}
		return nil
	})
	if int64(s.First) <= ts[0] {
		t.Fatalf("the page holds the first point published (%.0f): the test proves nothing", s.First)
	}
	return p, gate, s, srv
}

// zoomThenPanBefore zooms the chart into the page's newest points (which
// asks the server nothing), then pans back with ◀ until the whole range is
// before the page's oldest point, and returns the range's end.
func zoomThenPanBefore(t *testing.T, p *rod.Page, gate *historyGate, s uplotState, hold func()) float64 {
	t.Helper()
	drag(t, p, s, 0.6, 0.9)
	var z uplotState
	poll.Until(t, 10*time.Second, func() (err error) {
		if z, err = readUPlot(p); err != nil || !z.Zoomed {
			return fmt.Errorf("not zoomed (err %v)", err)
		}
		return nil
	})
	if n := gate.requests(); n != 0 {
		t.Fatalf("a zoom inside the page's points asked the server %d times", n)
	}
	hold()
	for z.ScaleMax >= s.First {
		before := z.ScaleMin
		p.MustElement(".tt-zoom-back").MustClick()
		poll.Until(t, 10*time.Second, func() (err error) {
			if z, err = readUPlot(p); err != nil {
				return err
			}
			if z.ScaleMin >= before {
				return fmt.Errorf("◀ did not move the range from %.0f", before)
			}
			return nil
		})
	}
	return z.ScaleMax
}

// TestPanPastThePageLoadsHistory: panning a zoomed chart with ◀ to before
// the page's oldest point asks the server for that range, says "loading
// history…" while the answer is on its way, and then draws it.
func TestPanPastThePageLoadsHistory(t *testing.T) {
	t.Parallel()
	p, gate, s, _ := openPageOfRecentPoints(t, "demo-ingest-key-pan")
	var backX float64
	to := zoomThenPanBefore(t, p, gate, s, func() {
		gate.holdAll()
		backX = backButtonX(t, p)
	})
	poll.Until(t, 10*time.Second, func() error {
		if n, label := gate.requests(), zoomLabel(t, p); n == 0 || !strings.Contains(label, "loading history…") {
			return fmt.Errorf("panned to before the page's oldest point (range ends %.0f < %.0f): %d history requests, label %q; want a request and \"loading history…\"",
				to, s.First, n, label)
		}
		// The label grew; the arrows stay under the operator's finger.
		if x := backButtonX(t, p); x != backX {
			t.Fatalf("◀ moved from x=%.1f to %.1f when the label became %q", backX, x, zoomLabel(t, p))
		}
		// Meanwhile the chart shows its range, empty, on a grid.
		if ink, err := readInk(p, "chart-fast"); err != nil || ink.YMin == "NaN" || ink.YMin == "null" {
			return fmt.Errorf("while loading, the chart's y scale is %+v (err %v): blank", ink, err)
		}
		return nil
	})
	gate.release()
	poll.Until(t, 20*time.Second, func() error {
		z, err := readUPlot(p)
		if err != nil {
			return err
		}
		ink, err := readInk(p, "chart-fast")
		if err != nil {
			return err
		}
		if err := ink.drawn(); err != nil {
			return fmt.Errorf("history not drawn (label %q, error %q, %d requests, range [%.0f, %.0f]): %w", zoomLabel(t, p), historyError(t, p), gate.requests(), z.ScaleMin, z.ScaleMax, err)
		}
		if z.Last > z.ScaleMax || z.Last >= s.First {
			return fmt.Errorf("drawn rows end at %.0f, want the range's, before the page's first point %.0f", z.Last, s.First)
		}
		if label := zoomLabel(t, p); strings.Contains(label, "loading") {
			return fmt.Errorf("history drawn but the label still says %q", label)
		}
		return nil
	})
}

// TestHistoryFailureIsShown: a history request that fails says so in the
// panel, and stays said (no retry on every new event, which would also hide
// it behind "loading history…") until the operator asks again, which
// then draws the history.
func TestHistoryFailureIsShown(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-history-fails"
	p, gate, s, srv := openPageOfRecentPoints(t, key)
	gate.failing(true)
	zoomThenPanBefore(t, p, gate, s, func() {})
	poll.Until(t, 10*time.Second, func() error {
		if e := historyError(t, p); !strings.Contains(e, "500") || !strings.Contains(e, "history store unavailable") {
			return fmt.Errorf("the panel shows %q (label %q), want the failure: HTTP 500, history store unavailable", e, zoomLabel(t, p))
		}
		return nil
	})
	asked, before := gate.requests(), stats(t, p)
	// New events keep arriving and are drawn: the failure stays on screen
	// and the server is not asked again behind the operator's back.
	poll.Until(t, 20*time.Second, func() error {
		publishPoints(t, srv.URL, key, []int64{time.Now().UnixMilli()}, []float64{1}, 1)
		now := stats(t, p)
		if e := historyError(t, p); e == "" {
			t.Fatalf("the failure went from the panel as new events arrived (label %q)", zoomLabel(t, p))
		}
		if n := gate.requests(); n != asked {
			t.Fatalf("the page asked for the failed history %d more times as new events arrived", n-asked)
		}
		if now.Streams["fast"].Seq < before.Streams["fast"].Seq+5 || now.ChartDraws < before.ChartDraws+3 {
			return fmt.Errorf("fast at %d, %d chart draws: want 5 more events applied and drawn", now.Streams["fast"].Seq, now.ChartDraws)
		}
		return nil
	})
	// The chart is not blank: it shows its (empty) range on a grid.
	if ink, err := readInk(p, "chart-fast"); err != nil || ink.YMin == "NaN" || ink.YMin == "null" {
		t.Fatalf("after the failure the chart's y scale is %+v (err %v)", ink, err)
	}
	gate.failing(false)
	p.MustElement(".tt-zoom-retry").MustClick()
	poll.Until(t, 20*time.Second, func() error {
		ink, err := readInk(p, "chart-fast")
		if err != nil {
			return err
		}
		if err := ink.drawn(); err != nil {
			return fmt.Errorf("history not drawn after Retry (error %q, label %q): %w", historyError(t, p), zoomLabel(t, p), err)
		}
		if e := historyError(t, p); e != "" {
			return fmt.Errorf("history drawn but the panel still shows %q", e)
		}
		return nil
	})
	if n := gate.requests(); n != asked+1 {
		t.Fatalf("Retry asked the server %d times, want once", n-asked)
	}
}

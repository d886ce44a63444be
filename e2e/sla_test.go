//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// linkDelay is what the faultnet proxy adds to the link, each way: the
// network stage (sent → received) is at least this.
const linkDelay = 400 * time.Millisecond

// slaAnswer asks srv's GET /api/v1/sla for the demo tenant's dashboard over
// the last ten minutes.
func slaAnswer(t *testing.T, base, dash string) sla.Answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/sla?dashboard="+url.QueryEscape(dash)+"&from=-10m", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, "demo"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/sla: %s", res.Status)
	}
	var a sla.Answer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

// delayed is what one screen reported through a delayed link, as the
// server answers it: the panel with the most events painted.
type delayed struct {
	panel   sla.PanelSLA
	network sla.StageSLA
	screens int
}

// waitDelayed polls the server until a screen's reports show a panel with
// events painted, the event → paint quantiles and a network stage.
func waitDelayed(t *testing.T, base, dash string) delayed {
	t.Helper()
	var d delayed
	poll.Until(t, 90*time.Second, func() error {
		a := slaAnswer(t, base, dash)
		d = delayed{screens: a.Screens}
		for _, p := range a.Panels {
			if p.Painted < 20 || p.Painted < d.panel.Painted {
				continue
			}
			for _, s := range p.Stages {
				if s.Stage == sla.StageNetwork && s.Count > 0 {
					d.panel, d.network = p, s
				}
			}
		}
		if d.panel.Panel == "" {
			return fmt.Errorf("no panel with 20 events painted and a network stage yet: %+v", a)
		}
		return nil
	})
	return d
}

// checkDelayed: event → paint p95 at least the link's delay, and most of
// the time spent in the network stage.
func checkDelayed(t *testing.T, who string, d delayed) {
	t.Helper()
	t.Logf("%s: panel %s, %d painted, event→paint p50 %.0f p95 %.0f p99 %.0f ms; network p50 %.0f ms, %.0f%% of the time; %d screens",
		who, d.panel.Panel, d.panel.Painted, d.panel.P50Ms, d.panel.P95Ms, d.panel.P99Ms, d.network.P50Ms, d.network.ShareOfTotalPct, d.screens)
	if d.screens < 1 {
		t.Errorf("%s: %d screens reported", who, d.screens)
	}
	if d.panel.P95Ms < float64(linkDelay.Milliseconds()) {
		t.Errorf("%s: p95 event→paint %.0f ms through a link that delays %v", who, d.panel.P95Ms, linkDelay)
	}
	if d.network.ShareOfTotalPct < 50 {
		t.Errorf("%s: the network stage is %.0f%% of the time, want most of it: %+v", who, d.network.ShareOfTotalPct, d.panel.Stages)
	}
}

// clockAhead runs before any script of the page: its wall clock (Date,
// and so Go's time.Now in app.wasm) is an hour ahead of the server's.
const clockAhead = `(() => {
	const shift = 3600e3, D = Date;
	class Ahead extends D {
		constructor(...a) { if (a.length === 0) super(D.now() + shift); else super(...a); }
		static now() { return D.now() + shift; }
	}
	window.Date = Ahead;
})()`

// TestSLAReportsFromThePage: pages behind a link that adds 400 ms each way
// report what they painted, and GET /api/v1/sla shows it: p95 event→paint
// at least 400 ms, most of it in the network stage. A second page, whose
// clock is an hour ahead, reports the same latencies within its clock
// estimate's error.
func TestSLAReportsFromThePage(t *testing.T) {
	t.Parallel()
	type run struct {
		srv   *server
		proxy *faultnet.Proxy
		page  *rod.Page
	}
	runs := make([]run, 2)
	for i := range runs {
		runs[i].srv = startServer(t)
		runs[i].proxy = faultnet.New(t, strings.TrimPrefix(runs[i].srv.URL, "http://"))
		runs[i].proxy.SetDelay(linkDelay)
		// A browser each: two tabs of one browser are one visible page
		// and one hidden, and a hidden page measures nothing.
		runs[i].page = newBrowser(t).MustPage("")
	}
	if _, err := runs[1].page.EvalOnNewDocument(clockAhead); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if err := r.page.Navigate(signIn(t, "http://"+r.proxy.Addr(), "demo")); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runs {
		waitLive(t, r.page)
	}
	if ahead := eval(t, runs[1].page, `() => Date.now() - performance.timeOrigin - performance.now()`).Num(); ahead < 3500e3 {
		t.Fatalf("the page's clock is %.0f ms ahead, want an hour", ahead)
	}
	type clock struct {
		OffsetMs float64 `json:"clock_offset_ms"`
		ErrMs    float64 `json:"clock_err_ms"`
	}
	clocks := make([]clock, 2)
	for i, r := range runs {
		poll.Until(t, 30*time.Second, func() error {
			raw := eval(t, r.page, `() => window.telltaleNet()`).Str()
			if err := json.Unmarshal([]byte(raw), &clocks[i]); err != nil {
				return err
			}
			if clocks[i].ErrMs == 0 {
				return fmt.Errorf("no clock estimate yet: %s", raw)
			}
			return nil
		})
	}
	t.Logf("clock estimates: right %+v, an hour ahead %+v", clocks[0], clocks[1])
	if d := math.Abs(clocks[1].OffsetMs + 3600e3); d > clocks[1].ErrMs+1 {
		t.Fatalf("the page an hour ahead estimates the offset at %.0f ms, %.0f ms off, over its error %.1f ms", clocks[1].OffsetMs, d, clocks[1].ErrMs)
	}
	right := waitDelayed(t, runs[0].srv.URL, "warehouse")
	ahead := waitDelayed(t, runs[1].srv.URL, "warehouse")
	checkDelayed(t, "right clock", right)
	checkDelayed(t, "an hour ahead", ahead)
	// The same network, the same latencies, whatever the page's clock:
	// within the two estimates' errors (and the histograms' 1%).
	tol := clocks[0].ErrMs + clocks[1].ErrMs + 0.02*right.network.P50Ms
	if d := math.Abs(right.network.P50Ms - ahead.network.P50Ms); d > tol {
		t.Fatalf("network p50 %.0f ms with the right clock, %.0f ms an hour ahead: %.0f ms apart, over the errors' %.0f ms", right.network.P50Ms, ahead.network.P50Ms, d, tol)
	}
}

// TestSLAReportsFromTheClientRuntime runs the page's client runtime
// natively (no browser: its paint is the moment it applied) against the
// real server behind the delayed link, with a clock an hour ahead: its
// Syncs estimate the offset, its reports go over the WebSocket, and the
// server's answer shows the link's delay in the network stage.
func TestSLAReportsFromTheClientRuntime(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	proxy.SetDelay(linkDelay)
	start := time.Now()
	ahead := func() int64 { return start.UnixNano() + int64(time.Since(start)) + int64(time.Hour) }
	meter := client.NewMeter(ahead)
	panels := []client.PanelStream{{Panel: "queue-now", Stream: demo.StreamMetrics}, {Panel: "orders-today", Stream: demo.StreamOrders}}
	meter.SetPanels(panels)
	c := client.New(client.Config{
		URL:     "ws://" + proxy.Addr() + "/api/v1/ws",
		Token:   token(t, "demo"),
		Streams: []string{demo.StreamMetrics, demo.StreamOrders},
		Limits:  livestate.Limits{Points: 1000, Rows: 100},
		Meter:   meter,
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = c.Run(ctx)
	}()
	go func() { // paints every 16 ms; reports every second
		defer wg.Done()
		frame := time.NewTicker(16 * time.Millisecond)
		defer frame.Stop()
		last := time.Now()
		screen := fmt.Sprintf("native-%d", start.UnixNano())
		for {
			select {
			case <-ctx.Done():
				return
			case <-frame.C:
			}
			var paints []client.Paint
			c.Read(func(streams map[string]*livestate.Stream, _ client.Info) {
				for _, p := range panels {
					if st := streams[p.Stream]; st != nil {
						paints = append(paints, client.Paint{Panel: p.Panel, Epoch: st.Epoch, Seq: st.Seq})
					}
				}
			})
			meter.Painted(paints, meter.Now())
			if time.Since(last) < time.Second {
				continue
			}
			last = time.Now()
			if _, _, ok := meter.Clock(); !ok {
				continue
			}
			r := &wire.Report{Screen: screen, Dashboard: "warehouse", Transport: sla.TransportSocket}
			if meter.Report(r, meter.Now()) {
				if err := c.SendReport(ctx, r); err != nil && ctx.Err() == nil {
					t.Logf("report: %v", err)
				}
			}
		}
	}()
	d := waitDelayed(t, srv.URL, "warehouse")
	off, errBound, _ := meter.Clock()
	t.Logf("clock offset %v ± %v", time.Duration(off), time.Duration(errBound))
	if dev := time.Duration(off) + time.Hour; dev.Abs() > time.Duration(errBound) {
		t.Fatalf("offset %v for a clock an hour ahead: %v off, over its error %v", time.Duration(off), dev, time.Duration(errBound))
	}
	checkDelayed(t, "client runtime, an hour ahead", d)
	if d.network.P50Ms < float64(linkDelay.Milliseconds())-float64(errBound)/1e6 {
		t.Fatalf("network p50 %.0f ms through a link delaying %v (clock error %v)", d.network.P50Ms, linkDelay, time.Duration(errBound))
	}
}

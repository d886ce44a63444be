//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
)

// TestWarmVisitLargeStreams: a returning operator's page (a new document,
// with stored state holding some of its streams) on a dashboard of several
// large time-series streams. Their snapshots together pass the server's
// 16 MiB control-frame bound: the page used to be closed as a slow consumer
// (4008) as soon as it subscribed, and reconnected again and again, getting
// a few snapshots each time (bench/results/2026-12-07-warmvisit.md, finding
// 3, with charts left empty: go-app re-created every chart when the stored
// state's banner went, and the shell did not draw them again). Now every
// chart ends with its stream's data, on the first visit and the warm one,
// without a reconnect, and no chart element is made twice.
func TestWarmVisitLargeStreams(t *testing.T) {
	t.Parallel()
	const (
		key     = "demo-ingest-key-warm"
		panels  = 6
		series  = 10
		points  = 80_000
		perPost = 5_000
	)
	var ps, cols []string
	for s := range series {
		cols = append(cols, fmt.Sprintf("%q", fmt.Sprintf("s%d", s)))
	}
	for i := range panels {
		ps = append(ps, fmt.Sprintf(`{"id":"w%d","kind":"timeseries","title":"Warm %d","stream":"w%d","series":[%s],"width":6,"window_seconds":600}`, i, i, i, strings.Join(cols, ",")))
	}
	spec := filepath.Join(t.TempDir(), "warm.json")
	if err := os.WriteFile(spec, []byte(`[{"id":"warm","title":"Warm","panels":[`+strings.Join(ps, ",")+`]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key, "-points", fmt.Sprint(points), "-ingest-rate", "-1")

	// points rows of 10 series per stream, 10 ms apart, ending now: a
	// snapshot of ~4 MB each as msgpack, ~24 MB for the six.
	end := time.Now().UnixMilli()
	start := end - 10*int64(points-1)
	last := map[string]int64{}
	for i := range panels {
		stream := fmt.Sprintf("w%d", i)
		for from := 0; from < points; from += perPost {
			n := min(perPost, points-from)
			ts := make([]int64, n)
			vals := make([][]float64, series)
			for r := range n {
				ts[r] = start + 10*int64(from+r)
			}
			var cs []map[string]any
			for s := range series {
				vals[s] = make([]float64, n)
				for r := range n {
					vals[s][r] = math.Sin(float64(from+r)/300) * float64(s+1) // not integers: a full float64 each as msgpack
				}
				cs = append(cs, map[string]any{"name": fmt.Sprintf("s%d", s), "vals": vals[s]})
			}
			body, _ := json.Marshal(map[string]any{"events": []any{map[string]any{"stream": stream, "time": ts[n-1], "points": map[string]any{"ts": ts, "cols": cs}}}})
			ingest(t, srv.URL, key, string(body))
			last[stream] = ts[n-1]
		}
	}

	page := newBrowser(t).MustPage("")
	if err := page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1600, Height: 1000, DeviceScaleFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// Every chart holds points up to its stream's last; the page is live
	// and never reconnected.
	settled := func(what string) {
		t.Helper()
		poll.Until(t, 45*time.Second, func() error {
			var charts []struct {
				ID     string  `json:"id"`
				Points int     `json:"points"`
				Last   float64 `json:"last"`
			}
			raw := eval(t, page, `() => JSON.stringify([...document.querySelectorAll(".tt-chart")].map(e => {
				const d = e._uplot ? e._uplot.data[0] : [];
				return {id: e.id, points: d.length, last: d.length ? d[d.length - 1] : 0};
			}))`).Str()
			if err := json.Unmarshal([]byte(raw), &charts); err != nil {
				return err
			}
			if len(charts) != panels {
				return fmt.Errorf("%s: %d charts, want %d", what, len(charts), panels)
			}
			for _, c := range charts {
				stream := "w" + strings.TrimPrefix(c.ID, "chart-w")
				if c.Points == 0 || int64(c.Last) != last[stream] {
					return fmt.Errorf("%s: %s holds %d points up to %.0f, want its stream's, up to %d (charts %s, stats %s)", what, c.ID, c.Points, c.Last, last[stream], raw,
						eval(t, page, `() => window.telltaleStats ? telltaleStats() : ""`).Str())
				}
			}
			if s := stats(t, page); s.Status != "live" {
				return fmt.Errorf("%s: status %s, want live", what, s.Status)
			}
			return nil
		})
		s := stats(t, page)
		t.Logf("%s: %+v", what, s)
		if s.Reconnects != 0 {
			t.Fatalf("%s: the page reconnected %d times: want none (stats %+v)", what, s.Reconnects, s)
		}
	}
	if err := page.Navigate(signIn(t, srv.URL, "demo")); err != nil {
		t.Fatal(err)
	}
	settled("first visit")

	// The stored state holds the first panel's stream at least (the page
	// stores the streams in panel order).
	poll.Until(t, 40*time.Second, func() error {
		rec := storedLKG(t, page)
		if cur, _ := lkgCursors(t, rec); cur["w0"].Seq == 0 {
			return fmt.Errorf("stored %d bytes, cursors %v: want w0's", len(rec), cur)
		}
		return nil
	})

	// The operator comes back: the page's address, a new document (the
	// token is kept; the first visit took the link's hash out).
	eval(t, page, `() => { window.__ttOld = true }`)
	// And counts the charts whose element goes (re-created by go-app: an
	// uPlot made again, and the chart empty until its stream moved).
	if _, err := page.EvalOnNewDocument(`(() => {
		window.__ttChartsRemoved = 0;
		new MutationObserver(ms => { for (const m of ms) for (const n of m.removedNodes)
			if (n.nodeType === 1) window.__ttChartsRemoved += (n.matches(".tt-chart") ? 1 : 0) + n.querySelectorAll(".tt-chart").length;
		}).observe(document, {childList: true, subtree: true});
	})()`); err != nil {
		t.Fatal(err)
	}
	if err := page.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	settled("warm visit")
	if eval(t, page, `() => window.__ttOld === true`).Bool() {
		t.Fatal("the warm visit did not load a new document")
	}
	if n := eval(t, page, `() => window.__ttChartsRemoved`).Int(); n != 0 {
		t.Fatalf("the warm visit re-created %d chart elements: want each made once", n)
	}
	restored := eval(t, page, `() => performance.getEntries().filter(e => e.name.startsWith("telltale:lkg-")).map(e => e.name).join(", ")`).Str()
	if !strings.Contains(restored, "lkg-restored") || strings.Contains(restored, "lkg-restored 0 streams") {
		t.Fatalf("the warm visit's stored state: %q, want some stream restored", restored)
	}
}

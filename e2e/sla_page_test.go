//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/sla"
)

// postReport sends one page's freshness report (wire.Report as JSON) as
// tenant's operator, and fails the test unless it is taken.
func postReport(t *testing.T, base, tok, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/sla/report", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST report: %s: %s", res.Status, b)
	}
}

// slaDOM is what the freshness page shows, read in one go.
const slaDOM = `() => {
	const q = s => document.querySelector(s);
	const text = s => (q(s) || {}).textContent || "";
	const card = q('.tt-sla-panel[data-panel="dispatch/throughput"]');
	const chart = document.getElementById("sla-chart-0");
	return {
		path: location.pathname + location.search,
		screens: text("#tt-sla-screens"),
		answered: !!q("#tt-sla-summary"),
		empty: text("#tt-sla-empty"),
		error: text("#tt-sla-error"),
		card: !!card,
		fresh: card ? card.querySelector(".tt-sla-fresh").textContent : "",
		p95: card ? card.querySelector(".tt-sla-p95").textContent : "",
		stages: card ? [...card.querySelectorAll(".tt-sla-stages .tt-bar-row")].map(r => r.dataset.stage + "=" + r.querySelector(".tt-bar-fill").style.width) : [],
		stale: card ? [...card.querySelectorAll(".tt-sla-stale li")].map(li => li.textContent) : [],
		points: chart && chart._uplot ? chart._uplot.data[0].length : 0,
		period: text("#tt-sla-periods [aria-current]"),
		client: typeof window.telltaleStats,
		scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
		wide: [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391 && ![...e.children].some(c => c.getBoundingClientRect().right > 391)).slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().width) + " " + e.textContent.slice(0, 40)),
		bg: document.body ? getComputedStyle(document.body).backgroundColor : "",
	};
}`

// TestSLAPageOnAPhone: on a 390 px phone, the warehouse dashboard's
// Freshness link opens /sla?dashboard=warehouse (a full page load: no
// dashboard client left running). Two screens of the demo tenant report on
// a dashboard "dispatch"; its page shows the panel's fresh-time, p95, stage
// bars, stale periods and a chart of its minutes, in both themes with no
// sideways scroll; the period selector stays on the
// page; a dashboard no screen reported on says why it is empty; and an
// operator (not an admin) asking for the whole tenant is told to choose.
func TestSLAPageOnAPhone(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	tok := token(t, "demo")
	now := time.Now()
	// Screen a: 3 events (100, 100, 900 ms), mostly network; one stale
	// period, a lost connection. Screen b: 1 event, 200 ms, fresh.
	report := func(screen string, from, to time.Time, painted int, fresh, stale int64, staleJSON, stages string) string {
		return fmt.Sprintf(`{"screen": %q, "dashboard": "dispatch", "from": %d, "to": %d, "clock_err": 1000000, "transport": "socket",
			"panels": [{"panel": "throughput", "painted": %d, "fresh_ms": %d, "stale_ms": %d, "stale": [%s], "stages": [%s]}]}`,
			screen, from.UnixNano(), to.UnixNano(), painted, fresh, stale, staleJSON, stages)
	}
	hist := func(stage string, ms ...float64) string {
		var bins []int32
		n := map[int32]int{}
		for _, m := range ms {
			b := sla.Bin(m)
			if n[b] == 0 {
				bins = append(bins, b)
			}
			n[b]++
		}
		slices.Sort(bins)
		var idx, counts []string
		for _, b := range bins {
			idx, counts = append(idx, fmt.Sprint(b)), append(counts, fmt.Sprint(n[b]))
		}
		return fmt.Sprintf(`{"stage": %q, "index": [%s], "counts": [%s]}`, stage, strings.Join(idx, ","), strings.Join(counts, ","))
	}
	postReport(t, srv.URL, tok, report("a", now.Add(-20*time.Second), now.Add(-10*time.Second), 3, 8000, 2000,
		fmt.Sprintf(`{"start": %d, "ms": 2000, "cause": "disconnect"}`, now.Add(-15*time.Second).UnixNano()),
		strings.Join([]string{hist(sla.StageTotal, 99, 101, 900), hist(sla.StageNetwork, 80, 80, 700), hist(sla.StageHub, 5, 5, 5), hist(sla.StagePaint, 14, 16, 195)}, ",")))
	postReport(t, srv.URL, tok, report("b", now.Add(-10*time.Second), now, 1, 10000, 0, "",
		strings.Join([]string{hist(sla.StageTotal, 200), hist(sla.StageNetwork, 150), hist(sla.StageHub, 10), hist(sla.StagePaint, 40)}, ",")))

	b := newBrowser(t)
	p := b.MustPage("")
	p.MustSetViewport(390, 844, 1, true)
	if err := p.Navigate(srv.URL + "/d/warehouse#token=" + tok); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	wait := func(what string, ok func(d map[string]any) bool) map[string]any {
		t.Helper()
		var d map[string]any
		poll.Until(t, 30*time.Second, func() error {
			res, err := p.Eval(slaDOM) // fails while a page loads
			if err != nil {
				return err
			}
			if d = res.Value.Val().(map[string]any); !ok(d) {
				return fmt.Errorf("%s: the page shows %v", what, d)
			}
			return nil
		})
		return d
	}

	p.MustElement("#tt-sla-link").MustClick()
	d := wait("the warehouse's freshness", func(d map[string]any) bool {
		return d["path"] == "/sla?dashboard=warehouse" && d["answered"] == true
	})
	if d["client"] != "undefined" {
		t.Errorf("the dashboard's client is still running on /sla (window.telltaleStats is a %v): the link must be a full page load", d["client"])
	}

	// The reports above are of a dashboard no page here opens (the
	// warehouse's own page may report too): their numbers are exact.
	p.MustNavigate(srv.URL + "/sla?dashboard=dispatch")
	d = wait("the dispatch's freshness", func(d map[string]any) bool { return d["card"] == true && d["points"].(float64) > 0 })
	t.Logf("freshness page: %v", d)
	if d["screens"] != "2 screens reported" {
		t.Errorf("screens: got %q, want %q", d["screens"], "2 screens reported")
	}
	// 18 of 20 s fresh. p95 of 99, 101, 200, 900 ms: the sketch's rank
	// 0.95 × (4 − 1) is the third, 200 ms, within the stated 1%.
	if d["fresh"] != "90.0%" {
		t.Errorf("fresh: got %q, want 90.0%%", d["fresh"])
	}
	if p95 := d["p95"].(string); !slices.Contains([]string{"198 ms", "199 ms", "200 ms", "201 ms", "202 ms"}, p95) {
		t.Errorf("p95: got %q, want 200 ms within 1%%", p95)
	}
	stages := fmt.Sprint(d["stages"])
	if !strings.Contains(stages, "network=") || !strings.Contains(stages, "hub=") || !strings.Contains(stages, "paint=") || strings.Contains(stages, "total") {
		t.Errorf("stage bars %s: want hub, network and paint, not the total", stages)
	}
	if stale := fmt.Sprint(d["stale"]); !strings.Contains(stale, "connection lost") || !strings.Contains(stale, "2.0 s") {
		t.Errorf("stale periods %s: want the 2.0 s lost connection", stale)
	}
	if d["period"] != "1 h" {
		t.Errorf("period selected: got %q, want 1 h", d["period"])
	}

	dir := outDir(t)
	for _, theme := range []string{"dark", "light"} {
		if err := (proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{{Name: "prefers-color-scheme", Value: theme}}}).Call(p); err != nil {
			t.Fatal(err)
		}
		d := wait(theme+" theme", func(d map[string]any) bool {
			return (theme == "dark") == (d["bg"] == "rgb(11, 15, 20)")
		})
		// A phone widens its layout viewport to what overflows: both
		// must stay the screen's 390 px.
		if d["scroll"].(float64) > 390 || d["inner"].(float64) > 390 {
			t.Errorf("%s: the page is %v px wide in a %v px viewport on a 390 px screen: sideways scroll (%v)", theme, d["scroll"], d["inner"], d["wide"])
		}
		shot, err := p.Screenshot(true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "sla-phone-"+theme+".png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("period selector stays on the page", func(t *testing.T) {
		eval(t, p, `() => { window.__samePage = true; }`)
		p.MustElement(`#tt-sla-periods a[href="/sla?dashboard=dispatch&period=7d"]`).MustClick()
		d := wait("a week", func(d map[string]any) bool {
			return d["period"] == "7 d" && d["path"] == "/sla?dashboard=dispatch&period=7d" && d["screens"] == "2 screens reported"
		})
		t.Logf("a week: %v", d)
		if !eval(t, p, `() => window.__samePage === true`).Bool() {
			t.Errorf("the period's link reloaded the page: want it to stay on it")
		}
	})

	t.Run("empty state says why", func(t *testing.T) {
		p.MustNavigate(srv.URL + "/sla?dashboard=nobody-looks")
		d := wait("empty", func(d map[string]any) bool { return d["empty"] != "" })
		if want := "No page has reported for this dashboard in the last hour"; !strings.Contains(d["empty"].(string), want) {
			t.Errorf("empty state %q, want it to say %q", d["empty"], want)
		}
		if d["card"] == true || d["screens"] != "0 screens reported" {
			t.Errorf("empty: got card %v screens %q", d["card"], d["screens"])
		}
	})

	t.Run("an operator must choose a dashboard", func(t *testing.T) {
		p.MustNavigate(srv.URL + "/sla")
		d := wait("refused", func(d map[string]any) bool { return d["error"] != "" })
		if !strings.Contains(d["error"].(string), "Only an admin sees the whole tenant") {
			t.Errorf("error %q: want it to say only an admin sees the whole tenant", d["error"])
		}
		if !p.MustHas(`#tt-sla-boards a[href="/sla?dashboard=warehouse"]`) {
			t.Errorf("no link to the warehouse's freshness to choose")
		}
	})
}

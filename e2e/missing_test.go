//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/internal/poll"
)

// missingSpec names, next to what its streams have, a series, gauges, a row
// field and a table column they do not: fast has series v and gauge count,
// feed has rows with fields n and note.
const missingSpec = `{"id":"missing","title":"Missing","panels":[
	{"id":"mixed","kind":"timeseries","title":"Mixed","stream":"fast","series":["v","amount"],"width":12,"window_seconds":60},
	{"id":"real-kpi","kind":"kpi","title":"Count","stream":"fast","field":"count","width":3},
	{"id":"ghost-kpi","kind":"kpi","title":"Ghost","stream":"fast","field":"nope","width":3},
	{"id":"row-kpi","kind":"kpi","title":"Row ghost","stream":"feed","field":"row.ghost","width":3},
	{"id":"feed","kind":"table","title":"Feed","stream":"feed","columns":[{"field":"n","title":"N"},{"field":"ghost","title":"Ghost"}]}
]}`

// chartInk reads a chart's uPlot: its y scale, how many finite values its
// first series holds, and how many canvas pixels have that series' stroke
// colour (palette[0] in wasm/uplot.go, #4cc9f0), i.e. whether it is drawn.
const chartInk = `(id) => {
	const el = document.getElementById(id);
	if (!el || !el._uplot) return null;
	const u = el._uplot, ys = u.data[1] || [];
	let finite = 0, lo = Infinity, hi = -Infinity;
	for (const y of ys) if (Number.isFinite(y)) { finite++; lo = Math.min(lo, y); hi = Math.max(hi, y); }
	const c = u.ctx.canvas, px = u.ctx.getImageData(0, 0, c.width, c.height).data;
	let ink = 0;
	for (let i = 0; i < px.length; i += 4) {
		if (px[i+3] > 128 && Math.abs(px[i]-0x4c) < 40 && Math.abs(px[i+1]-0xc9) < 40 && Math.abs(px[i+2]-0xf0) < 40) ink++;
	}
	return {rows: u.data[0].length, finite, ink, lo, hi, ymin: String(u.scales.y.min), ymax: String(u.scales.y.max)};
}`

type inkState struct {
	Rows, Finite, Ink int
	Lo, Hi            float64 // the first series' finite extremes
	YMin, YMax        string
}

func readInk(p *rod.Page, id string) (inkState, error) {
	res, err := p.Eval(chartInk, id)
	if err != nil {
		return inkState{}, err
	}
	if res.Value.Nil() {
		return inkState{}, fmt.Errorf("no chart %s yet", id)
	}
	var s inkState
	err = json.Unmarshal([]byte(res.Value.JSON("", "")), &s)
	return s, err
}

// drawn reports why chart state s does not show its first series, or nil.
func (s inkState) drawn() error {
	if s.Finite < 10 || s.Ink < 100 || s.YMin == "NaN" || s.YMax == "NaN" || s.YMin == "null" {
		return fmt.Errorf("chart holds %d rows, %d finite values of its first series, %d pixels of its colour, y scale [%s, %s]: not drawn",
			s.Rows, s.Finite, s.Ink, s.YMin, s.YMax)
	}
	lo, _ := strconv.ParseFloat(s.YMin, 64)
	hi, _ := strconv.ParseFloat(s.YMax, 64)
	if lo > s.Lo || hi < s.Hi {
		return fmt.Errorf("y scale [%s, %s] does not hold the series' values [%v, %v]", s.YMin, s.YMax, s.Lo, s.Hi)
	}
	return nil
}

// missingNote is the text of a panel's "no data for" note ("" if none).
func missingNote(t *testing.T, p *rod.Page, panel string) string {
	t.Helper()
	return eval(t, p, `(id) => { const e = document.querySelector('section[data-panel="' + id + '"] .tt-missing'); return e ? e.textContent : "" }`, panel).Str()
}

// missingStats is telltaleStats' account of what panels name that their
// streams lack.
type missingStats struct {
	Missing        int                 `json:"missing"`
	MissingByPanel map[string][]string `json:"missing_by_panel"`
}

func readMissingStats(t *testing.T, p *rod.Page) missingStats {
	t.Helper()
	raw := eval(t, p, `() => window.telltaleStats ? window.telltaleStats() : "{}"`).Str()
	var s missingStats
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("stats %q: %v", raw, err)
	}
	return s
}

// TestMissingNamesAreShownAndTheRestDraws: a chart naming one series its
// stream has and one it has not draws the one it has (it used to draw
// nothing: the absent series, all gaps, made uPlot's y scale NaN), and every
// panel naming something its stream lacks says so, and the page counts it.
func TestMissingNamesAreShownAndTheRestDraws(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-missing"
	path := filepath.Join(t.TempDir(), "missing.json")
	if err := os.WriteFile(path, []byte(missingSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", path, "-ingest-keys", "demo:"+key)
	ts, vs := series(5_000, 1_000, 4_000)
	publishPoints(t, srv.URL, key, ts, vs, 500)
	ingest(t, srv.URL, key, `{"events":[{"stream":"fast","values":{"count":42}}]}`)
	publishRows(t, srv.URL, key, rowKeys(0, 5)...)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)

	poll.Until(t, 20*time.Second, func() error {
		s, err := readInk(p, "chart-mixed")
		if err != nil {
			return err
		}
		return s.drawn()
	})
	want := map[string]string{
		"mixed":     `no data for “amount” in stream “fast”`,
		"ghost-kpi": `no data for “nope” in stream “fast”`,
		"row-kpi":   `no data for “row.ghost” in stream “feed”`,
		"feed":      `no data for “ghost” in stream “feed”`,
		"real-kpi":  "",
	}
	poll.Until(t, 10*time.Second, func() error {
		for panel, note := range want {
			if got := missingNote(t, p, panel); got != note {
				return fmt.Errorf("panel %s notes %q, want %q", panel, got, note)
			}
		}
		return nil
	})
	st := readMissingStats(t, p)
	if st.Missing != 4 || strings.Join(st.MissingByPanel["mixed"], ",") != "amount" || len(st.MissingByPanel["real-kpi"]) != 0 {
		t.Fatalf("telltaleStats counts %d missing: %v; want 4, amount for mixed and nothing for real-kpi", st.Missing, st.MissingByPanel)
	}
	// The rest of each panel works: the real KPI and the table's real column.
	if got := eval(t, p, `() => document.getElementById("kpi-real-kpi").textContent`).Str(); !strings.Contains(got, "42") {
		t.Fatalf("the count KPI shows %q, want 42", got)
	}
	if n := eval(t, p, `() => document.querySelectorAll("#table-feed tbody tr[data-key]").length`).Int(); n != 5 {
		t.Fatalf("the table draws %d rows, want 5", n)
	}

	// A series that appears later is drawn, and its note goes.
	ingest(t, srv.URL, key, fmt.Sprintf(`{"events":[{"stream":"fast","points":{"ts":[%d],"cols":[{"name":"v","vals":[1]},{"name":"amount","vals":[2]}]}}]}`, time.Now().UnixMilli()))
	poll.Until(t, 10*time.Second, func() error {
		if got := missingNote(t, p, "mixed"); got != "" {
			return fmt.Errorf("mixed still notes %q", got)
		}
		return nil
	})
	p.MustScreenshot(filepath.Join(outDir(t), "missing.png"))
}

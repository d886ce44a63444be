//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/internal/poll"
)

// fastData is the whole of the fast chart's uPlot x and y data.
const fastDataJS = `() => {
	const el = document.getElementById("chart-fast");
	if (!el || !el._uplot) return null;
	const u = el._uplot;
	return {xs: Array.from(u.data[0]), ys: Array.from(u.data[1], y => y === null || isNaN(y) ? null : y),
		loading: !!document.querySelector('section[data-panel="fast"] .tt-history')};
}`

type fastData struct {
	XS      []float64
	YS      []*float64
	Loading bool
}

func readFastData(p *rod.Page) (fastData, error) {
	res, err := p.Eval(fastDataJS)
	if err != nil {
		return fastData{}, err
	}
	if res.Value.Nil() {
		return fastData{}, fmt.Errorf("no chart yet")
	}
	var d fastData
	err = json.Unmarshal([]byte(res.Value.JSON("", "")), &d)
	return d, err
}

// ascending reports the first row that does not follow the one before it
// (a duplicate timestamp, or out of order), or -1.
func (d fastData) ascending() int {
	for i := 1; i < len(d.XS); i++ {
		if d.XS[i] <= d.XS[i-1] {
			return i
		}
	}
	return -1
}

// TestTimeSeriesOpensWithItsHistory: a stream with 15 minutes of stored
// history (a point a second) whose snapshot holds only its newest minute,
// and a 15-minute panel: once the history arrives the chart spans the 15
// minutes, with a spike the snapshot never held, joined to the snapshot
// with no duplicate timestamp; then live points continue the chart, still
// with none.
func TestTimeSeriesOpensWithItsHistory(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-history-open"
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 900), "-ingest-keys", "demo:"+key, "-points", "60")
	const n = 900
	now := time.Now().UnixMilli()
	ts, vs := make([]int64, n), make([]float64, n)
	for i := range n {
		ts[i] = now - int64(n-1-i)*1000
		vs[i] = 10 * math.Sin(float64(i)/20)
	}
	vs[30] = 1000 // 14.5 minutes ago: only the server's history has it
	publishPoints(t, srv.URL, key, ts, vs, 10)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	var d fastData
	poll.Until(t, 30*time.Second, func() (err error) {
		if d, err = readFastData(p); err != nil {
			return err
		}
		if len(d.XS) == 0 || int64(d.XS[len(d.XS)-1]) != ts[n-1] {
			return fmt.Errorf("%d rows, want the chart to end at the newest point %d", len(d.XS), ts[n-1])
		}
		if span := d.XS[len(d.XS)-1] - d.XS[0]; span < 14.5*60*1000 || d.Loading {
			return fmt.Errorf("the chart spans %.0f s (history loading: %v), want 15 minutes", span/1000, d.Loading)
		}
		return nil
	})
	if int64(d.XS[0]) > ts[1] {
		t.Fatalf("the chart starts at %.0f, want the history's first point %d", d.XS[0], ts[0])
	}
	hasSpike := false
	for _, y := range d.YS {
		if y != nil && *y == 1000 {
			hasSpike = true
		}
	}
	if !hasSpike {
		t.Fatal("the spike 14.5 minutes back is not drawn: the history is not the server's")
	}
	if i := d.ascending(); i >= 0 {
		t.Fatalf("row %d at %.0f after %.0f: a duplicate or out of order at the join", i, d.XS[i], d.XS[i-1])
	}
	// Live points continue it.
	live := make([]int64, 5)
	lv := make([]float64, 5)
	start := max(ts[n-1], time.Now().UnixMilli()-5000)
	for i := range live {
		live[i] = start + int64(i+1)*1000 // a pixel column (0.9 s) apart: each is drawn
		lv[i] = -500 - float64(i)
	}
	publishPoints(t, srv.URL, key, live, lv, 1)
	poll.Until(t, 20*time.Second, func() (err error) {
		if d, err = readFastData(p); err != nil {
			return err
		}
		if int64(d.XS[len(d.XS)-1]) != live[len(live)-1] {
			return fmt.Errorf("the chart ends at %.0f, want the live point %d", d.XS[len(d.XS)-1], live[len(live)-1])
		}
		return nil
	})
	if i := d.ascending(); i >= 0 {
		t.Fatalf("after live points, row %d at %.0f after %.0f: a duplicate or out of order", i, d.XS[i], d.XS[i-1])
	}
	if span := d.XS[len(d.XS)-1] - d.XS[0]; span < 14.5*60*1000 {
		t.Fatalf("after live points the chart spans %.0f s, want 15 minutes", span/1000)
	}
	for _, x := range live {
		found := false
		for _, y := range d.XS {
			if int64(y) == x {
				found = true
			}
		}
		if !found {
			t.Fatalf("live point %d is not drawn", x)
		}
	}
}

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/internal/poll"
)

// TestSilentStreamIsFlaggedStale: a stream that stops speaking is flagged
// stale on its panel after four expected cadences, while the connection
// stays live, and the badge leaves green (it follows the data); when the
// stream speaks again the warning goes and the badge is live.
func TestSilentStreamIsFlaggedStale(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-stale"
	spec := filepath.Join(t.TempDir(), "stale.json")
	if err := os.WriteFile(spec, []byte(`{"id":"s","title":"Stale","panels":[{"id":"quiet","kind":"kpi","title":"Quiet","stream":"quiet","field":"x","width":3,"expected_cadence_ms":500}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key)
	publish := func(x int) {
		t.Helper()
		ingest(t, srv.URL, key, fmt.Sprintf(`{"events":[{"stream":"quiet","values":{"x":%d}}]}`, x))
	}
	publish(1)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	age := func() (string, bool) {
		v := eval(t, p, `() => { const e = document.querySelector('[data-panel="quiet"] .tt-age'); return e ? [e.textContent, e.classList.contains("tt-stale")] : ["", false] }`)
		return v.Arr()[0].Str(), v.Arr()[1].Bool()
	}
	publish(2)
	poll.Until(t, 10*time.Second, func() error {
		if text, stale := age(); stale || (text != "now" && !strings.HasSuffix(text, "ago")) {
			return fmt.Errorf("panel age %q (stale %v), want a fresh age", text, stale)
		}
		return nil
	})
	// Silence: stale after 4 × 500 ms, but never before 3 s.
	silent := time.Now()
	poll.Until(t, 15*time.Second, func() error {
		if text, stale := age(); !stale {
			return fmt.Errorf("panel age %q, not flagged stale yet", text)
		}
		return nil
	})
	if waited := time.Since(silent); waited < 2*time.Second {
		t.Fatalf("flagged stale after %v, before the 3 s floor", waited)
	}
	// The socket is fine, but green never sits over a stale panel: the
	// badge says there is no new data, and how old the newest is.
	if state, text := badge(t, p); state != "degraded" || !strings.Contains(text, "no new data") || !strings.HasSuffix(text, " s ago") {
		t.Fatalf("badge %q %q while the only stream is silent, want degraded, no new data, with its age", state, text)
	}
	if s := stats(t, p); s.Status != "live" {
		t.Fatalf("connection %q while the stream is silent, want live: the socket is fine", s.Status)
	}
	publish(3)
	poll.Until(t, 10*time.Second, func() error {
		if text, stale := age(); stale {
			return fmt.Errorf("still stale (%q) after the stream spoke again", text)
		}
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q after the stream spoke again, want live", state, text)
		}
		return nil
	})
}

// badge is the connection badge's state and text.
func badge(t *testing.T, p *rod.Page) (state, text string) {
	t.Helper()
	v := eval(t, p, `() => { const b = document.getElementById("tt-badge"); return b ? [b.dataset.state, b.textContent] : ["", ""] }`)
	return v.Arr()[0].Str(), v.Arr()[1].Str()
}

// panelAge is a panel head's age label and whether it warns of staleness.
func panelAge(t *testing.T, p *rod.Page, panel string) (string, bool) {
	t.Helper()
	v := eval(t, p, `id => { const e = document.querySelector('[data-panel="' + id + '"] .tt-age'); return e ? [e.textContent, e.classList.contains("tt-stale")] : ["", false] }`, panel)
	return v.Arr()[0].Str(), v.Arr()[1].Bool()
}

// TestQuietStreamWithoutCadenceIsStale: a dashboard that declares no
// expected_cadence_ms, opened onto streams that have gone quiet, flags them
// from their own history: a chart whose points came every 500 ms is stale a
// few seconds into its silence, and a gauge with a single event from two
// minutes ago, too little to learn from, is stale by the one-minute
// default. The badge is not green over them: it says there is no new data,
// with the age of the newest. When they speak again, both recover.
func TestQuietStreamWithoutCadenceIsStale(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-quiet"
	spec := filepath.Join(t.TempDir(), "quiet.json")
	if err := os.WriteFile(spec, []byte(`{"id":"q","title":"Quiet","panels":[`+
		`{"id":"chart","kind":"timeseries","title":"Chart","stream":"quiet","series":["v"],"width":6},`+
		`{"id":"gauge","kind":"kpi","title":"Gauge","stream":"lone","field":"x","width":6}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key)
	points := func(n int) {
		t.Helper()
		end := time.Now().UnixMilli()
		ts, vs := make([]string, n), make([]string, n)
		for i := range n {
			ts[i], vs[i] = fmt.Sprint(end-int64(n-1-i)*500), fmt.Sprint(i)
		}
		ingest(t, srv.URL, key, `{"events":[{"stream":"quiet","points":{"ts":[`+strings.Join(ts, ",")+`],"cols":[{"name":"v","vals":[`+strings.Join(vs, ",")+`]}]}}]}`)
	}
	// 20 s of points every 500 ms; one gauge reading two minutes old.
	points(40)
	ingest(t, srv.URL, key, fmt.Sprintf(`{"events":[{"stream":"lone","time":%d,"values":{"x":7}}]}`, time.Now().Add(-2*time.Minute).UnixMilli()))

	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	poll.Until(t, 15*time.Second, func() error {
		for _, id := range []string{"chart", "gauge"} {
			if text, stale := panelAge(t, p, id); !stale || !strings.HasPrefix(text, "stale · no data for ") {
				return fmt.Errorf("panel %s says %q (stale %v), want a stale warning", id, text, stale)
			}
		}
		if state, text := badge(t, p); state != "degraded" || !strings.Contains(text, "no new data") || !strings.HasSuffix(text, " s ago") {
			return fmt.Errorf("badge %q %q, want degraded, no new data, with the age", state, text)
		}
		return nil
	})
	if text, _ := panelAge(t, p, "gauge"); !strings.Contains(text, "min") {
		t.Fatalf("gauge says %q, want its two minutes of silence", text)
	}

	// They speak again: fresh panels, a green badge.
	points(3)
	ingest(t, srv.URL, key, `{"events":[{"stream":"lone","values":{"x":8}}]}`)
	poll.Until(t, 10*time.Second, func() error {
		for _, id := range []string{"chart", "gauge"} {
			if text, stale := panelAge(t, p, id); stale {
				return fmt.Errorf("panel %s still says %q", id, text)
			}
		}
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q after the streams spoke, want live", state, text)
		}
		return nil
	})
}

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/poll"
)

// TestSilentStreamIsFlaggedStale: a stream that stops speaking is flagged
// stale on its panel after four expected cadences, while the connection
// stays live; when it speaks again the warning goes.
func TestSilentStreamIsFlaggedStale(t *testing.T) {
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
	if state := eval(t, p, `() => document.getElementById("tt-badge").dataset.state`).Str(); state != "live" {
		t.Fatalf("badge %q while the stream is silent, want live: the socket is fine", state)
	}
	publish(3)
	poll.Until(t, 10*time.Second, func() error {
		if text, stale := age(); stale {
			return fmt.Errorf("still stale (%q) after the stream spoke again", text)
		}
		return nil
	})
}

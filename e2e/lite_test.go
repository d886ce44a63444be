//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
)

// TestLitePageFollowsM4Streams opens a page with ?lite=1 and a token that
// names only the raw stream: the page follows the server's m4 stream of it
// (rebuilt from the stored points), draws about 4 rows a bucket with both
// spikes on the chart, says so in the panel head, and then draws a live
// spike (the newest bucket updated in place) and a late one (a closed
// bucket updated).
func TestLitePageFollowsM4Streams(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-lite"
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 60), "-ingest-keys", "demo:"+key)
	const n = 40_000
	ts, vs := series(n, 12_345, 31_000)
	publishPoints(t, srv.URL, key, ts, vs, 500) // stored before the page asks: the m4 stream is built from them

	p := newBrowser(t).MustPage("")
	url := strings.TrimSuffix(srv.URL, "/") + "/?lite=1#token=" + token(t, "demo", "fast")
	if err := p.Navigate(url); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	var m4 string
	var s uplotState
	poll.Until(t, 30*time.Second, func() (err error) {
		for name := range stats(t, p).Streams {
			if strings.HasPrefix(name, "m4.") {
				m4 = name
			}
			if name == "fast" {
				return fmt.Errorf("the lite page follows the raw stream too")
			}
		}
		if m4 == "" {
			return fmt.Errorf("no m4 stream followed yet")
		}
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if s.Max != 1000 || s.Min != -1000 {
			return fmt.Errorf("chart's extremes are [%v, %v], want the spikes [-1000, 1000]", s.Min, s.Max)
		}
		return nil
	})
	var bucket int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(m4, "m4."), "%d.", &bucket); err != nil || !strings.HasSuffix(m4, ".fast") {
		t.Fatalf("followed %q, want m4.<bucket ms>.fast", m4)
	}
	buckets := int(int64(ts[n-1]-ts[0])/bucket) + 2
	if s.Points > 4*buckets || s.Points < buckets {
		t.Fatalf("uPlot holds %d rows for %d buckets of %d ms: want about 4 a bucket", s.Points, buckets, bucket)
	}
	note := p.MustElement(".tt-lite")
	if text := note.MustText(); !strings.HasPrefix(text, "decimated · ") {
		t.Fatalf("panel head says %q, want it decimated", text)
	}
	if title := *note.MustAttribute("title"); !strings.Contains(title, "Decimated on the server") || !strings.Contains(title, "?lite=1") {
		t.Fatalf("the note's tooltip says %q", title)
	}
	t.Logf("%d points drawn as %d rows of %s; both spikes on the chart", n, s.Points, m4)

	// A live spike, then a late one 20 s back in the window.
	now := time.Now().UnixMilli()
	publishPoints(t, srv.URL, key, []int64{now - 1, now}, []float64{2000, 0}, 2)
	poll.Until(t, 10*time.Second, func() (err error) {
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if s.Max != 2000 {
			return fmt.Errorf("chart's max is %v, want the live spike 2000", s.Max)
		}
		return nil
	})
	late := now - 20_000
	publishPoints(t, srv.URL, key, []int64{late}, []float64{-3000}, 1)
	poll.Until(t, 10*time.Second, func() (err error) {
		if s, err = readUPlot(p); err != nil {
			return err
		}
		if s.Min != -3000 {
			return fmt.Errorf("chart's min is %v, want the late spike -3000", s.Min)
		}
		return nil
	})
	if st := stats(t, p); st.Breaks != 0 || st.Snapshots != 1 {
		t.Fatalf("got %d breaks and %d snapshots, want none and one", st.Breaks, st.Snapshots)
	}
}

// TestPageSwitchedToLiteStaysLite: a desktop page follows the raw stream;
// once the page has switched itself to lite (it stores why in the tab's
// session, then reloads), it follows the m4 stream and says why; ?lite=0
// refuses it.
func TestPageSwitchedToLiteStaysLite(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-lite-switch"
	srv := startServer(t, "-demo=false", "-dashboards", fastSpec(t, 60), "-ingest-keys", "demo:"+key)
	ts, vs := series(5_000, 100, 4_000)
	publishPoints(t, srv.URL, key, ts, vs, 500)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	// follows waits for the page to hold a stream named want… and to show
	// lite notes or not. (The page's stats also list the streams of the
	// stored record it started from, which it may not follow.)
	follows := func(want string, notes bool) {
		t.Helper()
		poll.Until(t, 30*time.Second, func() error {
			var names []string
			found := false
			for name := range stats(t, p).Streams {
				names = append(names, name)
				found = found || strings.HasPrefix(name, want)
			}
			if !found {
				return fmt.Errorf("the page holds %v, want %s…", names, want)
			}
			if n := len(p.MustElements(".tt-lite")); (n > 0) != notes {
				return fmt.Errorf("the page shows %d lite notes, want them %v", n, notes)
			}
			return nil
		})
	}
	follows("fast", false)
	eval(t, p, `() => { sessionStorage.setItem("telltale.lite", "the server had to resync this page: it could not keep up with every point"); location.reload(); }`)
	waitLive(t, p)
	follows("m4.", true)
	if title := *p.MustElement(".tt-lite").MustAttribute("title"); !strings.Contains(title, "the server had to resync this page") {
		t.Fatalf("the note's tooltip says %q, want why the page went lite", title)
	}
	if err := p.Navigate(strings.TrimSuffix(srv.URL, "/") + "/?lite=0"); err != nil {
		t.Fatal(err)
	}
	waitLive(t, p)
	follows("fast", false)
}

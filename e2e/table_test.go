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

// feedSpec is one table panel keeping 1,000 rows of stream feed.
const feedSpec = `{"id":"feeds","title":"Feeds","panels":[{"id":"feed","kind":"table","title":"Feed","stream":"feed","rows":1000,
	"columns":[{"field":"n","title":"N","format":"int"},{"field":"note","title":"Note"}]}]}`

// publishRows publishes rows of stream feed with these keys, in order (the
// last is the newest), through HTTP ingest.
func publishRows(t *testing.T, base, key string, keys ...string) {
	t.Helper()
	events := make([]string, len(keys))
	for i, k := range keys {
		events[i] = fmt.Sprintf(`{"stream":"feed","row":{"key":%q,"fields":{"n":%d,"note":"row %s"}}}`, k, i, k)
	}
	ingest(t, base, key, `{"events":[`+strings.Join(events, ",")+`]}`)
}

func rowKeys(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("row-%04d", i))
	}
	return out
}

// feedTable reads the table's DOM: how many <tr> it holds, the scroll
// container's extent, the first drawn row, and where a given row sits below
// the container's top edge (-1 when it is not in the DOM).
type feedTableDOM struct {
	TRs, ScrollHeight, ScrollTop int
	First                        string
	RowHeight, Offset            float64
	Classes                      string
}

const feedTableJS = `(key) => {
	const t = document.getElementById("table-feed");
	if (!t) return null;
	const wrap = t.parentElement;
	const drawn = t.querySelectorAll("tbody tr[data-key]");
	const row = t.querySelector('tr[data-key="' + key + '"]');
	return {
		trs: t.querySelectorAll("tr").length,
		scrollHeight: wrap.scrollHeight,
		scrollTop: wrap.scrollTop,
		first: drawn.length ? drawn[0].dataset.key : "",
		rowHeight: drawn.length ? drawn[0].getBoundingClientRect().height : 0,
		offset: row ? row.getBoundingClientRect().top - wrap.getBoundingClientRect().top : -1,
		classes: row ? row.className : "",
	};
}`

func readFeedTable(t *testing.T, p *rod.Page, key string) (feedTableDOM, error) {
	t.Helper()
	res, err := p.Eval(feedTableJS, key)
	if err != nil {
		return feedTableDOM{}, err
	}
	v := res.Value
	if v.Nil() {
		return feedTableDOM{}, fmt.Errorf("no #table-feed yet")
	}
	return feedTableDOM{
		TRs: v.Get("trs").Int(), ScrollHeight: v.Get("scrollHeight").Int(), ScrollTop: v.Get("scrollTop").Int(),
		First: v.Get("first").Str(), RowHeight: v.Get("rowHeight").Num(), Offset: v.Get("offset").Num(),
		Classes: v.Get("classes").Str(),
	}, nil
}

func scrollFeed(t *testing.T, p *rod.Page, top int) {
	t.Helper()
	eval(t, p, `(top) => { document.getElementById("table-feed").parentElement.scrollTop = top }`, top)
}

// TestFeedTableDrawsOnlyRowsInView fills a table to 1,000 rows and checks
// that the DOM holds only the rows in view while the scrollbar spans them
// all, that scrolling draws later rows, that rows published while the reader
// is scrolled down do not move what they read, and that a new row flashes.
func TestFeedTableDrawsOnlyRowsInView(t *testing.T) {
	t.Parallel()
	const key = "demo-ingest-key-0001"
	const rowH = 28 // app/ui rowHeight, static/telltale.css
	spec := filepath.Join(t.TempDir(), "feeds.json")
	if err := os.WriteFile(spec, []byte(feedSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "-demo=false", "-dashboards", spec, "-ingest-keys", "demo:"+key)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)

	// 1,100 rows: the table keeps the newest 1,000, row-1099 first.
	publishRows(t, srv.URL, key, rowKeys(0, 1100)...)
	want := rowH * (1 + 1000) // header and 1,000 rows
	var dom feedTableDOM
	poll.Until(t, 20*time.Second, func() (err error) {
		if dom, err = readFeedTable(t, p, "row-1099"); err != nil {
			return err
		}
		if dom.First != "row-1099" || dom.ScrollHeight != want {
			return fmt.Errorf("first row %q, scroll height %d px: want row-1099 and %d px (1,000 rows of %d px)", dom.First, dom.ScrollHeight, want, rowH)
		}
		return nil
	})
	if dom.TRs > 40 {
		t.Fatalf("got %d <tr> in a table of 1,000 rows, want at most 40", dom.TRs)
	}
	if dom.RowHeight != rowH {
		t.Fatalf("got rows %.2f px tall, want %d (the windowing assumes it)", dom.RowHeight, rowH)
	}
	t.Logf("1,000 rows: %d <tr> in the DOM, scroll height %d px", dom.TRs, dom.ScrollHeight)

	// Scrolled to row 500 (row-0599): later rows are drawn, the first ones
	// are not.
	scrollFeed(t, p, 500*rowH)
	poll.Until(t, 10*time.Second, func() (err error) {
		if dom, err = readFeedTable(t, p, "row-0599"); err != nil {
			return err
		}
		if dom.Offset != rowH { // right under the sticky header
			return fmt.Errorf("row-0599 is %.1f px below the top of the table, want %d (first drawn %s)", dom.Offset, rowH, dom.First)
		}
		return nil
	})
	if dom.First == "row-1099" || dom.TRs > 40 {
		t.Fatalf("scrolled to row 500: first drawn %s and %d <tr>, want a later row and at most 40", dom.First, dom.TRs)
	}

	// Five rows arrive above the reader: the table scrolls by five rows and
	// row-0599 stays where it was.
	publishRows(t, srv.URL, key, rowKeys(1100, 1105)...)
	poll.Until(t, 10*time.Second, func() (err error) {
		if dom, err = readFeedTable(t, p, "row-0599"); err != nil {
			return err
		}
		if dom.ScrollTop != 505*rowH || dom.Offset != rowH {
			return fmt.Errorf("scrollTop %d with row-0599 %.1f px down, want %d and %d", dom.ScrollTop, dom.Offset, 505*rowH, rowH)
		}
		return nil
	})

	// Back at the top, a new row is drawn first and flashes.
	scrollFeed(t, p, 0)
	publishRows(t, srv.URL, key, "fresh")
	poll.Until(t, 10*time.Second, func() (err error) {
		if dom, err = readFeedTable(t, p, "fresh"); err != nil {
			return err
		}
		if dom.First != "fresh" || !strings.Contains(" "+dom.Classes+" ", " tt-new ") {
			return fmt.Errorf("first row %s, fresh row classes %q: want fresh with tt-new", dom.First, dom.Classes)
		}
		return nil
	})
	// and row-1104, which was new a moment ago, is drawn below it.
	if dom, err := readFeedTable(t, p, "row-1104"); err != nil || dom.Offset != 2*rowH {
		t.Fatalf("row-1104 %.1f px down (%v), want %d: right under the fresh row", dom.Offset, err, 2*rowH)
	}
	shot := filepath.Join(outDir(t), "feed.png")
	p.MustScreenshot(shot)
	t.Logf("screenshot: %s", shot)
}

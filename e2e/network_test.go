//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/shared/faultnet"
	"github.com/telltale/telltale/shared/poll"
)

type pageStats struct {
	Snapshots  int    `json:"snapshots"`
	Breaks     int    `json:"breaks"`
	Resumes    int    `json:"resumes"`
	Reconnects int    `json:"reconnects"`
	Status     string `json:"status"`
	Renders    int    `json:"renders"`
	ChartDraws int    `json:"chart_draws"`
	Streams    map[string]struct {
		Epoch string `json:"epoch"`
		Seq   uint64 `json:"seq"`
	} `json:"streams"`
}

func stats(t *testing.T, p *rod.Page) pageStats {
	t.Helper()
	raw := eval(t, p, `() => window.telltaleStats ? window.telltaleStats() : "{}"`).Str()
	var s pageStats
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("stats %q: %v", raw, err)
	}
	return s
}

// TestNetworkDropLosesNothing cuts the page off the server for 10 s while the
// demo feed keeps publishing, then restores it: the page must come back by
// resuming from its cursors, with every seq applied once and in order (no
// break, no second snapshot), and catch up past what was published meanwhile.
func TestNetworkDropLosesNothing(t *testing.T) {
	srv := startServer(t)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	p := newBrowser(t).MustPage("")
	openLive(t, p, "http://"+proxy.Addr())
	poll.Until(t, 10*time.Second, func() error {
		if s := stats(t, p); len(s.Streams) < 3 || s.Streams["metrics"].Seq < 10 {
			return fmt.Errorf("page not following yet: %+v", s)
		}
		return nil
	})
	before := stats(t, p)

	proxy.Block()
	poll.Until(t, 40*time.Second, func() error {
		if s := stats(t, p); s.Status == "live" {
			return fmt.Errorf("page still says live with its network cut")
		}
		return nil
	})
	time.Sleep(10 * time.Second) // the outage itself: events keep flowing on the server
	proxy.Unblock()

	// 10 s of metrics at 10 events/s were published while cut off.
	want := before.Streams["metrics"].Seq + 100
	poll.Until(t, 45*time.Second, func() error {
		s := stats(t, p)
		if s.Status != "live" || s.Streams["metrics"].Seq < want {
			return fmt.Errorf("status %s, metrics at %d, want ≥ %d", s.Status, s.Streams["metrics"].Seq, want)
		}
		return nil
	})
	after := stats(t, p)
	if after.Breaks != 0 {
		t.Fatalf("the page applied %d seqs out of order: a gap or a duplicate", after.Breaks)
	}
	if after.Snapshots != before.Snapshots || after.Resumes < 3 {
		t.Fatalf("snapshots %d → %d, resumes %d: want the same snapshots and every stream resumed", before.Snapshots, after.Snapshots, after.Resumes)
	}
	t.Logf("cut off 10 s: metrics %d → %d, %d streams resumed, %d reconnect attempts, no break", before.Streams["metrics"].Seq, after.Streams["metrics"].Seq, after.Resumes, after.Reconnects)
}

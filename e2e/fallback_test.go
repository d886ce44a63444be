//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

type netStats struct {
	Status    string `json:"status"`
	Transport string `json:"transport"`
	LagMs     int64  `json:"lag_ms"`
	RetryInMs int64  `json:"retry_in_ms"`
}

func netOf(t *testing.T, p *rod.Page) netStats {
	t.Helper()
	raw := eval(t, p, `() => window.telltaleNet ? window.telltaleNet() : "{}"`).Str()
	var s netStats
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("telltaleNet %q: %v", raw, err)
	}
	return s
}

func badgeState(t *testing.T, p *rod.Page) string {
	t.Helper()
	return eval(t, p, `() => { const b = document.getElementById("tt-badge"); return b ? b.dataset.state : "" }`).Str()
}

// headOf is the stream's seq on the server, from the HTTP snapshot.
func headOf(t *testing.T, base, tok, stream string) uint64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/streams/"+stream+"/snapshot", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	f, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("snapshot of %s: %d %v", stream, res.StatusCode, err)
	}
	return f.(wire.Snapshot).Seq
}

// TestWebSocketBlockedFallsBackToPolling runs the server with WebSocket
// upgrades refused: the page must fall back to HTTP long-polls, say
// "degraded", and still apply every event of every stream once and in order.
func TestWebSocketBlockedFallsBackToPolling(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "-websocket=false")
	tok := token(t, "demo")
	p := newBrowser(t).MustPage("")
	if err := p.Navigate(signIn(t, srv.URL, "demo")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	poll.Until(t, 40*time.Second, func() error {
		if s := badgeState(t, p); s != "degraded" {
			return fmt.Errorf("badge %q, want degraded", s)
		}
		return nil
	})
	if n := netOf(t, p); n.Transport != "http-poll" || n.Status != "degraded" {
		t.Fatalf("got %+v, want degraded over http-poll", n)
	}
	t.Logf("degraded over HTTP polling %v after opening", time.Since(start).Round(time.Millisecond))
	before := stats(t, p)
	// Every event the server publishes from now on must reach the page.
	want := map[string]uint64{}
	for _, s := range []string{"metrics", "orders", "fleet"} {
		want[s] = headOf(t, srv.URL, tok, s) + 1
	}
	want["metrics"] += 50 // five seconds of the demo's metrics
	poll.Until(t, 30*time.Second, func() error {
		s := stats(t, p)
		for name, seq := range want {
			if s.Streams[name].Seq < seq {
				return fmt.Errorf("%s at %d, want ≥ %d", name, s.Streams[name].Seq, seq)
			}
		}
		return nil
	})
	// And keep up: the page follows the server's head within a second or so.
	poll.Until(t, 30*time.Second, func() error {
		head := headOf(t, srv.URL, tok, "metrics")
		if got := stats(t, p).Streams["metrics"].Seq; got+20 < head {
			return fmt.Errorf("metrics at %d, server at %d", got, head)
		}
		return nil
	})
	after := stats(t, p)
	if after.Breaks != 0 {
		t.Fatalf("the page applied %d seqs out of order over polling", after.Breaks)
	}
	if after.Snapshots != before.Snapshots {
		t.Fatalf("snapshots %d → %d: polling must continue from the cursor, not refetch", before.Snapshots, after.Snapshots)
	}
	if s := badgeState(t, p); s != "degraded" {
		t.Fatalf("badge %q, want degraded while polling", s)
	}
	t.Logf("over polling: metrics %d → %d, no break, %d snapshots", before.Streams["metrics"].Seq, after.Streams["metrics"].Seq, after.Snapshots)
}

// TestOnlineReconnectsAtOnce: with the page offline long enough for the
// backoff to grow, going online reconnects at once (the online event kicks
// the client) instead of when the backoff's timer would have fired.
// Chromium's offline emulation fires offline/online but leaves an open
// WebSocket alone, so a proxy cuts the connection for real meanwhile.
func TestOnlineReconnectsAtOnce(t *testing.T) {
	// No t.Parallel: it tells the online kick from the backoff by when the
	// page is live again (2 s or more apart), with the CPU to itself (doc.go).
	srv := startServer(t)
	proxy := faultnet.New(t, strings.TrimPrefix(srv.URL, "http://"))
	p := newBrowser(t).MustPage("")
	openLive(t, p, "http://"+proxy.Addr())
	offline := proto.NetworkEmulateNetworkConditions{Offline: true, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := offline.Call(p); err != nil {
		t.Fatal(err)
	}
	proxy.Block()
	poll.Until(t, 40*time.Second, func() error {
		if s := badgeState(t, p); s == "live" {
			return fmt.Errorf("page still live while offline")
		}
		return nil
	})
	// Wait for a backoff with at least 3 s left, so that coming back before
	// it means the online event did it.
	var retryIn time.Duration
	poll.Until(t, 60*time.Second, func() error {
		n := netOf(t, p)
		if n.RetryInMs < 3000 {
			return fmt.Errorf("next retry in %d ms", n.RetryInMs)
		}
		retryIn = time.Duration(n.RetryInMs) * time.Millisecond
		return nil
	})
	online := proto.NetworkEmulateNetworkConditions{Offline: false, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	proxy.Unblock()
	back := time.Now()
	if err := online.Call(p); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		if s := badgeState(t, p); s != "live" {
			return fmt.Errorf("badge %q", s)
		}
		return nil
	})
	took := time.Since(back)
	if took >= retryIn-time.Second {
		t.Fatalf("live %v after going online; the backoff alone would have retried after %v: the online event did not kick", took, retryIn)
	}
	if b := stats(t, p).Breaks; b != 0 {
		t.Fatalf("%d breaks after reconnecting", b)
	}
	t.Logf("live %v after going online (the backoff would have waited %v)", took.Round(time.Millisecond), retryIn.Round(time.Millisecond))
}

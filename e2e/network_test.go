//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
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
	t.Parallel()
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

// TestBadgeLeavesLiveAtOnceOffline: when the browser goes offline (Chromium's
// offline emulation, which fires offline but leaves the open WebSocket
// alone, as a phone's dropped radio does), the badge leaves green at once,
// saying offline with the age of the newest data, long before the socket
// could be declared dead (two ping intervals, 30 s); when the network
// returns it is live again.
func TestBadgeLeavesLiveAtOnceOffline(t *testing.T) {
	// No t.Parallel: its 3 s bound (timing.Over) is a latency, measured
	// with the CPU to itself (doc.go).
	srv := startServer(t)
	p := newBrowser(t).MustPage("")
	openLive(t, p, srv.URL)
	poll.Until(t, 15*time.Second, func() error {
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q, want live on the demo", state, text)
		}
		return nil
	})
	before := stats(t, p)
	if err := (proto.NetworkEnable{}).Call(p); err != nil {
		t.Fatal(err)
	}
	offline := proto.NetworkEmulateNetworkConditions{Offline: true, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := offline.Call(p); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	var state, text string
	poll.Until(t, 10*time.Second, func() error {
		if state, text = badge(t, p); state == "live" {
			return fmt.Errorf("badge %q %q %v after going offline", state, text, time.Since(cut).Round(time.Millisecond))
		}
		return nil
	})
	took := time.Since(cut)
	if timing.Over(t, took, 3*time.Second) {
		t.Fatalf("the badge left live %v after going offline, want within 3 s", took)
	}
	if state != "offline" || !ageText.MatchString(text) {
		t.Fatalf("badge %q %q offline, want offline with the age of the newest data", state, text)
	}
	online := proto.NetworkEmulateNetworkConditions{Offline: false, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1}
	if err := online.Call(p); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q after the network returned, want live", state, text)
		}
		return nil
	})
	if s := stats(t, p); s.Breaks != 0 || s.Snapshots != before.Snapshots {
		t.Fatalf("breaks %d, snapshots %d → %d: want the stream continued", s.Breaks, before.Snapshots, s.Snapshots)
	}
	t.Logf("badge %q %q %v after going offline", state, text, took.Round(time.Millisecond))
}

// ageText is a badge's age: "· now", "· 12 s ago", "· 3 min ago".
var ageText = regexp.MustCompile(` · (now|\d+ s ago|\d+ min ago|\d+ h ago)$`)

// TestBadgeFollowsTheDataWhenNothingArrives: the network stops carrying
// anything while the socket stays open and the browser still says online
// (a stalled proxy, a dead radio link): the panels go stale within seconds,
// and the badge says so at once ("degraded · 3 panels stale · 3 s ago"),
// long before the socket could be declared dead; when bytes flow again it
// is live.
func TestBadgeFollowsTheDataWhenNothingArrives(t *testing.T) {
	// No t.Parallel: its 6 s bound (timing.Over), and the badge speaking
	// before the socket is declared dead, are latencies, measured with the
	// CPU to itself (doc.go).
	srv := startServer(t)
	proxy := newStallProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	p := newBrowser(t).MustPage("")
	openLive(t, p, "http://"+proxy.Addr())
	poll.Until(t, 15*time.Second, func() error {
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q, want live on the demo", state, text)
		}
		return nil
	})
	before := stats(t, p)
	proxy.Stall()
	stalled := time.Now()
	var state, text string
	poll.Until(t, 20*time.Second, func() error {
		if state, text = badge(t, p); state != "degraded" || !strings.Contains(text, "stale") || !ageText.MatchString(text) {
			return fmt.Errorf("badge %q %q %v after the network stalled", state, text, time.Since(stalled).Round(time.Millisecond))
		}
		return nil
	})
	took := time.Since(stalled)
	// The demo's metrics are held to 500 ms: stale after 3 s (the floor).
	if timing.Over(t, took, 6*time.Second) {
		t.Fatalf("the badge left live %v after the network stalled, want within 6 s (the metrics panels are stale after 3 s)", took)
	}
	if s := stats(t, p); s.Reconnects != before.Reconnects {
		t.Fatalf("reconnects %d → %d: the socket was declared dead, the badge should have spoken first", before.Reconnects, s.Reconnects)
	}
	proxy.Resume()
	poll.Until(t, 30*time.Second, func() error {
		if state, text := badge(t, p); state != "live" {
			return fmt.Errorf("badge %q %q after the network resumed, want live", state, text)
		}
		return nil
	})
	t.Logf("badge %q %q %v after the network stalled", state, text, took.Round(time.Millisecond))
}

// stallProxy forwards TCP connections to a target and can stall them: while
// stalled, nothing is forwarded either way, and every connection stays
// open, which is what a dead radio link or a stuck middlebox looks like.
type stallProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows
	conns  []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sp := &stallProxy{ln: ln, target: target, open: make(chan struct{})}
	close(sp.open)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			sp.mu.Lock()
			sp.conns = append(sp.conns, c, s)
			sp.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); sp.pipe(s, c) }()
			go func() { defer wg.Done(); sp.pipe(c, s) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		sp.Resume()
		sp.mu.Lock()
		for _, c := range sp.conns {
			c.Close()
		}
		sp.mu.Unlock()
		wg.Wait()
	})
	return sp
}

func (sp *stallProxy) Addr() string { return sp.ln.Addr().String() }

// pipe copies from src to dst, holding each chunk while stalled.
func (sp *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			sp.mu.Lock()
			open := sp.open
			sp.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Stall stops forwarding, keeping the connections open.
func (sp *stallProxy) Stall() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	select {
	case <-sp.open:
		sp.open = make(chan struct{})
	default:
	}
}

// Resume forwards again, the held bytes first.
func (sp *stallProxy) Resume() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	select {
	case <-sp.open:
	default:
		close(sp.open)
	}
}

//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/shared/poll"
)

// kill ends the server with SIGKILL: no drain, no goodbye to its clients.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// TestKilledServerPagesComeBack: three open pages follow the demo feed on
// PostgreSQL; the binary is killed (kill -9) and started again on the same
// address and database. Every page must return to live within its backoff
// bound, by resuming from its cursors: no second snapshot, no break.
func TestKilledServerPagesComeBack(t *testing.T) {
	addr, env := restartable(t)
	srv := startServerEnvAt(t, env, addr)
	b := newBrowser(t)
	var pages []*rod.Page
	for range 3 {
		p := b.MustIncognito().MustPage("")
		if err := p.Navigate(signIn(t, srv.URL, "demo")); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	before := make([]pageStats, len(pages))
	for i, p := range pages {
		waitLive(t, p)
		poll.Until(t, 20*time.Second, func() error {
			if s := stats(t, p); s.Streams["metrics"].Seq < 20 {
				return fmt.Errorf("page %d: metrics at seq %d", i, s.Streams["metrics"].Seq)
			}
			return nil
		})
	}
	srv.kill(t)
	down := time.Now()
	for i, p := range pages {
		poll.Until(t, 20*time.Second, func() error {
			if s := stats(t, p); s.Status == "live" {
				return fmt.Errorf("page %d still says live after the kill", i)
			}
			return nil
		})
		before[i] = stats(t, p)
	}
	startServerEnvAt(t, env, addr)
	up := time.Now()
	// The client's backoff is full jitter under min(30 s, 250 ms × 2^attempt):
	// after a down time d, a page retries within about 2d + 250 ms, so
	// every page is back well within 10 s here.
	const bound = 10 * time.Second
	for i, p := range pages {
		poll.Until(t, bound, func() error {
			s := stats(t, p)
			if s.Status != "live" || s.Streams["metrics"].Seq < before[i].Streams["metrics"].Seq+10 {
				return fmt.Errorf("page %d: %s, metrics at %d (was %d)", i, s.Status, s.Streams["metrics"].Seq, before[i].Streams["metrics"].Seq)
			}
			return nil
		})
		s := stats(t, p)
		if s.Breaks != 0 || s.Snapshots != before[i].Snapshots {
			t.Fatalf("page %d: %d breaks, snapshots %d → %d: it resynced instead of resuming", i, s.Breaks, before[i].Snapshots, s.Snapshots)
		}
		t.Logf("page %d live again %v after the server came back (it was down %v): resumed %d streams, %d reconnect attempts",
			i, time.Since(up).Round(10*time.Millisecond), up.Sub(down).Round(10*time.Millisecond), s.Resumes, s.Reconnects)
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"

	"github.com/telltale/telltale/app/client"
	ingestapi "github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
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
	// No t.Parallel: every page back within its backoff bound (10 s), a
	// latency, measured with the CPU to itself (doc.go).
	addr, env, _ := restartable(t)
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

// ingestKey mints an ingest key for tenant with the binary's own command, as
// an operator does for a server on PostgreSQL.
func ingestKey(t *testing.T, env []string, tenant string) string {
	t.Helper()
	cmd := exec.Command(os.Getenv("TELLTALE_BIN"), "ingest-key", "-tenant", tenant)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("telltale ingest-key: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestKilledServerLosesNothingAcknowledged: a producer publishes through the
// ingest API while ten clients follow the stream; the binary is killed
// (kill -9) mid-stream on PostgreSQL and started again on the same address
// and database while the producer keeps trying. Every event the producer
// got an acknowledgement for is in the events table, and every client holds
// every seq of the stream once, in order, having resumed across the crash
// without a snapshot.
func TestKilledServerLosesNothingAcknowledged(t *testing.T) {
	// No t.Parallel: 200 events acknowledged within 20 s of the restart is
	// ten ingest round trips a second, each a PostgreSQL commit, as in
	// TestKilledServerAggregatesContinue (doc.go).
	addr, env, db := restartable(t)
	srv := startServerEnvAt(t, env, addr, "-demo=false")
	key := ingestKey(t, env, "demo")
	base := "http://" + addr

	// The producer: one event per request, every 3 ms, recording the seqs
	// acknowledged; a refused or failed request is not acknowledged.
	var (
		pmu   sync.Mutex
		acked []uint64
		epoch uint64
	)
	hc := &http.Client{Timeout: 5 * time.Second}
	publish := func(n int) bool {
		body, _ := json.Marshal(ingestapi.Request{Events: []ingestapi.Event{{Stream: "crash", Values: map[string]float64{"n": float64(n)}}}})
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var ack ingestapi.Response
		if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&ack) != nil || len(ack.Events) != 1 {
			return false
		}
		pmu.Lock()
		acked = append(acked, ack.Events[0].Seq)
		epoch = ack.Events[0].Epoch
		pmu.Unlock()
		return true
	}
	if !publish(0) {
		t.Fatal("the first event was not acknowledged")
	}
	ackedCount := func() int {
		pmu.Lock()
		defer pmu.Unlock()
		return len(acked)
	}
	stop, produced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(produced)
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond): // the producer's pace
			}
			publish(n)
		}
	}()

	type follower struct {
		mu                sync.Mutex
		last              uint64
		breaks, snapshots int
	}
	fs := make([]*follower, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range fs {
		f := &follower{}
		fs[i] = f
		c := client.New(client.Config{URL: "ws://" + addr + "/api/v1/ws", Streams: []string{"crash"}, Token: token(t, "demo"),
			Limits: livestate.Limits{Rows: 1, Points: 1},
			Trace: func(_ string, _, seq uint64, snapshot bool) {
				f.mu.Lock()
				defer f.mu.Unlock()
				if snapshot {
					f.snapshots++
				} else if seq != f.last+1 {
					f.breaks++
				}
				f.last = seq
			}})
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	atLeast := func(n uint64) func() error {
		return func() error {
			for i, f := range fs {
				f.mu.Lock()
				last := f.last
				f.mu.Unlock()
				if last < n {
					return fmt.Errorf("client %d at seq %d, want %d", i, last, n)
				}
			}
			return nil
		}
	}
	poll.Until(t, 20*time.Second, atLeast(100))

	srv.kill(t)
	killedAt := ackedCount()
	time.Sleep(time.Second) // the outage, with the producer still trying
	startServerEnvAt(t, env, addr, "-demo=false")
	poll.Until(t, 20*time.Second, func() error {
		if n := ackedCount(); n < killedAt+200 {
			return fmt.Errorf("%d events acknowledged since the restart, want 200", n-killedAt)
		}
		return nil
	})
	close(stop)
	<-produced

	// The stream's head is every event stored, acknowledged or not (a
	// request in flight at the kill may have committed unanswered).
	var head uint64
	if err := db.Pool.QueryRow(context.Background(), `SELECT last_seq FROM telltale.streams WHERE tenant = 'demo' AND stream = 'crash'`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	pmu.Lock()
	ackedSeqs := append([]uint64(nil), acked...)
	ackedEpoch := epoch
	pmu.Unlock()
	var stored int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM telltale.events e JOIN telltale.streams s USING (tenant, stream)
		WHERE e.tenant = 'demo' AND e.stream = 'crash' AND s.epoch = $1 AND e.seq = ANY($2)`, int64(ackedEpoch), ackedSeqs).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != len(ackedSeqs) {
		t.Fatalf("%d of %d acknowledged events are in the table: acknowledged events were lost", stored, len(ackedSeqs))
	}
	poll.Until(t, 20*time.Second, atLeast(head))
	for i, f := range fs {
		f.mu.Lock()
		if f.breaks != 0 || f.snapshots != 1 || f.last != head {
			t.Errorf("client %d: at seq %d of %d, %d breaks, %d snapshots: want every seq once, in order, resumed without a second snapshot", i, f.last, head, f.breaks, f.snapshots)
		}
		f.mu.Unlock()
	}
	t.Logf("%d events acknowledged (%d before the kill), %d stored; 10 clients hold seqs 1–%d with no break and no second snapshot", len(ackedSeqs), killedAt, head, head)
}

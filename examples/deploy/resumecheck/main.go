// Command resumecheck checks that clients behind a load balancer lose
// nothing while the nodes behind it restart or die: it connects -clients
// native clients (the page's client runtime) to URL/api/v1/ws, each
// following every one of -streams streams, publishes -rate batches a second
// (one event per stream) through URL/api/v1/ingest with an ingest key, and
// runs each -step command (a shell command: a restart, a kill) while events
// flow. After each step it waits until every client is live again and holds
// every event published so far, and says how long that took. At the end
// every client must have taken one snapshot per stream (the first), applied
// every seq after it exactly once and in order, received no duplicate, and
// reconnected and resumed at least once when -min-reconnects says so.
//
//	go run ./examples/deploy/resumecheck -url http://127.0.0.1:8080 \
//	  -token "$(telltale token -tenant acme -sub check)" -key "$(telltale ingest-key -tenant acme)" \
//	  -step 'docker-compose restart node1' -step 'docker-compose kill node2'
//
// examples/deploy/compose-check.sh runs it against compose.yaml.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/livestate"
)

type steps []string

func (s *steps) String() string     { return strings.Join(*s, "; ") }
func (s *steps) Set(v string) error { *s = append(*s, v); return nil }

// tally is what one client saw of one stream (guarded by its client's lock:
// Trace runs with it held, and it is read inside Client.Read).
type tally struct {
	snapshots, applied, breaks int
	last                       uint64
}

type checker struct {
	base, key string
	streams   []string
	cs        []*client.Client
	tallies   []map[string]*tally

	mu      sync.Mutex
	head    map[string]uint64 // the highest seq the ingest answers gave
	posts   int
	failed  int
	lastErr string
}

func main() {
	var st steps
	base := flag.String("url", "", "the load balancer's URL, e.g. http://127.0.0.1:8080")
	token := flag.String("token", "", "an operator token of the key's tenant (telltale token)")
	key := flag.String("key", "", "an ingest key (telltale ingest-key)")
	clients := flag.Int("clients", 12, "clients to connect")
	nstreams := flag.Int("streams", 2, "streams each client follows, each published to")
	prefix := flag.String("prefix", "resumecheck", "the streams' name prefix")
	rate := flag.Float64("rate", 20, "batches published per second (one event per stream each)")
	settle := flag.Duration("settle", 3*time.Second, "how long events flow before the first step and after each")
	timeout := flag.Duration("timeout", 90*time.Second, "how long every client may take to be live and hold every event after a step")
	minReconnects := flag.Int("min-reconnects", 1, "reconnects (each resuming every stream) every client must have made by the end")
	flag.Var(&st, "step", "a shell command run while events flow (repeatable, in order)")
	flag.Parse()
	if *base == "" || *token == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "resumecheck: -url, -token and -key are required")
		os.Exit(2)
	}
	c := &checker{base: strings.TrimSuffix(*base, "/"), key: *key, head: map[string]uint64{}}
	for i := range *nstreams {
		c.streams = append(c.streams, fmt.Sprintf("%s-%d", *prefix, i))
	}
	if err := c.run(*token, *clients, *rate, *settle, *timeout, *minReconnects, st); err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
}

func (c *checker) run(token string, n int, rate float64, settle, timeout time.Duration, minReconnects int, st steps) error {
	// One event per stream first, so that each stream exists and the
	// clients' first snapshots have a position.
	if err := c.publish(context.Background(), 0); err != nil {
		return fmt.Errorf("first publish: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/ws"
	var wg sync.WaitGroup
	for range n {
		tl := map[string]*tally{}
		for _, s := range c.streams {
			tl[s] = &tally{}
		}
		c.tallies = append(c.tallies, tl)
		cl := client.New(client.Config{
			URL:     ws,
			Token:   token,
			Streams: c.streams,
			Limits:  livestate.Limits{Rows: 1, Points: 1},
			Trace: func(stream string, _, seq uint64, snapshot bool) {
				t := tl[stream]
				if t == nil {
					return
				}
				if snapshot {
					t.snapshots++
				} else {
					t.applied++
					if seq != t.last+1 {
						t.breaks++
					}
				}
				t.last = seq
			},
		})
		c.cs = append(c.cs, cl)
		wg.Add(1)
		go func() { defer wg.Done(); _ = cl.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	start := time.Now()
	if err := c.wait(timeout); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	fmt.Printf("resumecheck: %d clients live on %d streams after %s\n", n, len(c.streams), time.Since(start).Round(time.Millisecond))

	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for k := 1; ; k++ {
			select {
			case <-pubCtx.Done():
				return
			case <-tick.C:
			}
			if err := c.publish(pubCtx, k); err != nil && pubCtx.Err() == nil {
				c.mu.Lock()
				c.failed++
				c.lastErr = err.Error()
				c.mu.Unlock()
			}
		}
	}()
	sleep(ctx, settle)
	for _, step := range st {
		fmt.Printf("resumecheck: step: %s\n", step)
		t0 := time.Now()
		cmd := exec.Command("sh", "-c", step)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			stopPub()
			return fmt.Errorf("step %q: %w", step, err)
		}
		ran := time.Since(t0)
		if err := c.wait(timeout); err != nil {
			stopPub()
			return fmt.Errorf("after step %q: %w", step, err)
		}
		fmt.Printf("resumecheck: step ran %s; every client live and holding every event %s after it began (%s)\n",
			ran.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), c.counts())
		sleep(ctx, settle)
	}
	stopPub()
	<-pubDone
	// A batch whose answer was lost (its node killed after the commit) may
	// have taken seqs no answer gave: one more batch, answered, makes the
	// heads the streams' real ones.
	if err := c.publishRetrying(ctx, timeout); err != nil {
		return fmt.Errorf("last publish: %w", err)
	}
	if err := c.wait(timeout); err != nil {
		return fmt.Errorf("at the end: %w", err)
	}
	return c.verdict(minReconnects)
}

// publish posts one batch: one event per stream, its value k.
func (c *checker) publish(ctx context.Context, k int) error {
	type event struct {
		Stream string             `json:"stream"`
		Values map[string]float64 `json:"values"`
	}
	var body struct {
		Events []event `json:"events"`
	}
	for _, s := range c.streams {
		body.Events = append(body.Events, event{s, map[string]float64{"k": float64(k)}})
	}
	b, _ := json.Marshal(body)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.base+"/api/v1/ingest", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ingest: %s: %s", resp.Status, bytes.TrimSpace(rb))
	}
	var ans struct {
		Events []struct {
			Stream string `json:"stream"`
			Seq    uint64 `json:"seq"`
		} `json:"events"`
	}
	if err := json.Unmarshal(rb, &ans); err != nil {
		return fmt.Errorf("ingest answer %q: %w", rb, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	for _, e := range ans.Events {
		c.head[e.Stream] = max(c.head[e.Stream], e.Seq)
	}
	return nil
}

func (c *checker) publishRetrying(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.publish(ctx, -1)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// wait polls until every client is live and holds every stream up to the
// highest seq published so far.
func (c *checker) wait(timeout time.Duration) error {
	c.mu.Lock()
	want := make(map[string]uint64, len(c.head))
	for s, q := range c.head {
		want[s] = q
	}
	c.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		behind, notLive := 0, 0
		var example string
		for i, cl := range c.cs {
			cl.Read(func(st map[string]*livestate.Stream, info client.Info) {
				if info.Status != client.Live && info.Status != client.Degraded {
					notLive++
					example = fmt.Sprintf("client %d: %s (%s)", i, info.Status, info.LastError)
				}
				for s, q := range want {
					if x := st[s]; x == nil || x.Seq < q {
						behind++
						return
					}
				}
			})
		}
		if behind == 0 && notLive == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d clients not live (%s), %d behind %v", timeout, notLive, example, behind, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *checker) counts() string {
	reconnects, resumes := 0, 0
	for _, cl := range c.cs {
		cl.Read(func(_ map[string]*livestate.Stream, info client.Info) {
			reconnects += info.Reconnects
			resumes += info.Resumes
		})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("reconnects %d, resumes %d in all; %d batches published, %d refused or failed", reconnects, resumes, c.posts, c.failed)
}

func (c *checker) verdict(minReconnects int) error {
	var errs []error
	c.mu.Lock()
	head := c.head
	fmt.Printf("resumecheck: published %d batches (%d refused or failed; last: %s); heads %v\n", c.posts, c.failed, c.lastErr, head)
	c.mu.Unlock()
	applied, reconnects, resumes := 0, 0, 0
	for i, cl := range c.cs {
		cl.Read(func(st map[string]*livestate.Stream, info client.Info) {
			reconnects += info.Reconnects
			resumes += info.Resumes
			if info.Duplicates != 0 {
				errs = append(errs, fmt.Errorf("client %d received %d duplicates", i, info.Duplicates))
			}
			if info.Reconnects < minReconnects {
				errs = append(errs, fmt.Errorf("client %d reconnected %d times, want at least %d", i, info.Reconnects, minReconnects))
			}
			if info.Resumes < minReconnects*len(c.streams) {
				errs = append(errs, fmt.Errorf("client %d resumed %d streams, want at least %d", i, info.Resumes, minReconnects*len(c.streams)))
			}
			for s, t := range c.tallies[i] {
				applied += t.applied
				if t.snapshots != 1 {
					errs = append(errs, fmt.Errorf("client %d, %s: %d snapshots, want only the first (last resync: %s)", i, s, t.snapshots, info.LastResync))
				}
				if t.breaks != 0 {
					errs = append(errs, fmt.Errorf("client %d, %s: %d gaps or repeats in its seqs", i, s, t.breaks))
				}
				if x := st[s]; x == nil || x.Seq != head[s] || t.last != head[s] {
					errs = append(errs, fmt.Errorf("client %d, %s: at %d, want the head %d", i, s, t.last, head[s]))
				}
			}
		})
	}
	fmt.Printf("resumecheck: %d clients applied %d events after their snapshots; %d reconnects, %d streams resumed\n", len(c.cs), applied, reconnects, resumes)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("PASS every client holds every seq once, in order, with one snapshot per stream, across every step")
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

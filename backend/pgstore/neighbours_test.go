package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/internal/poll"
)

// TestNoisyNeighbour: tenant A posts wide points and big rows at its caps
// (and every 8th request past them) as fast as two producers can while tenant B posts one small event every 20 ms, on both
// stores, wired as the server wires them (HTTP ingest → store → hub; on
// PostgreSQL through the follower). B's post→hub p99 must stay near its quiet
// figure, and the heap must stay bounded. Before per-tenant lanes and bounded
// round-robin reads, A's folding held the single follower and B's p99 on
// PostgreSQL was 5–7 s.
func TestNoisyNeighbour(t *testing.T) {
	// Not parallel: it measures B's latency and the heap.
	for _, store := range []string{"embedded", "postgres"} {
		t.Run(store, func(t *testing.T) {
			h := hub.New(hub.Config{})
			var st ingest.Store
			if store == "embedded" {
				st = memstore.New(memstore.Config{Sink: h.Publish})
			} else {
				db := migrated(t)
				st = runFollower(t, Config{Pool: db.Pool, Sink: h.Publish})
			}
			keys := ingest.StaticKeys{"key-a": "tenant-a", "key-b": "tenant-b"}
			srv := httptest.NewServer(ingest.New(ingest.Config{Store: st, Keys: keys, MaxBytes: 8 << 20, Limits: h})) // as the server wires it
			t.Cleanup(srv.Close)

			quiet := bLatency(t, h, srv.URL, "quiet", 60, nil)
			heap0 := liveHeap()
			var aBytes, aRefused, aLimited atomic.Int64
			noisy := bLatency(t, h, srv.URL, "noisy", 150, func(stop <-chan struct{}) {
				var wg sync.WaitGroup
				for _, shape := range []string{"points", "rows"} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := 0; ; n++ {
							select {
							case <-stop:
								return
							default:
							}
							body := wideEvent(shape, n)
							status, _, err := ingestPost(srv.URL, "key-a", body)
							switch {
							case err != nil:
								t.Error(err)
								return
							case status == http.StatusOK:
								aBytes.Add(int64(len(body)))
							case status == http.StatusUnprocessableEntity:
								aRefused.Add(1) // past a cap: the every-8th request
							case status == http.StatusTooManyRequests:
								aLimited.Add(1) // past its ingest rate: A is told to wait
							default:
								t.Errorf("A: status %d", status)
								return
							}
						}
					}()
				}
				wg.Wait()
			})
			// Fairness must not starve A either: its events reach the hub
			// while B's flow (all of them take longer: folding thousands of
			// new series is A's own cost).
			poll.Until(t, 10*time.Second, func() error {
				for _, s := range []string{"a-points", "a-rows"} {
					if c, _ := h.Cursor("tenant-a", s); c.Seq == 0 {
						return fmt.Errorf("none of A's %s events reached the hub", s)
					}
				}
				return nil
			})
			growth := liveHeap() - heap0
			t.Logf("B post→hub p99: quiet %.1f ms, while A sent %.1f MB: %.1f ms (max %.1f ms); A refused %d past its caps, %d past its rate; heap %+.1f MB (%.1fx what A sent)",
				quiet.P99, float64(aBytes.Load())/(1<<20), noisy.P99, noisy.Max, aRefused.Load(), aLimited.Load(), float64(growth)/(1<<20), float64(growth)/float64(aBytes.Load()))

			// The goal is 2x its quiet p99 (bench/cmd/neighbours measures
			// it). Here B and A share two loaded CI cores under -race, and
			// post→hub counts B's own commit into a PostgreSQL busy with A's
			// inserts (0.2–0.5 s measured), so the test asserts 3x plus 1 s:
			// generous, and still far below the 5–7 s (here: 30 s and more)
			// of one follower reading and folding A before B.
			if bound := 3*quiet.P99 + 1000; noisy.P99 > bound {
				t.Errorf("B's p99 while A ingests: got %.1f ms, want at most %.1f ms (3x its quiet %.1f ms + 1 s)", noisy.P99, bound, quiet.P99)
			}
			if aBytes.Load() < 1<<20 {
				t.Errorf("A sent %d bytes: too little to be a neighbour at all", aBytes.Load())
			}
			// Every 8th of A's requests passes a cap: each is refused (422,
			// any other status failed above) and stores nothing. (A may also
			// pass its ingest rate, 4 MiB/s after a 16 MiB burst here, and be
			// told to wait: 429 is a clear answer too; TestTenantOverItsRateIsRefused
			// holds that rule.)
			if aRefused.Load() == 0 {
				t.Errorf("none of A's requests past its caps was refused")
			}
			if limit := int64(256 << 20); growth > limit { // the caps bound the hub; the embedded store keeps its last 10,000 events
				t.Errorf("heap grew %d MB while A sent %d MB: want at most %d MB", growth>>20, aBytes.Load()>>20, limit>>20)
			}
		})
	}
}

// bLatency posts n events of tenant B, one every 20 ms, while noise runs
// (until told to stop), and returns their post→hub latency.
func bLatency(t *testing.T, h *hub.Hub, url, stream string, n int, noise func(stop <-chan struct{})) latency.Summary {
	t.Helper()
	arr := &arrivals{at: make(map[uint64]time.Time)}
	cancel, err := h.Subscribe("tenant-b", stream, arr)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	// The stream exists and the connections are open before the clock
	// starts: B's steady flow is measured, not its first event.
	const base = 5
	for i := 0; i < base; i++ {
		if status, _, err := ingestPost(url, "key-b", []byte(fmt.Sprintf(`{"events":[{"stream":%q,"values":{"x":0}}]}`, stream))); err != nil || status != http.StatusOK {
			t.Fatalf("B's warm-up post: status %d, err %v", status, err)
		}
	}
	poll.Until(t, 10*time.Second, func() error {
		if c, _ := h.Cursor("tenant-b", stream); c.Seq < base {
			return fmt.Errorf("B's warm-up: hub at %d of %d", c.Seq, base)
		}
		return nil
	})
	stop, noiseDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(noiseDone)
		if noise != nil {
			noise(stop)
		}
	}()
	sent := make([]time.Time, n)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := range sent {
		<-tick.C
		sent[i] = time.Now()
		status, seq, err := ingestPost(url, "key-b", []byte(fmt.Sprintf(`{"events":[{"stream":%q,"values":{"x":%d}}]}`, stream, i)))
		if err != nil || status != http.StatusOK || seq != uint64(base+i+1) {
			t.Fatalf("B's post %d: status %d, seq %d, err %v", i, status, seq, err)
		}
	}
	tick.Stop()
	close(stop)
	<-noiseDone
	var lat []time.Duration
	poll.Until(t, 30*time.Second, func() error {
		arr.mu.Lock()
		defer arr.mu.Unlock()
		lat = lat[:0]
		for i, at := range sent {
			got, ok := arr.at[uint64(base+i+1)]
			if !ok {
				return fmt.Errorf("B's seq %d has not reached the hub", base+i+1)
			}
			lat = append(lat, max(0, got.Sub(at)))
		}
		return nil
	})
	return latency.Summarize(lat)
}

type arrivals struct {
	mu sync.Mutex
	at map[uint64]time.Time
}

func (a *arrivals) Snapshot(string, []byte) {}
func (a *arrivals) Resync(string, string)   {}
func (a *arrivals) Deliver(_ string, first uint64, evs [][]byte) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range evs {
		a.at[first+uint64(i)] = now
	}
}

// wideEvent is one request of A: 2,000 new series of 8 points (~90 KB), or a
// row of 400 text fields (~30 KB) under a new key.
func wideEvent(shape string, n int) []byte {
	// At the default caps (1,000 series per stream, 256 fields per row),
	// and every 8th request past them, which ingest must refuse.
	past := n%8 == 7
	var b bytes.Buffer
	switch shape {
	case "points":
		b.WriteString(`{"events":[{"stream":"a-points","points":{"ts":[1,2,3,4,5,6,7,8],"cols":[`)
		for i := 0; i < 1000; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			name := fmt.Sprintf("s%d", i)
			if past {
				name = fmt.Sprintf("s%d_%d", n, i) // 1,000 more series
			}
			fmt.Fprintf(&b, `{"name":%q,"vals":[1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5]}`, name)
		}
		b.WriteString(`]}}]}`)
	case "rows":
		fields := 250
		if past {
			fields = 300
		}
		fmt.Fprintf(&b, `{"events":[{"stream":"a-rows","row":{"key":"r%d","fields":{`, n)
		for i := 0; i < fields; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"f%d":"value %d of row %d, a realistic text field"`, i, i, n)
		}
		b.WriteString(`}}}]}`)
	}
	return b.Bytes()
}

// ingestPost posts body with key and returns the status and the last
// assigned seq.
func ingestPost(url, key string, body []byte) (int, uint64, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0, nil
	}
	var r ingest.Response
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Events) == 0 {
		return resp.StatusCode, 0, fmt.Errorf("ingest answer %q: %v", raw, err)
	}
	return resp.StatusCode, r.Events[len(r.Events)-1].Seq, nil
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// producerResult is what tenant A's producer process reports on stdout.
type producerResult struct {
	Requests  int64   `json:"requests"`
	Accepted  int64   `json:"accepted"`
	OverCap   int64   `json:"over_cap"`  // 422: past a state cap
	Throttled int64   `json:"throttled"` // 429: past the tenant's ingest rate
	Bytes     int64   `json:"bytes"`     // body bytes accepted
	Waited    float64 `json:"waited_s"`  // time spent honouring Retry-After
	CPUs      float64 `json:"cpu_s"`     // the process's user+system time
}

// producer is tenant A, run as its own process (-role producer) so that its
// body generation, HTTP round trips and retries take no CPU from the
// benchmark's own process, which holds B. By default it behaves as a real
// producer at its limits: after a 429 it waits Retry-After; after a 422 it
// stops inventing names and keeps sending values for the names it already
// has (its caps are full). -hostile ignores both and posts new names again
// at once.
func producer(args []string) error {
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	url := fs.String("url", "", "ingest URL")
	key := fs.String("key", "", "tenant A's ingest key")
	stream := fs.String("stream", "a", "A's stream")
	shape := fs.String("shape", "series", "gauges, series or rows")
	width := fs.Int("width", 1000, "names per event or fields per row")
	points := fs.Int("points", 16, "timestamps per series event")
	workers := fs.Int("workers", 2, "concurrent posting loops")
	duration := fs.Duration("duration", 20*time.Second, "how long to post")
	hostile := fs.Bool("hostile", false, "ignore 429 and 422, post new names again at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		res         producerResult
		mu          sync.Mutex
		gens        []int64 // name generations accepted
		full        atomic.Bool
		nextGen     atomic.Int64
		reuse       atomic.Int64
		waitedNanos atomic.Int64
		firstErr    error
		wg          sync.WaitGroup
		client      = &http.Client{Timeout: 30 * time.Second}
		stopAt      = time.Now().Add(*duration)
		ctx         = context.Background()
		o           = options{width: *width, points: *points}
	)
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				gen := int64(-1)
				if !*hostile && full.Load() {
					mu.Lock()
					if len(gens) > 0 {
						gen = gens[int(reuse.Add(1))%len(gens)]
					}
					mu.Unlock()
				}
				if gen < 0 {
					gen = nextGen.Add(1)
				}
				body := wideBody(*stream, *shape, o, gen)
				ans, retry, err := postA(ctx, client, *url, *key, body)
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				atomic.AddInt64(&res.Requests, 1)
				switch {
				case ans == http.StatusOK:
					atomic.AddInt64(&res.Accepted, 1)
					atomic.AddInt64(&res.Bytes, int64(len(body)))
					mu.Lock()
					if len(gens) < 10000 && !slices.Contains(gens, gen) {
						gens = append(gens, gen)
					}
					mu.Unlock()
				case ans == http.StatusTooManyRequests:
					atomic.AddInt64(&res.Throttled, 1)
					if !*hostile {
						d := min(retry, time.Until(stopAt))
						if d > 0 {
							waitedNanos.Add(int64(d))
							time.Sleep(d) // Retry-After: the server said when
						}
					}
				case ans == http.StatusUnprocessableEntity:
					atomic.AddInt64(&res.OverCap, 1)
					full.Store(true)
					// Two generations checked at once can both be accepted
					// and the fold keep only the first: a recycled one that
					// is refused is not the stream's, drop it.
					mu.Lock()
					for i, g := range gens {
						if g == gen && len(gens) > 1 {
							gens = append(gens[:i], gens[i+1:]...)
							break
						}
					}
					mu.Unlock()
				default:
					mu.Lock()
					firstErr = cmpOr(firstErr, fmt.Errorf("A: answer %d", ans))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	res.Waited = time.Duration(waitedNanos.Load()).Seconds()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.CPUs = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// postA posts one body as A and returns the status and, on 429, the
// Retry-After it was given.
func postA(ctx context.Context, c *http.Client, url, key string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	var retry time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		retry = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retry, nil
}

// wideBody is one A request: one event whose every name is of generation n
// (a new n makes new names), so each new generation grows the stream's
// state up to its caps.
func wideBody(stream, shape string, o options, n int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"events":[{"stream":%q,`, stream)
	switch shape {
	case "gauges":
		b.WriteString(`"values":{`)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"g%d_%d":%d.25`, n, i, i)
		}
		b.WriteString(`}`)
	case "series":
		now := time.Now().UnixMilli()
		b.WriteString(`"points":{"ts":[`)
		for j := 0; j < o.points; j++ {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", now-int64(o.points-j))
		}
		b.WriteString(`],"cols":[`)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"s%d_%d","vals":[`, n, i)
			for j := 0; j < o.points; j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%d.5", j)
			}
			b.WriteString(`]}`)
		}
		b.WriteString(`]}`)
	case "rows":
		fmt.Fprintf(&b, `"row":{"key":"r%d","fields":{`, n)
		for i := 0; i < o.width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"f%d":"value %d of row %d, padded to be a realistic text field"`, i, i, n)
		}
		b.WriteString(`}}`)
	default:
		panic("unknown shape " + shape)
	}
	b.WriteString(`}]}`)
	return b.Bytes()
}

// parseProducer reads the producer's last stdout line.
func parseProducer(out []byte) (producerResult, error) {
	var r producerResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return r, errors.New("the producer printed nothing")
	}
	return r, json.Unmarshal([]byte(lines[len(lines)-1]), &r)
}

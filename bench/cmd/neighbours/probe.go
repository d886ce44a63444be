package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/bench/proc"
)

// sampleCPU reads pid's CPU every window until the returned func is
// called, which stops it and returns the 95th percentile of the windows'
// CPU in percent of one core.
func sampleCPU(pid int, window time.Duration) func() float64 {
	stop := make(chan struct{})
	done := make(chan float64)
	go func() {
		var pcts []float64
		t := time.NewTicker(window)
		defer t.Stop()
		last, at := proc.CPUTicks(pid), time.Now()
		for {
			select {
			case <-stop:
				if len(pcts) == 0 {
					done <- 0
					return
				}
				sort.Float64s(pcts)
				done <- pcts[len(pcts)*95/100]
				return
			case now := <-t.C:
				n := proc.CPUTicks(pid)
				pcts = append(pcts, float64(n-last)/now.Sub(at).Seconds())
				last, at = n, now
			}
		}
	}()
	return func() float64 {
		close(stop)
		return <-done
	}
}

// machineTicks is the busy time of every CPU of the machine (all but idle
// and iowait), in clock ticks: with the processes' own ticks, it shows what
// the rest of the machine (other work on it) took during a phase.
func machineTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var sum int64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			sum += n
		}
	}
	return sum
}

// cpuStall is the kernel's CPU pressure (/proc/pressure/cpu, "some"): the
// time, in µs, during which at least one runnable task waited for a CPU.
func cpuStall() int64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, v, _ := strings.Cut(line, "total=")
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}

// postgresTicks is the CPU time of every process of the local PostgreSQL
// server (they are named postgres), in clock ticks.
func postgresTicks() int64 {
	dirs, _ := os.ReadDir("/proc")
	var sum int64
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			sum += proc.CPUTicks(pid)
		}
	}
	return sum
}

// liveHeap is the server's live heap after a collection, read from its
// pprof listener.
func liveHeap(debugAddr string) int64 {
	res, err := http.Get("http://" + debugAddr + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// waitSampler counts what the database's busy backends wait on, every 50
// ms: where B's commit time goes when A's inserts share the database.
type waitSampler struct {
	mu      sync.Mutex
	counts  map[string]int
	samples int
	walSync int64 // pg_stat_wal.wal_sync over the phase
	walMB   float64
	commits int64 // xact_commit of the database over the phase
}

func sampleWaits(ctx context.Context, dsn string) (*waitSampler, func() *waitSampler, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	w := &waitSampler{counts: map[string]int{}}
	wal := func() (sync int64, bytes float64, commits int64) {
		_ = conn.QueryRow(ctx, `SELECT wal_sync, wal_bytes::float8, (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) FROM pg_stat_wal`).Scan(&sync, &bytes, &commits)
		return
	}
	sync0, bytes0, commits0 := wal()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(sctx, `SELECT coalesce(wait_event_type || ':' || wait_event, 'running'), count(*)
				FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() GROUP BY 1`)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.samples++
			for rows.Next() {
				var k string
				var n int
				if rows.Scan(&k, &n) == nil {
					w.counts[k] += n
				}
			}
			w.mu.Unlock()
			rows.Close()
		}
	}()
	stop := func() *waitSampler {
		cancel()
		<-done
		s, b, c := wal()
		w.walSync, w.walMB, w.commits = s-sync0, (b-bytes0)/(1<<20), c-commits0
		conn.Close(context.Background())
		return w
	}
	return w, stop, nil
}

// top is the most frequent waits as "event avg-backends", most first: the
// average number of the database's backends in each state per sample.
func (w *waitSampler) top(n int) string {
	if w == nil || w.samples == 0 {
		return ""
	}
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range w.counts {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var parts []string
	for i, e := range all {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, float64(e.v)/float64(w.samples)))
	}
	return strings.Join(parts, ", ")
}

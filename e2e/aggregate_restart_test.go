//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	ingestapi "github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// m4Bucket is one bucket of an m4 series: first, the min and max (either
// order), last.
type m4Bucket struct{ first, min, max, last float64 }

// m4Reference computes series a's m4 buckets of width ms from every event of
// tenant's stream in the events table: what a server that never stopped
// would show.
func m4Reference(t *testing.T, db *pgtest.DB, tenant, stream string, width int64) map[int64]m4Bucket {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT body FROM telltale.events WHERE tenant = $1 AND stream = $2 ORDER BY seq`, tenant, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]m4Bucket{}
	for rows.Next() {
		var body struct{ Points wire.Points }
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		a := body.Points.Col("a")
		for i, ts := range body.Points.TS {
			b := ts - ts%width
			v := a[i]
			cur, ok := out[b]
			if !ok {
				cur = m4Bucket{first: v, min: v, max: v}
			}
			cur.min, cur.max, cur.last = math.Min(cur.min, v), math.Max(cur.max, v), v
			out[b] = cur
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// m4Held reads the buckets a client holds of an m4 series: four rows per
// bucket, in time order first, min and max as they happened, last.
func m4Held(st *livestate.Stream, width int64) (map[int64]m4Bucket, error) {
	p := livestate.Aligned(&st.State.Points)
	a := p.Col("a")
	rows := map[int64][]float64{}
	for i, ts := range p.TS {
		b := ts - ts%width
		rows[b] = append(rows[b], a[i])
	}
	out := map[int64]m4Bucket{}
	for b, vs := range rows {
		if len(vs) != 4 {
			return nil, fmt.Errorf("bucket %d holds %d rows, want 4", b, len(vs))
		}
		out[b] = m4Bucket{first: vs[0], min: math.Min(vs[1], vs[2]), max: math.Max(vs[1], vs[2]), last: vs[3]}
	}
	return out, nil
}

// restartDashboards is a spec file with two aggregates of orders: a count
// per region in 1 s buckets, and the revenue today (UTC).
const restartDashboards = `[{"id": "orders", "title": "Orders", "panels": [
  {"id": "per-second", "kind": "timeseries", "title": "Orders per second by region",
   "agg": {"source": "orders", "fn": "count", "group_by": "region", "window": "1s"}, "series": ["eu", "us", "apac"]},
  {"id": "rev-today", "kind": "kpi", "title": "Revenue today",
   "agg": {"source": "orders", "fn": "sum", "field": "total", "window": "today"}}
]}]`

// countsReference is the count of orders per 1 s bucket and region, by SQL
// over the events table.
func countsReference(t *testing.T, db *pgtest.DB) map[[2]string]float64 {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT (extract(epoch FROM date_trunc('second', ts)) * 1000)::bigint, body->'row'->'fields'->>'region', count(*)
		FROM telltale.events WHERE tenant = 'demo' AND stream = 'orders' GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[[2]string]float64{}
	for rows.Next() {
		var (
			ts     int64
			region string
			n      int64
		)
		if err := rows.Scan(&ts, &region, &n); err != nil {
			t.Fatal(err)
		}
		out[[2]string{fmt.Sprint(ts), region}] = float64(n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countsHeld is what a client holds of the count per bucket and region.
func countsHeld(st *livestate.Stream) map[[2]string]float64 {
	p := livestate.Aligned(&st.State.Points)
	out := map[[2]string]float64{}
	for _, c := range p.Cols {
		for i, v := range c.Vals {
			if !math.IsNaN(v) && v != 0 {
				out[[2]string{fmt.Sprint(p.TS[i]), c.Name}] = v
			}
		}
	}
	return out
}

func compile(t *testing.T, d agg.Def) string {
	t.Helper()
	s, err := agg.Compile(d)
	if err != nil {
		t.Fatal(err)
	}
	return s.Stream()
}

// TestKilledServerAggregatesContinue: a producer publishes points and order
// rows while a client follows three derived streams on PostgreSQL (the m4
// series of the points, orders per second by region, revenue today); the
// binary is killed (kill -9) mid-stream and started again. Each rebuilt
// aggregate goes on with exactly the values of a server that never stopped
// (computed here from the events table, by SQL for the counts and sums),
// and the client resumes the derived streams across the crash: no second
// snapshot, no break in their seqs.
func TestKilledServerAggregatesContinue(t *testing.T) {
	// No t.Parallel: 200 events acknowledged within 20 s of the restart is
	// ten ingest round trips a second, each a PostgreSQL commit; a parallel
	// run on a loaded machine managed six (doc.go).
	const (
		width   = 1000
		derived = "m4.1000.cpu"
	)
	addr, env, db := restartable(t)
	file := filepath.Join(t.TempDir(), "dashboards.json")
	if err := os.WriteFile(file, []byte(restartDashboards), 0o644); err != nil {
		t.Fatal(err)
	}
	perSecond := compile(t, agg.Def{Source: "orders", Fn: "count", GroupBy: "region", Window: "1s"})
	revenue := compile(t, agg.Def{Source: "orders", Fn: "sum", Field: "total", Window: "today"})
	streams := []string{derived, perSecond, revenue}
	srv := startServerEnvAt(t, env, addr, "-demo=false", "-dashboards", file)
	key := ingestKey(t, env, "demo")
	base := "http://" + addr

	var (
		pmu   sync.Mutex
		acked int
	)
	hc := &http.Client{Timeout: 5 * time.Second}
	regions := []string{"eu", "us", "apac"}
	n := 0
	publish := func() {
		n++
		body, _ := json.Marshal(ingestapi.Request{Events: []ingestapi.Event{{Stream: "cpu",
			Points: &wire.Points{TS: []int64{time.Now().UnixMilli()}, Cols: []wire.Column{{Name: "a", Vals: []float64{float64(rand.IntN(1000))}}}}},
			{Stream: "orders", Row: &wire.Row{Key: fmt.Sprint("o", n), Fields: map[string]any{"region": regions[rand.IntN(3)], "total": rand.IntN(100) + 1}}}}})
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			pmu.Lock()
			acked++
			pmu.Unlock()
		}
	}
	ackedCount := func() int {
		pmu.Lock()
		defer pmu.Unlock()
		return acked
	}
	publish()
	stop, produced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(produced)
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			publish()
		}
	}()

	var (
		mu                sync.Mutex
		last              = map[string]uint64{}
		breaks, snapshots = map[string]int{}, map[string]int{}
	)
	c := client.New(client.Config{URL: "ws://" + addr + "/api/v1/ws", Streams: streams, Token: token(t, "demo", "cpu", "orders"),
		Limits: livestate.Limits{Points: 100_000},
		Trace: func(stream string, _, seq uint64, snapshot bool) {
			mu.Lock()
			defer mu.Unlock()
			if snapshot {
				snapshots[stream]++
			} else if seq != last[stream]+1 {
				breaks[stream]++
			}
			last[stream] = seq
		}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = c.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	seqAtLeast := func(stream string, n uint64) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if last[stream] < n {
				return fmt.Errorf("client at seq %d of %s, want %d", last[stream], stream, n)
			}
			return nil
		}
	}
	for _, s := range streams {
		poll.Until(t, 20*time.Second, seqAtLeast(s, 5)) // a second or two of updates
	}

	srv.kill(t)
	killedAt := ackedCount()
	time.Sleep(time.Second) // the outage, the producer still trying
	startServerEnvAt(t, env, addr, "-demo=false", "-dashboards", file)
	poll.Until(t, 20*time.Second, func() error {
		if n := ackedCount(); n < killedAt+200 {
			return fmt.Errorf("%d events acknowledged since the restart, want 200", n-killedAt)
		}
		return nil
	})
	close(stop)
	<-produced

	want := m4Reference(t, db, "demo", "cpu", width)
	var got map[int64]m4Bucket
	poll.Until(t, 20*time.Second, func() error {
		var err error
		c.Read(func(streams map[string]*livestate.Stream, _ client.Info) {
			st := streams[derived]
			if st == nil {
				err = fmt.Errorf("the client holds no %s", derived)
				return
			}
			got, err = m4Held(st, width)
		})
		if err != nil {
			return err
		}
		var keys []int64
		for b := range want {
			keys = append(keys, b)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		if len(got) != len(want) {
			return fmt.Errorf("client holds %d buckets, the table makes %d", len(got), len(want))
		}
		for _, b := range keys {
			if got[b] != want[b] {
				return fmt.Errorf("bucket %d: client holds %+v, the table makes %+v", b, got[b], want[b])
			}
		}
		return nil
	})
	wantCounts := countsReference(t, db)
	var wantRevenue float64
	if err := db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum((body->'row'->'fields'->>'total')::float8), 0) FROM telltale.events
		WHERE tenant = 'demo' AND stream = 'orders' AND ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`).Scan(&wantRevenue); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		var err error
		c.Read(func(streams map[string]*livestate.Stream, _ client.Info) {
			ps, rev := streams[perSecond], streams[revenue]
			if ps == nil || rev == nil {
				err = fmt.Errorf("the client lacks a derived stream")
				return
			}
			got := countsHeld(ps)
			for k, w := range wantCounts {
				if got[k] != w {
					err = fmt.Errorf("orders per second at %s in %s: client holds %v, SQL counts %v", k[0], k[1], got[k], w)
					return
				}
			}
			if len(got) != len(wantCounts) {
				err = fmt.Errorf("client holds %d (bucket, region) counts, SQL has %d", len(got), len(wantCounts))
				return
			}
			if v := rev.State.Values[agg.Value]; v != wantRevenue {
				err = fmt.Errorf("revenue today: client holds %v, SQL sums %v", v, wantRevenue)
			}
		})
		return err
	})
	heads := map[string]uint64{}
	for _, s := range streams {
		var head uint64
		if err := db.Pool.QueryRow(context.Background(), `SELECT last_seq FROM telltale.streams WHERE tenant = 'demo' AND stream = $1`, s).Scan(&head); err != nil {
			t.Fatal(err)
		}
		heads[s] = head
		poll.Until(t, 10*time.Second, seqAtLeast(s, head))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range streams {
		if breaks[s] != 0 || snapshots[s] != 1 {
			t.Errorf("client: %d breaks, %d snapshots of %s: want it resumed across the crash without a second snapshot", breaks[s], snapshots[s], s)
		}
	}
	t.Logf("%d requests acknowledged (%d before the kill): %d m4 buckets, %d (bucket, region) counts and revenue %v as the table makes them; derived heads %v, no break, one snapshot each",
		ackedCount(), killedAt, len(want), len(wantCounts), wantRevenue, heads)
}

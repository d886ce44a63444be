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
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	ingestapi "github.com/telltale/telltale/backend/ingest"
	"github.com/telltale/telltale/backend/pgtest"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/poll"
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

// TestKilledServerAggregatesContinue: a producer publishes points while a
// client follows their derived m4 stream on PostgreSQL; the binary is
// killed (kill -9) mid-stream and started again. The rebuilt aggregate goes
// on with exactly the values of a server that never stopped (computed here
// from the events table), and the client resumes the derived stream across
// the crash: no second snapshot, no break in its seqs.
func TestKilledServerAggregatesContinue(t *testing.T) {
	const (
		width   = 1000
		derived = "m4.1000.cpu"
	)
	addr, env, db := restartable(t)
	srv := startServerEnvAt(t, env, addr, "-demo=false")
	key := ingestKey(t, env, "demo")
	base := "http://" + addr

	var (
		pmu   sync.Mutex
		acked int
	)
	hc := &http.Client{Timeout: 5 * time.Second}
	publish := func() {
		body, _ := json.Marshal(ingestapi.Request{Events: []ingestapi.Event{{Stream: "cpu",
			Points: &wire.Points{TS: []int64{time.Now().UnixMilli()}, Cols: []wire.Column{{Name: "a", Vals: []float64{float64(rand.IntN(1000))}}}}}}})
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
		last              uint64
		breaks, snapshots int
	)
	c := client.New(client.Config{URL: "ws://" + addr + "/api/v1/ws", Streams: []string{derived}, Token: token(t, "demo", "cpu"),
		Limits: livestate.Limits{Points: 100_000},
		Trace: func(_ string, _, seq uint64, snapshot bool) {
			mu.Lock()
			defer mu.Unlock()
			if snapshot {
				snapshots++
			} else if seq != last+1 {
				breaks++
			}
			last = seq
		}})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = c.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	seqAtLeast := func(n uint64) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if last < n {
				return fmt.Errorf("client at seq %d of %s, want %d", last, derived, n)
			}
			return nil
		}
	}
	poll.Until(t, 20*time.Second, seqAtLeast(8)) // about 2 s of updates

	srv.kill(t)
	killedAt := ackedCount()
	time.Sleep(time.Second) // the outage, the producer still trying
	startServerEnvAt(t, env, addr, "-demo=false")
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
	var head uint64
	if err := db.Pool.QueryRow(context.Background(), `SELECT last_seq FROM telltale.streams WHERE tenant = 'demo' AND stream = $1`, derived).Scan(&head); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, seqAtLeast(head))
	mu.Lock()
	defer mu.Unlock()
	if breaks != 0 || snapshots != 1 {
		t.Fatalf("client: %d breaks, %d snapshots of %s: want it resumed across the crash without a second snapshot", breaks, snapshots, derived)
	}
	t.Logf("%d points acknowledged (%d before the kill) in %d buckets; the client holds every bucket as the table makes it, seqs 1–%d of %s with no break and one snapshot",
		ackedCount(), killedAt, len(want), head, derived)
}

package httpapi

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/shared/wire"
)

// TestWindowIsDecimatedHistory: a window of stored points comes back
// decimated to the asked width, with every pixel column's min and max of
// every series, only points inside the window, in time order.
func TestWindowIsDecimatedHistory(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	// 2,000 events of 50 points (100,000 points per series, 10 ms apart),
	// with spikes, and a second series missing from every fifth event.
	rng := rand.New(rand.NewPCG(7, 8))
	base := time.Now().Add(-time.Hour).UnixMilli()
	var allTS []int64
	var all [2][]float64
	for e := range 2000 {
		p := wire.Points{TS: make([]int64, 50)}
		a, b := make([]float64, 50), make([]float64, 50)
		for i := range 50 {
			p.TS[i] = base + int64(e*50+i)*10
			a[i] = math.Sin(float64(e*50+i)/300) + rng.NormFloat64()*0.01
			if rng.IntN(500) == 0 {
				a[i] = 40 * (rng.Float64() - 0.5) // a spike decimation must keep
			}
			b[i] = float64(e)
		}
		p.Cols = []wire.Column{{Name: "a", Vals: a}}
		if e%5 != 0 {
			p.Cols = append(p.Cols, wire.Column{Name: "b", Vals: b})
		} else {
			for i := range b {
				b[i] = math.NaN()
			}
		}
		ev := wire.Event{Time: p.TS[49], Points: &p}
		if err := f.store.Append(context.Background(), "acme", "metrics", []wire.Event{ev}); err != nil {
			t.Fatal(err)
		}
		allTS = append(allTS, p.TS...)
		all[0], all[1] = append(all[0], a...), append(all[1], b...)
	}
	from, to := base+123_456, base+876_543
	const width = 300
	status, body := f.get(t, fmt.Sprintf("/api/v1/streams/metrics/window?from=%d&to=%d&width=%d&series=a,b", from, to, width), tok)
	if status != http.StatusOK {
		t.Fatalf("window: %d %s", status, body)
	}
	fr, err := wire.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	p := fr.(wire.Snapshot).State.Points
	if len(p.Cols) != 2 || p.Cols[0].Name != "a" || p.Cols[1].Name != "b" {
		t.Fatalf("series %+v, want a and b", p.Cols)
	}
	span := (to - from + width - 1) / width
	if len(p.TS) == 0 || len(p.TS) > 5*(width+1) {
		t.Fatalf("%d rows for %d pixels", len(p.TS), width)
	}
	for i, ts := range p.TS {
		if ts < from || ts > to || (i > 0 && ts < p.TS[i-1]) {
			t.Fatalf("row %d at %d: outside [%d, %d] or out of order", i, ts, from, to)
		}
	}
	for s := range 2 {
		want, got := extremes(allTS, all[s], from, to, span), extremes(p.TS, p.Cols[s].Vals, from, to, span)
		for c, w := range want {
			if got[c] != w {
				t.Fatalf("series %d column %d: kept %v, want %v", s, c, got[c], w)
			}
		}
	}
	// Bad requests say what is wrong.
	for _, q := range []string{"from=5&to=5&width=10", "from=1&to=9&width=0", "from=1&to=9&width=100000", "to=9&width=10"} {
		if status, b := f.get(t, "/api/v1/streams/metrics/window?"+q, tok); status != http.StatusBadRequest {
			t.Fatalf("%s: got %d %s, want 400", q, status, b)
		}
	}
	// Another tenant's stream of the same name holds nothing of acme's.
	other, _ := f.keys.Mint("globex", "bob", time.Hour, nil, "")
	status, body = f.get(t, fmt.Sprintf("/api/v1/streams/metrics/window?from=%d&to=%d&width=%d", from, to, width), other)
	if status != http.StatusOK {
		t.Fatalf("globex window: %d %s", status, body)
	}
	if fr, err := wire.Decode(body); err != nil || len(fr.(wire.Snapshot).State.Points.TS) != 0 {
		t.Fatalf("globex got acme's points: %v %+v", err, fr)
	}
}

// extremes is each pixel column's [min, max] of the non-NaN values in
// [from, to], columns aligned to absolute time as decimate.Columns does.
func extremes(ts []int64, vs []float64, from, to, span int64) map[int64][2]float64 {
	out := map[int64][2]float64{}
	for i, t := range ts {
		if t < from || t > to || math.IsNaN(vs[i]) {
			continue
		}
		c := t / span
		m, ok := out[c]
		if !ok {
			m = [2]float64{vs[i], vs[i]}
		}
		m[0], m[1] = min(m[0], vs[i]), max(m[1], vs[i])
		out[c] = m
	}
	return out
}

// gatedStore is a memstore whose window reads wait for gate.
type gatedStore struct {
	*memstore.Store
	reading chan struct{}
	gate    chan struct{}
}

func (g gatedStore) ReadWindow(ctx context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error) {
	g.reading <- struct{}{}
	<-g.gate
	return g.Store.ReadWindow(ctx, tenant, stream, from, to, after, limit)
}

// TestWindowRequestsQueueForAReader: a page opening a dashboard asks a
// window of each of its charts at once; past the readers at work the
// others wait for one (within windowQueue) instead of being answered 503.
func TestWindowRequestsQueueForAReader(t *testing.T) {
	t.Parallel()
	f := start(t)
	g := gatedStore{Store: f.store, reading: make(chan struct{}, 16), gate: make(chan struct{})}
	api := New(Config{Verify: f.guard.Verify, Hub: f.hub, History: g})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	t.Cleanup(api.Close)
	tok, _ := f.keys.Mint("acme", "alice", time.Hour, nil, "")
	const charts = maxWindowReads + 3
	codes := make(chan int, charts)
	for range charts {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/streams/orders/window?from=0&to=%d&width=100", srv.URL, time.Now().UnixMilli()), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	for range maxWindowReads {
		<-g.reading // the readers are busy, the others queue
	}
	close(g.gate)
	for range charts {
		if code := <-codes; code != http.StatusOK {
			t.Fatalf("a chart's window: got %d, want 200 after waiting for a reader", code)
		}
	}
}

package wsgate

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/memstore"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// histCount reads a stage histogram's _count for a tenant label from the
// registry's text; a missing series fails the test.
func histCount(t *testing.T, reg *metrics.Registry, stage, tenant string) (count, sum float64) {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	labels := fmt.Sprintf(`{stage=%q,tenant=%q} `, stage, tenant)
	found := 0
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(line, metrics.StageFamily+"_count"+labels); ok {
			count, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			found++
		}
		if v, ok := strings.CutPrefix(line, metrics.StageFamily+"_sum"+labels); ok {
			sum, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			found++
		}
	}
	if found != 2 {
		t.Fatalf("no %s%s in\n%s", metrics.StageFamily, labels, rec.Body.String())
	}
	return count, sum
}

// TestStageHistograms: events published with a producer's stamp 200 ms old
// are counted in commit → hub (with at least that latency) and stored → hub
// at the hub, and in hub → sent when the connection writes them: one
// observation per live event, under the tenant's own label.
func TestStageHistograms(t *testing.T) {
	reg := metrics.New()
	stages := metrics.NewStages(reg, 20)
	h := hub.New(hub.Config{Metrics: reg, Stages: stages})
	st := memstore.New(memstore.Config{Sink: h.Publish})
	g := New(Config{Hub: h, Metrics: reg, Stages: stages})
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		srv.Close()
	})
	r := subscribed(t, "ws"+strings.TrimPrefix(srv.URL, "http"), "orders")
	const n = 20
	created := time.Now().Add(-200 * time.Millisecond).UnixNano()
	for i := range n {
		if err := st.Append(context.Background(), "demo", "orders", []wire.Event{{Created: created, Values: map[string]float64{"n": float64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < n; {
		got += len(r.expect(wire.TypeBatch).(wire.Batch).Events)
	}
	if c, sum := histCount(t, reg, metrics.StageCommitHub, "demo"); c != n || sum < 0.2*n {
		t.Fatalf("commit_hub: got count %v sum %v, want %d and at least %v s", c, sum, n, 0.2*n)
	}
	if c, _ := histCount(t, reg, metrics.StageStoredHub, "demo"); c != n {
		t.Fatalf("stored_hub: got count %v, want %d", c, n)
	}
	// The write's observations follow the write: poll for them.
	poll.Until(t, 5*time.Second, func() error {
		if c, _ := histCount(t, reg, metrics.StageHubSent, "demo"); c != n {
			return fmt.Errorf("hub_sent: got count %v, want %d", c, n)
		}
		return nil
	})
}

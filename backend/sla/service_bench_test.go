package sla

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// pageLike is a busy page's report: 10 panels, every stage, latencies
// spread over a few hundred bins.
func pageLike(rng *rand.Rand, screen string, now time.Time) *wire.Report {
	r := report(screen, now)
	r.Panels = nil
	for p := range 10 {
		pr := wire.PanelReport{Panel: fmt.Sprint("panel-", p), Painted: 200, FreshMs: 10000}
		for _, st := range sla.Stages {
			ms := make([]float64, 200)
			for i := range ms {
				ms[i] = math.Exp(rng.NormFloat64() + 3)
			}
			pr.Stages = append(pr.Stages, hist(st, ms...))
		}
		r.Panels = append(r.Panels, pr)
	}
	return r
}

// BenchmarkTake_10Panels: one page-like report checked and merged.
func BenchmarkTake_10Panels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	reg := metrics.New()
	s := New(Config{Metrics: reg, Stages: metrics.NewStages(reg, 0)}) // as main wires it: reports feed /metrics too
	reports := make([]*wire.Report, 1000)
	for i := range reports {
		reports[i] = pageLike(rng, fmt.Sprint("s", i), t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := reports[i%len(reports)]
		// Each screen's next report follows its last.
		r.From, r.To = t0.Add(time.Duration(i/len(reports))*10*time.Second).UnixNano(), t0.Add(time.Duration(i/len(reports)+1)*10*time.Second).UnixNano()
		if err := s.Take("acme", r, time.Unix(0, r.To)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryWeek_PG_10Panels: a week of one dashboard's rollups (10
// panels × 10,080 minutes, each of 20 screens' reports) answered from
// PostgreSQL: all minutes, then as Run keeps them (hours past a day).
func BenchmarkQueryWeek_PG_10Panels(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	if _, err := pgstore.Migrate(ctx, db.Pool); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	st := NewPGStore(db.Pool)
	end := t0.Truncate(time.Minute)
	start := end.Add(-7 * 24 * time.Hour)
	// One minute's rollups, merged from 20 screens, saved for every minute.
	tmpl := New(Config{})
	for i := range 20 {
		tmpl.Take("acme", pageLike(rng, fmt.Sprint("s", i), t0), t0)
	}
	var minute []*Rollup
	for _, ru := range tmpl.pending {
		minute = append(minute, ru)
	}
	for m := start; m.Before(end); m = m.Add(60 * time.Minute) {
		var batch []*Rollup
		for k := range 60 {
			for _, ru := range minute {
				c := ru.clone()
				c.Minute = m.Add(time.Duration(k) * time.Minute)
				batch = append(batch, c)
			}
		}
		if err := st.Save(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	s := New(Config{Store: st})
	query := func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			a, err := s.Query(ctx, "acme", "d", start, end)
			if err != nil || len(a.Panels) != 10 {
				b.Fatal(err, a)
			}
		}
	}
	b.Run("minutes", query)
	// As Run keeps them: minutes older than a day merged into hours.
	if _, err := st.Compact(ctx, end.Add(-24*time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.Run("hours", query)
}

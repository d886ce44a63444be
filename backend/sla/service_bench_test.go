package sla

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
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

// fanoutLike is the report bench/cmd/fanout -reports sends: 8 panels ×
// every stage × 35–45 bins around the stage's median, and a stale period
// or two on some panels (about 8 KB as a frame).
func fanoutLike(rng *rand.Rand, screen string, from, to time.Time) wire.Report {
	medians := map[string]float64{sla.StageDatabase: 2, sla.StageHub: 0.5, sla.StageSocket: 4, sla.StageNetwork: 20,
		sla.StageApply: 0.8, sla.StagePaint: 8, sla.StageTotal: 40}
	r := wire.Report{Screen: screen, Dashboard: "fanout-board", From: from.UnixNano(), To: to.UnixNano(),
		ClockErr: int64(500 * time.Microsecond), Transport: sla.TransportSocket, Panels: make([]wire.PanelReport, 8)}
	period := to.Sub(from).Milliseconds()
	for i := range r.Panels {
		p := wire.PanelReport{Panel: fmt.Sprintf("panel-%d", i)}
		for range rng.IntN(3) {
			ms := rng.Int64N(period / 4)
			p.Stale = append(p.Stale, wire.StalePeriod{Start: from.UnixNano() + rng.Int64N(int64(to.Sub(from))), Ms: ms, Cause: sla.CauseSilent})
			p.StaleMs += ms
		}
		p.FreshMs = period - p.StaleMs
		for _, stage := range sla.Stages {
			n := 35 + rng.IntN(11)
			h := wire.StageHist{Stage: stage, Index: make([]int32, n), Counts: make([]uint32, n)}
			first := sla.Bin(medians[stage]) - int32(n/2)
			for k := range n {
				h.Index[k], h.Counts[k] = first+int32(k), uint32(1+rng.IntN(20))
				if stage == sla.StageTotal {
					p.Painted += uint64(h.Counts[k])
				}
			}
			p.Stages = append(p.Stages, h)
		}
		r.Panels[i] = p
	}
	return r
}

// BenchmarkDecodeTake_8Panels40Bins is the server's whole path for one
// page's report once the frame is read: decoded into a reused report (as
// the gateway decodes it), checked and merged (Take, with /metrics fed as
// main wires it), for 1,000 screens in turn; "decode" is the decode alone.
// Besides wall time each reports cpu-ns/op, the process's CPU time (GC
// included) per report: on a machine shared with other work it moves far
// less than ns/op.
func BenchmarkDecodeTake_8Panels40Bins(b *testing.B) {
	rng := rand.New(rand.NewPCG(18, 18))
	// The same reports as index and counts (the names without a suffix, as
	// before the packed shape) and packed, as a page sends them.
	indexFrames, packedFrames := make([][]byte, 1000), make([][]byte, 1000)
	indexSize, packedSize := 0, 0
	for i := range indexFrames {
		r := fanoutLike(rng, fmt.Sprintf("screen-%06d", i), t0, t0.Add(10*time.Second))
		f, err := wire.Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		indexFrames[i], indexSize = f, indexSize+len(f)
		if f, err = wire.Encode(packed(&r)); err != nil {
			b.Fatal(err)
		}
		packedFrames[i], packedSize = f, packedSize+len(f)
	}
	frames, size := indexFrames, indexSize
	run := func(b *testing.B, take bool) {
		reg := metrics.New()
		s := New(Config{Metrics: reg, Stages: metrics.NewStages(reg, 0)})
		var rep wire.Report
		b.SetBytes(int64(size / len(frames)))
		b.ReportAllocs()
		b.ResetTimer()
		start := cpuTime()
		for i := range b.N {
			if err := wire.DecodeReport(frames[i%len(frames)], &rep); err != nil {
				b.Fatal(err)
			}
			if !take {
				continue
			}
			// Each screen's next report follows its last.
			round := time.Duration(i / len(frames))
			rep.From, rep.To = t0.Add(round*10*time.Second).UnixNano(), t0.Add((round+1)*10*time.Second).UnixNano()
			if err := s.Take("acme", &rep, time.Unix(0, rep.To)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("decode", func(b *testing.B) { run(b, false) })
	b.Run("decode+take", func(b *testing.B) { run(b, true) })
	b.Run("decode+take-goroutine", func(b *testing.B) { goroutines(b, frames, size) })
	frames, size = packedFrames, packedSize
	b.Run("decode-packed", func(b *testing.B) { run(b, false) }) // the bytes only: Take's check unpacks them
	b.Run("decode+take-packed", func(b *testing.B) { run(b, true) })
	b.Run("decode+take-goroutine-packed", func(b *testing.B) { goroutines(b, frames, size) })
}

// goroutines is BenchmarkDecodeTake_8Panels40Bins as the gateway's poller
// runs it: each report on a goroutine of its own (wsgate's conn.Readable),
// whose stack starts small and grows (copied) when the path outgrows it.
func goroutines(b *testing.B, frames [][]byte, size int) {
	reg := metrics.New()
	s := New(Config{Metrics: reg, Stages: metrics.NewStages(reg, 0)})
	var rep wire.Report
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	done := make(chan error)
	for i := range b.N {
		go func() {
			if err := wire.DecodeReport(frames[i%len(frames)], &rep); err != nil {
				done <- err
				return
			}
			round := time.Duration(i / len(frames))
			rep.From, rep.To = t0.Add(round*10*time.Second).UnixNano(), t0.Add((round+1)*10*time.Second).UnixNano()
			done <- s.Take("acme", &rep, time.Unix(0, rep.To))
		}()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkReportBytes measures the report a page sends, raw and deflated
// as Chromium's permessage-deflate sends it (no context takeover: each
// message on its own), in each shape: the fan-out's (8 panels × 7 stages ×
// 35–45 contiguous bins) and pageLike's (10 panels, latencies spread over a
// few hundred bins, runs of empty bins between). "packed-zeros" packs the
// empty bins as zeros, one byte each, instead of a 0 and the run's length:
// the choice the packed shape made by these numbers.
func BenchmarkReportBytes(b *testing.B) {
	rng := rand.New(rand.NewPCG(18, 18))
	for _, kind := range []string{"fanout", "pagelike"} {
		for _, shape := range []string{"index", "packed", "packed-zeros"} {
			b.Run(kind+"/"+shape, func(b *testing.B) {
				raw, deflated, n := 0, 0, 0
				for range b.N {
					var r wire.Report
					if kind == "fanout" {
						r = fanoutLike(rng, "screen-000001", t0, t0.Add(10*time.Second))
					} else {
						r = *pageLike(rng, "screen-000001", t0)
					}
					switch shape {
					case "packed":
						packed(&r)
					case "packed-zeros":
						packedZeros(&r)
					}
					f, err := wire.Encode(r)
					if err != nil {
						b.Fatal(err)
					}
					raw, deflated, n = raw+len(f), deflated+deflatedLen(b, f), n+1
				}
				b.ReportMetric(float64(raw)/float64(n), "raw-B")
				b.ReportMetric(float64(deflated)/float64(n), "deflated-B")
			})
		}
	}
}

// packedZeros packs r's histograms with every empty bin between two counts
// written as a 0 (what the packed shape does not do: see BenchmarkReportBytes).
func packedZeros(r *wire.Report) {
	for i := range r.Panels {
		for j := range r.Panels[i].Stages {
			h := &r.Panels[i].Stages[j]
			var p []byte
			for k, bin := range h.Index {
				if k > 0 {
					for range bin - h.Index[k-1] - 1 {
						p = append(p, 0)
					}
				}
				p = binary.AppendUvarint(p, uint64(h.Counts[k]))
			}
			h.First, h.Packed, h.Index, h.Counts = h.Index[0], p, nil, nil
		}
	}
}

func deflatedLen(b *testing.B, msg []byte) int {
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.DefaultCompression)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = w.Write(msg)
	_ = w.Flush()
	return z.Len() - 4 // permessage-deflate drops the flush's 00 00 ff ff
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

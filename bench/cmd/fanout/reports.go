package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// Page-like reporting (-reports, issue 18). The project's client runtime
// has no way yet to send a frame of the caller's, so each client gets a
// companion connection with the same token that does what a page's
// reporting does: a sync on every ping (answered with a clock) and a report
// every sla.ReportEvery, at a phase of its own. "idle" opens the companions
// and has them send only pongs: the run to compare "on" with, so that the
// difference is the reporting, not the extra connections.

type reportStats struct {
	reports, syncs, clocks, errs atomic.Int64
	bytes                        atomic.Int64
	lastErr                      atomic.Pointer[string]
}

// startReporters connects n companions and runs them until ctx ends; wg
// waits for them. indexShape has them send each histogram as index and
// counts, as pages did before the packed shape (wire.StageHist): the runs
// before it sent that. deflate has them negotiate permessage-deflate and
// compress every report (and nothing under 128 bytes: pongs, syncs).
func startReporters(ctx context.Context, addr, token string, n int, send, deflate, indexShape bool, st *reportStats, wg *sync.WaitGroup) error {
	var opts *websocket.DialOptions
	if deflate {
		opts = &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover}
	}
	for i := range n {
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/v1/ws", opts)
		if err != nil {
			return fmt.Errorf("reporter %d: %w", i, err)
		}
		rep := &reporter{ws: ws, st: st, send: send, indexShape: indexShape, rng: rand.New(rand.NewPCG(uint64(i), 18)), screen: fmt.Sprintf("screen-%06d", i)}
		if err := rep.write(ctx, wire.Hello{Token: token}); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ws.CloseNow()
			rep.run(ctx)
		}()
	}
	return nil
}

type reporter struct {
	ws         *websocket.Conn
	st         *reportStats
	send       bool
	indexShape bool // send index and counts, not packed (-report-shape index)
	rng        *rand.Rand
	screen     string
}

func (r *reporter) write(ctx context.Context, f wire.ClientFrame) error {
	b, err := wire.EncodeClient(f)
	if err != nil {
		return err
	}
	if _, ok := f.(wire.Report); ok {
		r.st.bytes.Add(int64(len(b)))
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.ws.Write(wctx, websocket.MessageBinary, b)
}

func (r *reporter) run(ctx context.Context) {
	if r.send {
		go r.reportEvery(ctx)
	}
	var dec wire.ServerDecoder
	for {
		_, b, err := r.ws.Read(ctx)
		if err != nil {
			return
		}
		f, err := dec.Decode(b)
		if err != nil {
			continue
		}
		switch f := f.(type) {
		case wire.Ping:
			if r.write(ctx, wire.Pong{Time: f.Time}) != nil {
				return
			}
			if r.send {
				if r.write(ctx, wire.Sync{Client: time.Now().UnixNano()}) != nil {
					return
				}
				r.st.syncs.Add(1)
			}
		case wire.Clock:
			r.st.clocks.Add(1)
		case wire.Error:
			r.st.errs.Add(1)
			msg := f.Code.String() + ": " + f.Message
			r.st.lastErr.Store(&msg)
		}
	}
}

// reportEvery sends a report every sla.ReportEvery from a random phase,
// each covering the period since the last, as a page does.
func (r *reporter) reportEvery(ctx context.Context) {
	phase := time.Duration(r.rng.Int64N(int64(sla.ReportEvery)))
	t := time.NewTimer(phase)
	defer t.Stop()
	from := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if r.write(ctx, r.report(from, now)) != nil {
			return
		}
		r.st.reports.Add(1)
		from = now
		t.Reset(sla.ReportEvery)
	}
}

// stageMs is a plausible median per stage, for the bins around it.
var stageMs = map[string]float64{sla.StageDatabase: 2, sla.StageHub: 0.5, sla.StageSocket: 4, sla.StageNetwork: 20,
	sla.StageApply: 0.8, sla.StagePaint: 8, sla.StageTotal: 40}

// report is a dashboard's worth: 8 panels × every stage × about 40 bins
// (35–45) around the stage's median, and a stale period or two on some
// panels.
func (r *reporter) report(from, to time.Time) wire.Report {
	rep := wire.Report{Screen: r.screen, Dashboard: "fanout-board", From: from.UnixNano(), To: to.UnixNano(),
		ClockErr: int64(500 * time.Microsecond), Transport: sla.TransportSocket, Panels: make([]wire.PanelReport, 8)}
	period := to.Sub(from).Milliseconds()
	for i := range rep.Panels {
		p := wire.PanelReport{Panel: fmt.Sprintf("panel-%d", i)}
		for range r.rng.IntN(3) {
			ms := r.rng.Int64N(max(period/4, 1))
			p.Stale = append(p.Stale, wire.StalePeriod{Start: from.UnixNano() + r.rng.Int64N(max(int64(to.Sub(from)), 1)), Ms: ms,
				Cause: []string{sla.CauseSilent, sla.CauseClientLag, sla.CauseDisconnect}[r.rng.IntN(3)]})
			p.StaleMs += ms
		}
		p.FreshMs = max(period-p.StaleMs, 0)
		for _, stage := range sla.Stages {
			n := 35 + r.rng.IntN(11)
			h := wire.StageHist{Stage: stage, Index: make([]int32, n), Counts: make([]uint32, n)}
			first := sla.Bin(stageMs[stage]) - int32(n/2)
			for k := range n {
				h.Index[k], h.Counts[k] = first+int32(k), uint32(1+r.rng.IntN(20))
				if stage == sla.StageTotal {
					p.Painted += uint64(h.Counts[k])
				}
			}
			if !r.indexShape { // as a page sends it (app/client/meter.go)
				h.First, h.Packed = wire.PackBins(nil, h.Index, h.Counts)
				h.Index, h.Counts = nil, nil
			}
			p.Stages = append(p.Stages, h)
		}
		rep.Panels[i] = p
	}
	return rep
}

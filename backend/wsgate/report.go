package wsgate

import (
	"sync"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// The pages' side of issue 18 on the socket: a sync is answered with the
// server's clock at once, so the page can put its stamps on the server's
// clock; a report goes to Config.Reports under the tenant of the
// connection's token (c.tenant, set by the verified hello), never a tenant
// the report names. Both frames come at most Config.SLARate per second: a
// client past it is refused, and its refusals count toward maxBadFrames.

// slaAllow takes one of the connection's sync/report tokens (GCRA on the
// gateway's monotonic clock); false refuses the frame with
// CodeRateLimited. Only the connection's reader calls it.
func (c *conn) slaAllow(typ wire.Type) bool {
	if c.g.cfg.SLARate < 0 {
		return true
	}
	now := c.g.now()
	interval := int64(float64(time.Second) / c.g.cfg.SLARate)
	burst := int64(c.g.cfg.SLABurst) * interval
	// slaDue is when the bucket is empty: a frame may come while it is
	// less than burst ahead of now.
	due := max(c.slaDue, now)
	if due+interval-now > burst {
		c.g.m.slaLimited.Inc()
		c.refuse(&wire.Error{Code: wire.CodeRateLimited, Message: string(typ) + " frames come faster than the server takes them"})
		return false
	}
	c.slaDue = due + interval
	return true
}

// sync answers a page's clock request through the outbox, as every other
// frame: a paced connection's answer may wait up to its coalescing window,
// which only widens the round trip the page measures (its error bound
// covers the wait; the page keeps the sample with the smallest).
func (c *conn) sync(f wire.Sync) {
	if !c.slaAllow(wire.TypeSync) {
		return
	}
	if b, err := wire.Encode(wire.Clock{Client: f.Client, Server: time.Now().UnixNano()}); err == nil {
		c.out.push(b)
	}
}

// report hands a page's report to the sink. A refusal other than the rate
// limit is answered with an error frame that does not count toward closing
// the connection: an honest page on a server without a sink, or one whose
// clock estimate went wrong, must keep its data flowing.
//
// f is from reportPool (decodeClient): it goes back there once the sink
// has taken it, so the sink must not keep f or its slices (sla.Sink says so).
func (c *conn) report(f *wire.Report) {
	defer putReport(f)
	if !c.slaAllow(wire.TypeReport) {
		c.g.m.reportsRefused.Inc()
		return
	}
	sink := c.g.cfg.Reports
	if sink == nil {
		c.g.m.reportsRefused.Inc()
		c.tell(wire.Error{Code: wire.CodeReportsOff, Message: "this server does not take freshness reports"})
		return
	}
	if err := sink.Take(c.tenant, f, time.Now()); err != nil {
		c.g.m.reportsRefused.Inc()
		c.tell(wire.Error{Code: wire.CodeBadReport, Message: "report refused: " + err.Error()})
		return
	}
	c.g.m.reportsTaken.Inc()
}

// tell queues an error frame that, unlike refuse, does not count toward
// closing the connection.
func (c *conn) tell(e wire.Error) {
	if b, err := wire.Encode(e); err == nil {
		c.out.push(b)
	}
}

// reportPool holds decoded reports for reuse: a report decoded into one
// that held another allocates nothing (wire.DecodeReport), where Decode
// allocates 131 times for the fan-out benchmark's 8-panel report, most of
// reporting's share of the server's GC. A pool, not a report per
// connection: a page reports every 10 s, and an idle connection keeps no
// 20 KB of bins between its reports.
var reportPool = sync.Pool{New: func() any { return new(wire.Report) }}

// maxPooledBins bounds the bins a pooled report may keep (4 bytes each in
// Index and in Counts): a report at every cap of package sla holds 458,752
// (3.6 MB), which must not stay in the pool after its one frame.
const maxPooledBins = 16 << 10

// decodeClient is wire.Decode for the reader: a report is decoded into a
// pooled *wire.Report (wire.DecodeClient: in one pass over the frame),
// which conn.report puts back.
//
// Not inlined: inlined into conn.handle (a larger frame on the reader's
// short stack), TestStuckClientsDoNotHoldUpCompression failed every time
// under -race (3 of 3; none blocked writes seen in 20 s) and passes with it
// kept apart (3 of 3) and without -race either way. The cause was not
// found: see bench/results/2026-12-07-report-cpu.md.
//
//go:noinline
func decodeClient(b []byte) (wire.Frame, error) {
	r := reportPool.Get().(*wire.Report)
	f, err := wire.DecodeClient(b, r)
	if _, ok := f.(*wire.Report); !ok || err != nil {
		putReport(r)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// putReport returns r to reportPool unless it holds more bins than
// maxPooledBins.
func putReport(r *wire.Report) {
	bins := 0
	for _, p := range r.Panels[:cap(r.Panels)] {
		for _, h := range p.Stages[:cap(p.Stages)] {
			bins += max(cap(h.Index), cap(h.Counts)) + cap(h.Packed)/8 // a bin's index and count take 8 bytes
		}
	}
	if bins <= maxPooledBins {
		reportPool.Put(r)
	}
}

package wsgate

import (
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
func (c *conn) report(f *wire.Report) {
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

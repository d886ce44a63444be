package hub

import (
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Limits returns the state caps of a tenant's streams: the tenant's
// overrides (Config.TenantLimits) over Config.Limits, zeros as defaults.
// The hub's tables are ragged: a new series costs its own samples, not NaN
// for the whole kept window; snapshots are aligned when encoded.
func (h *Hub) Limits(tenant string) livestate.Limits {
	l := h.cfg.TenantLimits[tenant].Over(h.cfg.Limits).Effective()
	l.Ragged = true
	return l
}

// Check reports the first cap of the tenant that evs, all of stream name,
// would pass if folded now into what the hub holds: a *livestate.LimitError,
// or nil. Ingest calls it before storing anything. It creates nothing: a
// stream the hub does not hold is checked as empty.
//
// Two batches checked at once can together pass a cap; the fold then trims
// (see trimmed), so the check is the clear answer, not the bound.
func (h *Hub) Check(tenant, name string, evs []wire.Event) error {
	lim := h.Limits(tenant)
	var err *livestate.LimitError
	if s := h.stream(key{tenant, name}, false); s == nil {
		err = livestate.Check(&wire.State{}, name, evs, lim)
	} else {
		s.mu.Lock()
		err = livestate.Check(&s.st.State, name, evs, lim)
		s.mu.Unlock()
	}
	if err == nil {
		return nil
	}
	return err
}

// trimmed counts and logs an event the fold cut to the stream's caps: it
// reached the hub by a path ingest does not check (PostgreSQL's publish(),
// a watched table) or raced another batch past the check. What was kept is
// what subscribers get (livestate.Stream.Apply replaced the event), so their
// state stays the hub's: no hole, no resync needed.
//
// It logs the 1st, 2nd, 4th, 8th… trim of the server's life, so a producer
// that keeps publishing past its caps by SQL cannot flood the log; the
// counter has them all.
func (h *Hub) trimmed(tenant string, ev *wire.Event, cut *livestate.LimitError) {
	c := h.cfg.Metrics.Counter("telltale_hub_trimmed_events_total", "events cut to a stream's caps when folded (series, gauge names, row size)")
	c.Inc()
	if n := c.Load(); n&(n-1) == 0 {
		h.log.Warn("hub event trimmed to the stream's caps", "tenant", tenant, "stream", ev.Stream, "seq", ev.Seq,
			"cap", cut.Cap, "limit", cut.Limit, "would_be", cut.Got, "trimmed_so_far", n)
	}
}

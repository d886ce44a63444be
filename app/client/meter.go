package client

import (
	"sync"
	"time"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// Meter measures what the operator sees (issue 18): per panel, how long each
// event took along its path (shared/sla's stages, from the server's stamps
// to the animation frame that painted it), how many events were painted,
// and how long the panel was fresh or stale. Report empties it into a
// wire.Report every sla.ReportEvery.
//
// The client stamps events as they arrive and are applied (received); the
// page says when a panel painted up to a stream position (Painted) and
// whether it is fresh (Fresh). Stamps are on the page's own clock (Now) and
// put on the server's by the clock estimate the client keeps from Sync
// round trips; without an estimate the stages that cross the network are
// left out.
//
// The hot path costs no allocation per event: an event's stamps go into a
// per-stream slice reused once painted, and histograms grow only when a
// latency falls in a bin never seen before (at most sla.MaxBins per stage).
type Meter struct {
	now func() int64

	mu      sync.Mutex
	clock   clockEstimator
	streams map[string]*pendingStream
	panels  []*panelMeter // in the dashboard's order
	byID    map[string]*panelMeter
	from    int64 // the report period's start, local ns
	lastTo  int64 // the last report's To (server clock): the next starts there
	hidden  bool  // the page is hidden (SetVisible): nothing is measured
}

// NewMeter returns a meter on clock now (local Unix nanoseconds, which
// must not be stepped: nil means the wall clock at the call carried forward
// by the monotonic clock).
func NewMeter(now func() int64) *Meter {
	if now == nil {
		now = monoClock()
	}
	m := &Meter{now: now, streams: map[string]*pendingStream{}, byID: map[string]*panelMeter{}}
	m.from = now()
	return m
}

// Now is the meter's clock: local Unix nanoseconds.
func (m *Meter) Now() int64 { return m.now() }

// maxPending bounds the stamps a stream keeps for events not yet painted by
// every panel that shows it (a chart scrolled out of view paints nothing):
// past it the oldest half is dropped, and those events count for no panel
// that had not painted them.
const maxPending = 4096

// stamp is one event's path so far: the server's stamps (server clock) and
// the page's (local clock).
type stamp struct {
	seq                             uint64
	created, stored, ingested, sent int64
	received, applied               int64
}

type pendingStream struct {
	epoch  uint64
	stamps []stamp
	panels []*panelMeter
}

// panelMeter is one panel's measures in the current report period.
type panelMeter struct {
	id, stream string
	epoch, seq uint64 // the position it last painted
	painted    uint64
	stages     [7]hist // by index in sla.Stages
	fresh      int64   // ns in the period
	staleNs    int64
	// The state since the last Fresh call, and when that was (local ns;
	// zero before the first): the time until the next call counts for it.
	state     int8 // 0 no data yet, 1 fresh, 2 stale
	cause     string
	stateAt   int64
	openStale int64 // local start of the stale period under way; zero if none
	openCause string
	stale     []wire.StalePeriod // closed in this period (Start local until Report)
}

const (
	stateUnknown = iota
	stateFresh
	stateStale
)

// hist is one stage's histogram: counts by sla.Bin index, ascending.
type hist struct {
	index  []int32
	counts []uint32
	last   int // the bin added to last: latencies in a row often share one
}

func (h *hist) add(ms float64) {
	b := sla.Bin(ms)
	i := h.last
	if i >= len(h.index) || h.index[i] != b {
		i = 0
		for hi := len(h.index); i < hi; { // the first bin at or past b
			if m := int(uint(i+hi) >> 1); h.index[m] < b {
				i = m + 1
			} else {
				hi = m
			}
		}
		h.last = i
	}
	if i < len(h.index) && h.index[i] == b {
		if h.counts[i] < ^uint32(0) {
			h.counts[i]++
		}
		return
	}
	h.index = append(h.index, 0)
	h.counts = append(h.counts, 0)
	copy(h.index[i+1:], h.index[i:])
	copy(h.counts[i+1:], h.counts[i:])
	h.index[i], h.counts[i] = b, 1
}

// A report's size, estimated high for the msgpack frame and for the JSON
// the page posts: the server refuses a report over sla.MaxReportBytes, and
// a page with many busy panels can fill one (64 panels × 7 stages × 100
// bins is 45,000 bins).
const (
	reportBudget = sla.MaxReportBytes - 2*sla.MaxNameBytes - 1024 // the screen and dashboard ids, the other fields
	panelBytes   = sla.MaxNameBytes + 128
	staleBytes   = 80
	stageBytes   = 64
	binBytes     = 18 // an int32 and a uint32 in JSON, with commas
)

// PanelStream names a panel and the stream it shows.
type PanelStream struct{ Panel, Stream string }

// SetPanels sets the panels measured (a new dashboard version replaces
// them). A panel kept keeps its measures.
func (m *Meter) SetPanels(panels []PanelStream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.byID
	m.byID, m.panels = map[string]*panelMeter{}, m.panels[:0]
	for _, ps := range m.streams {
		ps.panels = ps.panels[:0]
	}
	for _, p := range panels {
		if _, dup := m.byID[p.Panel]; dup || len(m.panels) == sla.MaxPanels || len(p.Panel) > sla.MaxNameBytes {
			continue
		}
		pm := old[p.Panel]
		if pm == nil || pm.stream != p.Stream {
			pm = &panelMeter{id: p.Panel, stream: p.Stream}
		}
		m.byID[p.Panel] = pm
		m.panels = append(m.panels, pm)
		ps := m.streams[p.Stream]
		if ps == nil {
			ps = &pendingStream{}
			m.streams[p.Stream] = ps
		}
		ps.panels = append(ps.panels, pm)
	}
	for name, ps := range m.streams {
		if len(ps.panels) == 0 {
			delete(m.streams, name)
		}
	}
}

// sync takes one clock sample: a Sync sent at local time sent, answered
// at server time server, arriving at local time arrival.
func (m *Meter) sync(sent, server, arrival int64) {
	m.mu.Lock()
	m.clock.sample(sent, server, arrival)
	m.mu.Unlock()
}

// Clock is the clock estimate: the offset (server − local, ns) and its
// error bound; ok is false while there is none.
func (m *Meter) Clock() (offset, errBound int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clock.estimate()
}

// received stamps the events of a batch of stream (epoch) applied up to
// seq upTo: they arrived at local time recv and were applied at applied.
func (m *Meter) received(stream string, epoch uint64, evs []wire.Event, sent int64, upTo uint64, recv, applied int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.streams[stream]
	if ps == nil || m.hidden {
		return // no panel shows it, or nobody sees it
	}
	if epoch != ps.epoch {
		ps.epoch, ps.stamps = epoch, ps.stamps[:0]
	}
	last := uint64(0)
	if n := len(ps.stamps); n > 0 {
		last = ps.stamps[n-1].seq
	}
	for i := range evs {
		e := &evs[i]
		if e.Seq <= last || e.Seq > upTo {
			continue // a duplicate, or past a gap: not applied
		}
		if len(ps.stamps) == maxPending {
			n := copy(ps.stamps, ps.stamps[maxPending/2:])
			ps.stamps = ps.stamps[:n]
		}
		ps.stamps = append(ps.stamps, stamp{e.Seq, e.Created, e.Stored, e.Ingested, sent, recv, applied})
		last = e.Seq
	}
}

// Paint is one panel drawn up to a stream position.
type Paint struct {
	Panel      string
	Epoch, Seq uint64
}

// Painted records that the panels were on screen at local time at, drawn
// up to the positions given: every event each newly shows is measured for
// it, stage by stage.
func (m *Meter) Painted(paints []Paint, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	offset, _, clockOK := m.clock.estimate()
	for _, p := range paints {
		pm := m.byID[p.Panel]
		if pm == nil {
			continue
		}
		ps := m.streams[pm.stream]
		if pm.epoch != p.Epoch {
			pm.epoch, pm.seq = p.Epoch, 0
		}
		if ps == nil || ps.epoch != p.Epoch || p.Seq <= pm.seq {
			pm.seq = max(pm.seq, p.Seq)
			continue
		}
		i := past(ps.stamps, pm.seq)
		for ; i < len(ps.stamps) && ps.stamps[i].seq <= p.Seq; i++ {
			pm.measure(&ps.stamps[i], at, offset, clockOK)
		}
		pm.seq = p.Seq
		ps.trim()
	}
}

// trim drops the stamps every panel of the stream has painted.
func (ps *pendingStream) trim() {
	low := ^uint64(0)
	for _, pm := range ps.panels {
		if pm.epoch != ps.epoch {
			return // a panel yet to paint this epoch
		}
		low = min(low, pm.seq)
	}
	i := past(ps.stamps, low)
	if i > 0 {
		n := copy(ps.stamps, ps.stamps[i:])
		ps.stamps = ps.stamps[:n]
	}
}

// Stage indexes, in sla.Stages' order.
const (
	stageDatabase = iota
	stageHub
	stageSocket
	stageNetwork
	stageApply
	stagePaint
	stageTotal
)

const nsPerMs = 1e6

// measure adds one event painted at local time at to the panel's stages.
func (pm *panelMeter) measure(s *stamp, at, offset int64, clockOK bool) {
	pm.painted++
	if s.created > 0 && s.stored > 0 {
		pm.stages[stageDatabase].add(float64(s.stored-s.created) / nsPerMs)
	}
	if s.stored > 0 && s.ingested > 0 {
		pm.stages[stageHub].add(float64(s.ingested-s.stored) / nsPerMs)
	}
	if s.ingested > 0 && s.sent > 0 {
		pm.stages[stageSocket].add(float64(s.sent-s.ingested) / nsPerMs)
	}
	if clockOK && s.sent > 0 {
		pm.stages[stageNetwork].add(float64(s.received+offset-s.sent) / nsPerMs)
	}
	pm.stages[stageApply].add(float64(s.applied-s.received) / nsPerMs)
	pm.stages[stagePaint].add(float64(at-s.applied) / nsPerMs)
	if clockOK && s.created > 0 {
		pm.stages[stageTotal].add(float64(at+offset-s.created) / nsPerMs)
	}
}

// Fresh says whether a panel shows data (known) and whether it is stale,
// and why (an sla.Cause*), at local time at: the time since the panel's
// previous call counts as what that call said.
func (m *Meter) Fresh(panel string, known, stale bool, cause string, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.byID[panel]
	if pm == nil || m.hidden {
		return
	}
	pm.account(at)
	state := int8(stateUnknown)
	switch {
	case known && stale:
		state = stateStale
	case known:
		state = stateFresh
	}
	if pm.openStale != 0 && (state != stateStale || cause != pm.openCause) {
		pm.closeStale(at)
	}
	if state == stateStale && pm.openStale == 0 {
		pm.openStale, pm.openCause = at, cause
	}
	pm.state, pm.cause = state, cause
}

// account adds the time since the last Fresh call to the state it said.
func (pm *panelMeter) account(at int64) {
	if pm.stateAt != 0 && at > pm.stateAt {
		switch pm.state {
		case stateFresh:
			pm.fresh += at - pm.stateAt
		case stateStale:
			pm.staleNs += at - pm.stateAt
		}
	}
	pm.stateAt = at
}

// closeStale ends the stale period under way at local time at.
func (pm *panelMeter) closeStale(at int64) {
	if len(pm.stale) < sla.MaxStalePeriods-1 { // one place kept for the period under way
		pm.stale = append(pm.stale, wire.StalePeriod{Start: pm.openStale, Ms: (at - pm.openStale) / nsPerMs, Cause: pm.openCause})
	}
	pm.openStale, pm.openCause = 0, ""
}

// Report fills r with the period since the last report, up to local time
// at, and starts the next period. Times are put on the server's clock with
// the current estimate (ClockErr says how good it is; zero: none, and the
// stages crossing the network are absent). Panels that painted nothing and
// accounted no time are left out. It reports whether r has any panel.
func (m *Meter) Report(r *wire.Report, at int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	offset, errBound, ok := m.clock.estimate()
	if !ok {
		offset, errBound = 0, 0
	}
	r.From, r.To, r.ClockErr = m.from+offset, at+offset, errBound
	// A new estimate may have moved the clock back a little since the last
	// report: reports of a screen never overlap.
	r.From = max(r.From, m.lastTo)
	r.To = max(r.To, r.From+1)
	if errBound == 0 && ok {
		r.ClockErr = 1 // an estimate, however exact: not "none"
	}
	// Within a byte budget: every panel's counts (reserved first), then,
	// panel by panel, its stale periods, its event → paint histogram and
	// its other stages; what does not fit is dropped (stale time still
	// counts in StaleMs).
	budget := reportBudget - panelBytes*len(m.panels)
	r.Panels = r.Panels[:0]
	for _, pm := range m.panels {
		pm.account(at)
		pr := wire.PanelReport{Panel: pm.id, Painted: pm.painted, FreshMs: pm.fresh / nsPerMs, StaleMs: pm.staleNs / nsPerMs}
		if pm.openStale != 0 {
			pm.stale = append(pm.stale, wire.StalePeriod{Start: pm.openStale, Ms: (at - pm.openStale) / nsPerMs, Cause: pm.openCause})
		}
		for _, sp := range pm.stale {
			if budget >= staleBytes {
				budget -= staleBytes
				sp.Start += offset
				pr.Stale = append(pr.Stale, sp)
			}
		}
		total := false
		for k := range pm.stages {
			i := (k + stageTotal) % len(pm.stages) // total first
			h := &pm.stages[i]
			if n := stageBytes + binBytes*len(h.index); len(h.index) > 0 && budget >= n {
				budget -= n
				total = total || i == stageTotal
				first, packed := wire.PackBins(nil, h.index, h.counts) // the packed shape (wire.StageHist): a byte a bin, mostly
				pr.Stages = append(pr.Stages, wire.StageHist{Stage: sla.Stages[i], First: first, Packed: packed})
			}
			h.index, h.counts, h.last = h.index[:0], h.counts[:0], 0
		}
		if total && len(pr.Stages) > 1 { // total back to its place, last
			pr.Stages = append(pr.Stages[1:], pr.Stages[0])
		}
		pm.painted, pm.fresh, pm.staleNs, pm.stale = 0, 0, 0, pm.stale[:0]
		if pr.Painted > 0 || pr.FreshMs > 0 || pr.StaleMs > 0 || len(pr.Stale) > 0 {
			r.Panels = append(r.Panels, pr)
		}
	}
	m.from, m.lastTo = at, r.To
	return len(r.Panels) > 0
}

// behindAfter is how long an event may wait for its panel's paint before
// a stale panel is said to be behind (sla.CauseClientLag), not silent.
const behindAfter = time.Second

// Behind reports whether the panel has events that arrived more than
// behindAfter before local time at and that it has not painted.
func (m *Meter) Behind(panel string, at int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.byID[panel]
	if pm == nil {
		return false
	}
	ps := m.streams[pm.stream]
	if ps == nil || ps.epoch != pm.epoch && pm.epoch != 0 {
		return false
	}
	i := past(ps.stamps, pm.seq)
	return i < len(ps.stamps) && at-ps.stamps[i].received > int64(behindAfter)
}

// SetVisible says whether the page is visible, at local time at. A hidden
// page paints nothing (no animation frames), so what arrives meanwhile is
// not measured (it would count the time nobody looked as latency), and its
// time is neither fresh nor stale: the stamps waiting are dropped, and the
// panels' states end at at.
func (m *Meter) SetVisible(visible bool, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hidden == !visible {
		return
	}
	m.hidden = !visible
	if visible {
		return
	}
	for _, ps := range m.streams {
		ps.stamps = ps.stamps[:0]
	}
	for _, pm := range m.panels {
		pm.account(at)
		if pm.openStale != 0 {
			pm.closeStale(at)
		}
		pm.state = stateUnknown
	}
}

// past is the index of the first stamp after seq (stamps are by seq).
func past(stamps []stamp, seq uint64) int {
	lo, hi := 0, len(stamps)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); stamps[m].seq <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

package aggregate

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// storeTimeout bounds one read or write of the store, so that a hung
// connection holds the engine's goroutine for no longer.
const storeTimeout = 10 * time.Second

// far is the newest event time a read asks for (ingest's bound, the year 2248).
var far = time.UnixMilli(1 << 43)

// Run computes until ctx ends, then folds what is queued and writes every
// aggregate's pending changes (with a few seconds of its own) before it
// returns. It is the only goroutine that touches a built computer.
//
// With EngineConfig.Elected, Run is one leadership term: it may be called
// again after it returned. It starts with what pages on other nodes want
// (Wanted) and ends by stopping every aggregate (standDown), so the next
// term rebuilds each from the store.
func (e *Engine) Run(ctx context.Context) error {
	e.running.Store(true)
	if e.cfg.Elected {
		defer e.standDown()
		if e.cfg.Wanted != nil {
			for _, w := range e.cfg.Wanted() {
				e.wanted(w.Tenant, w.Stream)
			}
		}
	}
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	lastSize, lastExpire := time.Time{}, e.cfg.Now()
	for {
		select {
		case <-ctx.Done():
			e.builds.Wait()
			return e.flush(ctx)
		case r := <-e.built:
			e.install(ctx, r)
		case <-e.wake:
			e.startBuilds(ctx)
		case <-t.C:
			for _, b := range e.taken() {
				e.hold(ctx, b)
			}
			now := e.cfg.Now()
			e.startBuilds(ctx)
			e.catchUpStale(ctx)
			if e.due(now) {
				e.fold(ctx)
			}
			e.emit(ctx, now, false)
			if now.Sub(lastSize) >= time.Second {
				lastSize = now
				e.measure()
			}
			if now.Sub(lastExpire) >= e.cfg.IdleAfter/10 {
				lastExpire = now
				e.expire(now)
			}
		}
	}
}

// flush is the end of Run: what was tapped is folded, and what changed is
// written, whatever EmitMs says, so a clean shutdown loses no update.
func (e *Engine) flush(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, b := range e.taken() {
		e.hold(wctx, b)
	}
	e.fold(wctx)
	e.emit(wctx, e.cfg.Now(), true)
	return nil
}

// standDown ends a term (EngineConfig.Elected): every aggregate stops and
// what the term held is dropped, so that nothing of it outlives the lock
// (another node computes now) and the next term starts from the store. The
// m4 streams pages asked for are handed to the next leader (Forward): this
// node's pages may still watch them (it lost the lock, not its clients),
// and only a definition's aggregates start again by themselves.
func (e *Engine) standDown() {
	e.running.Store(false)
	var asked []Want
	e.mu.Lock()
	for k, a := range e.active {
		if strings.HasPrefix(k.stream, agg.M4Prefix) {
			asked = append(asked, Want{Tenant: k.tenant, Stream: k.stream})
		}
		e.stopLocked(a)
	}
	e.pending = nil
	clear(e.stale)
	clear(e.refused)
	e.mu.Unlock()
	for _, a := range e.ready {
		a.comp = nil
	}
	clear(e.ready)
	e.ready = e.ready[:0]
	e.inMu.Lock()
	clear(e.inbox)
	e.inbox = e.inbox[:0]
	e.inMu.Unlock()
	for _, h := range e.held {
		clear(h.batches)
	}
	clear(e.held)
	clear(e.heldBy)
	e.held, e.heldN, e.heldTicks = e.held[:0], 0, 0
	e.backoff = time.Time{}
	e.m.bytes.Add(-e.m.bytes.Load())
	if e.cfg.Forward != nil {
		for _, w := range asked {
			_ = e.cfg.Forward(w.Tenant, w.Stream)
		}
	}
}

// startBuilds starts a build for every aggregate activated since.
func (e *Engine) startBuilds(ctx context.Context) {
	if e.cfg.Now().Before(e.backoff) {
		return // the store failed a moment ago: the next tick after it
	}
	e.mu.Lock()
	todo := e.pending
	e.pending = nil
	e.mu.Unlock()
	for _, a := range todo {
		e.rebuild(ctx, a)
	}
}

// rebuild drops a's computer and reads a new one from the store.
func (e *Engine) rebuild(ctx context.Context, a *aggregate) {
	if a.building || ctx.Err() != nil {
		return
	}
	if a.comp != nil {
		e.unready(a)
	}
	a.building = true
	e.m.rebuilds.Inc()
	e.m.building.Add(1)
	e.builds.Add(1)
	go func() {
		defer e.builds.Done()
		r := e.read(ctx, a)
		select {
		case e.built <- r:
		case <-ctx.Done():
		}
	}()
}

// from is the oldest event time an aggregate of s needs at now: a sliding
// window's start, a calendar window's boundary, the oldest bucket the
// computer keeps (and one more), and for current state everything the store
// keeps. Reading further back would fold events the computer then drops.
func from(s *agg.Spec, now time.Time) time.Time {
	switch s.Kind {
	case agg.Tumbling:
		keep := MaxBuckets
		if s.Fn == "m4" {
			keep = M4Buckets
		}
		return now.Add(-time.Duration(keep+1) * s.Width).Truncate(s.Width)
	case agg.Sliding:
		return now.Add(-s.Width)
	case agg.Calendar:
		loc := s.Loc
		if loc == nil {
			loc = time.UTC
		}
		t := now.In(loc)
		y, m, d := t.Date()
		if s.Unit == "hour" {
			return time.Date(y, m, d, t.Hour(), 0, 0, 0, loc)
		}
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	return time.UnixMilli(0)
}

// read builds a computer of a from the source's stored events (on a build
// goroutine: it touches nothing of a's but its fixed fields).
func (e *Engine) read(ctx context.Context, a *aggregate) built {
	r := built{a: a, comp: e.cfg.New(a.spec)}
	lo := from(a.spec, e.cfg.Now())
	for {
		rctx, cancel := context.WithTimeout(ctx, storeTimeout)
		evs, err := e.cfg.Store.ReadWindow(rctx, a.src.tenant, a.src.stream, lo, far, r.seq, e.cfg.ReadBatch)
		cancel()
		if err != nil {
			r.err = err
			return r
		}
		for i := range evs {
			r.comp.Add(&evs[i])
			r.epoch, r.seq = evs[i].Epoch, evs[i].Seq
		}
		e.m.sourceEvents.Add(int64(len(evs)))
		if len(evs) < e.cfg.ReadBatch {
			break
		}
	}
	if rs, ok := r.comp.(restorer); ok && e.cfg.Current != nil {
		st, err := e.cfg.Current(a.key.tenant, a.key.stream)
		if err != nil {
			e.log.Warn("aggregate: the derived stream's state could not be read; writing the whole picture", "tenant", a.key.tenant, "stream", a.key.stream, "err", err)
			return r
		}
		rs.Restore(st)
		r.restored = true
	}
	return r
}

// install takes a built computer: from now on tapped batches fold into it.
// What was tapped while it was read is caught up from the store at once.
func (e *Engine) install(ctx context.Context, r built) {
	a := r.a
	a.building = false
	e.m.building.Add(-1)
	if a.stopped.Load() {
		return
	}
	if r.err != nil {
		if ctx.Err() == nil {
			e.log.Warn("aggregate build failed, retrying in a second", "tenant", a.key.tenant, "stream", a.key.stream, "err", r.err)
			e.backoff = e.cfg.Now().Add(time.Second)
			e.mu.Lock()
			e.pending = append(e.pending, a) // the next tick tries again
			e.mu.Unlock()
		}
		return
	}
	a.comp, a.epoch, a.seq = r.comp, r.epoch, r.seq
	a.held = e.holds
	a.needFull = !r.restored
	a.nextEmit = time.Time{}
	a.late = 0
	e.ready = append(e.ready, a)
	e.catchUp(ctx, a, 0)
}

// unready takes a out of the list of built aggregates.
func (e *Engine) unready(a *aggregate) {
	for i, b := range e.ready {
		if b == a {
			e.ready = append(e.ready[:i], e.ready[i+1:]...)
			break
		}
	}
	a.comp = nil
}

// hold takes a tapped batch: it activates the source's definitions that do
// not run yet at once, and keeps the batch for the next fold.
func (e *Engine) hold(ctx context.Context, b batch) {
	e.activate(ctx, b)
	src := srcKey{b.tenant, b.evs[0].Stream}
	h := e.heldBy[src]
	if h == nil {
		h = &heldSrc{src: src}
		e.heldBy[src] = h
		e.held = append(e.held, h)
	}
	e.holds++
	b.n = e.holds
	h.batches = append(h.batches, b)
	h.n += len(b.evs)
	e.heldN += len(b.evs)
	if e.heldN >= maxHeld {
		e.fold(ctx)
	}
}

// heldSrc is one source's tapped batches not folded yet, in order.
type heldSrc struct {
	src     srcKey
	batches []batch
	n       int // events
}

// Held batches are folded when an aggregate is due to emit (so that an
// emit covers every batch tapped before it), past maxHeld events, or
// foldTicks ticks after the oldest arrived: folding a source's batches of
// 250 ms together, aggregate by aggregate, touches each state's memory once
// per fold instead of once per ingest request; between two requests the
// server's other work (ingest decoding, the hub, the sockets' writes) has
// pushed it out of the caches, and an Add then cost three times what it
// costs warm (bench/results/2026-12-06-aggregate.md, 17:40 UTC).
const (
	maxHeld   = 8192
	foldTicks = 25
)

// due reports whether an aggregate emits at now, or the held batches have
// waited long enough.
func (e *Engine) due(now time.Time) bool {
	if e.heldN == 0 {
		return false
	}
	if e.heldTicks++; e.heldTicks >= foldTicks {
		return true
	}
	for _, a := range e.ready {
		if !now.Before(a.nextEmit) {
			return true
		}
	}
	return false
}

// fold folds the held batches into every built aggregate of their source,
// aggregate by aggregate, each one's batches in the order they came.
func (e *Engine) fold(ctx context.Context) {
	for _, h := range e.held {
		e.mu.RLock()
		aggs := e.bySource[h.src]
		e.mu.RUnlock()
		// The aggregates of the source share what they read of each row.
		if cap(e.rows) < h.n {
			e.rows = make([]rowFields, h.n)
		}
		rows := e.rows[:h.n]
		for _, a := range aggs {
			off := 0
			for _, b := range h.batches {
				if a.comp != nil && !a.stopped.Load() && b.n > a.held {
					e.feed(ctx, a, b.evs, rows[off:off+len(b.evs)])
				}
				off += len(b.evs)
			}
		}
		clear(rows) // nothing of the batches kept past them
		e.free(h.batches)
		clear(h.batches)
		delete(e.heldBy, h.src)
	}
	clear(e.held)
	e.held, e.heldN, e.heldTicks = e.held[:0], 0, 0
}

// activate activates the definitions of a tapped batch's source that do
// not run yet.
func (e *Engine) activate(ctx context.Context, b batch) {
	src := srcKey{b.tenant, b.evs[0].Stream}
	e.mu.RLock()
	ts := e.tenants[b.tenant]
	idle := ts == nil // every definition of the source runs, or is refused
	if ts != nil {
		for _, s := range ts.bySource[src.stream] {
			k := aggKey{b.tenant, s.Stream()}
			idle = idle || (e.active[k] == nil && !e.refused[k])
		}
	}
	e.mu.RUnlock()
	started := false
	if idle {
		e.mu.Lock()
		for _, s := range e.specsLocked(b.tenant).bySource[src.stream] {
			if e.active[aggKey{b.tenant, s.Stream()}] == nil {
				_ = e.activateLocked(b.tenant, s.Stream(), s, true) // refusals are counted and logged there
			}
		}
		started = len(e.pending) > 0
		e.mu.Unlock()
	}
	if started {
		e.startBuilds(ctx)
	}
}

// feed folds the events of evs a has not seen; a batch that does not follow
// a's cursor is preceded by what the store holds between them.
// rows[i] holds what the source's aggregates read of evs[i].
func (e *Engine) feed(ctx context.Context, a *aggregate, evs []wire.Event, rows []rowFields) {
	if a.epoch != 0 && evs[0].Epoch != a.epoch {
		e.rebuild(ctx, a) // the source started over: so does its aggregate
		return
	}
	i := 0
	for i < len(evs) && evs[i].Seq <= a.seq {
		i++ // read from the store already
	}
	if i == len(evs) {
		return
	}
	if evs[i].Seq > a.seq+1 {
		e.catchUp(ctx, a, evs[i].Seq-1)
		if a.comp == nil {
			return // the catch-up found a new epoch
		}
		for i < len(evs) && evs[i].Seq <= a.seq {
			i++
		}
	}
	e.m.sourceEvents.Add(int64(len(evs) - i))
	st, _ := a.comp.(*State)
	for ; i < len(evs); i++ {
		if st != nil {
			st.add(&evs[i], &rows[i])
		} else {
			a.comp.Add(&evs[i])
		}
		a.epoch, a.seq = evs[i].Epoch, evs[i].Seq
	}
}

// catchUp folds the stored events after a's cursor; upTo, when known, is
// where the hub is (events up to it that the read skips are outside a's
// window).
func (e *Engine) catchUp(ctx context.Context, a *aggregate, upTo uint64) {
	e.m.catchups.Inc()
	lo := from(a.spec, e.cfg.Now())
	filtered := a.spec.Kind == agg.Sliding || a.spec.Kind == agg.Calendar
	for {
		rctx, cancel := context.WithTimeout(ctx, storeTimeout)
		evs, err := e.cfg.Store.ReadWindow(rctx, a.src.tenant, a.src.stream, lo, far, a.seq, e.cfg.ReadBatch)
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				e.log.Warn("aggregate catch-up failed, retrying in a second", "tenant", a.key.tenant, "stream", a.key.stream, "err", err)
				e.backoff = e.cfg.Now().Add(time.Second)
				e.mu.Lock()
				e.stale[a.src] = true
				e.mu.Unlock()
			}
			return
		}
		for i := range evs {
			ev := &evs[i]
			if a.epoch != 0 && ev.Epoch != a.epoch {
				e.rebuild(ctx, a)
				return
			}
			if !filtered && ev.Seq > a.seq+1 && (a.seq > 0 || i > 0) {
				// The store dropped them (retention, the embedded ring)
				// before this aggregate could read them.
				e.m.lost.Add(int64(ev.Seq - a.seq - 1))
			}
			a.comp.Add(ev)
			a.epoch, a.seq = ev.Epoch, ev.Seq
		}
		e.m.sourceEvents.Add(int64(len(evs)))
		if len(evs) < e.cfg.ReadBatch {
			break
		}
	}
	a.seq = max(a.seq, upTo)
}

// catchUpStale catches up the sources whose batches were dropped, and starts
// their definitions if no batch of theirs got through to do it.
func (e *Engine) catchUpStale(ctx context.Context) {
	if e.cfg.Now().Before(e.backoff) {
		return
	}
	e.mu.Lock()
	if len(e.stale) == 0 {
		e.mu.Unlock()
		return
	}
	var aggs []*aggregate
	for src := range e.stale {
		for _, s := range e.specsLocked(src.tenant).bySource[src.stream] {
			if e.active[aggKey{src.tenant, s.Stream()}] == nil {
				_ = e.activateLocked(src.tenant, s.Stream(), s, true)
			}
		}
		aggs = append(aggs, e.bySource[src]...)
	}
	clear(e.stale)
	e.mu.Unlock()
	e.startBuilds(ctx)
	for _, a := range aggs {
		if a.comp != nil && !a.stopped.Load() {
			e.catchUp(ctx, a, 0)
		}
	}
}

// emit writes, per tenant in one AppendAll, what each due aggregate has to
// say: its whole picture after a build, its changes otherwise. force
// ignores EmitMs (shutdown).
func (e *Engine) emit(ctx context.Context, now time.Time, force bool) {
	var (
		out  map[string]map[string][]wire.Event
		from map[string][]*aggregate
	)
	kept := e.ready[:0]
	for _, a := range e.ready {
		if a.stopped.Load() {
			a.comp = nil
			continue
		}
		kept = append(kept, a)
		if !force && now.Before(a.nextEmit) {
			continue
		}
		var evs []wire.Event
		if a.needFull {
			evs = a.comp.Full(now)
			a.needFull = false
		} else {
			evs = a.comp.Emit(now)
		}
		if l := a.comp.Late(); l > a.late {
			e.m.late.Add(int64(l - a.late))
			a.late = l
		}
		// The next emit is at the next beat, whether this one had anything
		// to say or not: an aggregate whose emits say nothing (a min, max
		// or percentile that a batch did not move) is not computed again at
		// every tick, and the held batches are folded once a beat.
		a.nextEmit = nextBeat(now, time.Duration(a.spec.EmitMs)*time.Millisecond)
		if len(evs) == 0 {
			continue
		}
		if out == nil {
			out, from = map[string]map[string][]wire.Event{}, map[string][]*aggregate{}
		}
		t := a.key.tenant
		if out[t] == nil {
			out[t] = map[string][]wire.Event{}
		}
		out[t][a.key.stream] = evs
		from[t] = append(from[t], a)
	}
	clear(e.ready[len(kept):])
	e.ready = kept
	for tenant, streams := range out {
		n := 0
		for _, evs := range streams {
			n += len(evs)
		}
		wctx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := e.cfg.Store.AppendAll(wctx, tenant, streams)
		cancel()
		if err != nil {
			// The changes are gone from the computers: the next write is
			// each one's whole picture (absolute values, so nothing is
			// counted twice).
			e.m.writeErrs.Inc()
			e.log.Warn("aggregate write failed", "tenant", tenant, "streams", len(streams), "err", err)
			for _, a := range from[tenant] {
				a.needFull = true
			}
			continue
		}
		e.m.emitted.Add(int64(n))
	}
}

// nextBeat is when an aggregate that emitted at now may emit next: the
// boundary after the one now belongs to, on the wall-clock multiples of
// period shared by every aggregate with the same emit_ms, so that they write
// together (one AppendAll, one transaction, per tenant per period instead of
// one per aggregate). An emit that came late for its beat keeps the next
// beat (the engine busy, or a loaded machine, delays ticks by tens of
// milliseconds: asking for a whole period after the late emit skipped a beat
// and made updates up to two periods old); only one later than half a period
// skips it, so two emits are never closer than half a period and are one a
// period on average.
func nextBeat(now time.Time, period time.Duration) time.Time {
	next := now.Truncate(period).Add(period)
	if next.Sub(now) < period/2 {
		next = next.Add(period)
	}
	return next
}

// measure sums the computers' sizes into the state bytes gauge.
func (e *Engine) measure() {
	total := 0
	for _, a := range e.ready {
		a.size = a.comp.Size()
		total += a.size
	}
	e.m.bytes.Add(int64(total) - e.m.bytes.Load())
}

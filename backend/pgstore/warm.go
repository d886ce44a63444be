package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// Warm-up: after a restart the hub holds nothing, so Run folds each stream's
// recent events into it before that stream is served. What one stream may
// cost is bounded by count (WarmEvents) and by body bytes (WarmBytes), the
// whole warm-up by bytes (WarmTotalBytes) and time (WarmTime): a stream too
// large to warm fully starts from the newest events that fit (the hub takes
// the first of them as its start, as for any tail). Streams are held in the
// hub (Config.Hold) before the server listens, so a subscription to a stream
// still warming waits for it and then gets its whole warmed state, and every
// other stream is served as soon as it is warm.

// Held is a stream the hub keeps from readers while it warms: hub.Held.
type Held interface {
	Publish(evs []wire.Event)
	Release()
}

// warmFloorBytes is what a stream may still fold once the whole warm-up's
// budget (bytes or time) is spent: a few hundred small events, or at least
// its newest event, so no stream starts from nothing.
const warmFloorBytes = 64 << 10

// warmFoldBytes bounds one batch folded into the hub at warm-up, so that
// the time budget is looked at often even when folding is slow.
const warmFoldBytes = 256 << 10

// warmFirstPage is how many events the first newest-first read of a stream
// asks for, before it knows how big its events are.
const warmFirstPage = 16

// warmStream is one stream to warm: where it ended when warm-up began.
type warmStream struct {
	k    key
	c    cursor
	held Held
}

// hold lists the streams and takes each one in the hub, so that nothing
// reads a stream before it is warm. It is quick (one query): the server
// listens once it returns.
func (f *follower) hold(ctx context.Context) ([]warmStream, error) {
	streams, err := f.streams(ctx)
	if err != nil {
		return nil, fmt.Errorf("warm: %w", err)
	}
	order := warmOrder(streams)
	out := make([]warmStream, 0, len(order))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range order {
		w := warmStream{k: k, c: streams[k]}
		if f.s.cfg.Hold != nil {
			w.held = f.s.cfg.Hold(k.tenant, k.stream)
		}
		f.warming[k] = struct{}{}
		out = append(out, w)
	}
	f.s.warmLeft.Store(int64(len(out)))
	f.s.warmTotal.Store(int64(len(out)))
	f.s.m.warming.Add(int64(len(out)))
	return out, nil
}

// warmOrder takes the tenants in turn (each tenant's streams by name), so
// that one tenant's many or large streams do not keep another's waiting.
func warmOrder(streams map[key]cursor) []key {
	byTenant := make(map[string][]key)
	var tenants []string
	for k := range streams {
		if _, ok := byTenant[k.tenant]; !ok {
			tenants = append(tenants, k.tenant)
		}
		byTenant[k.tenant] = append(byTenant[k.tenant], k)
	}
	sort.Strings(tenants)
	for _, t := range tenants {
		ks := byTenant[t]
		sort.Slice(ks, func(i, j int) bool { return ks[i].stream < ks[j].stream })
	}
	out := make([]key, 0, len(streams))
	for i := 0; len(out) < len(streams); i++ {
		for _, t := range tenants {
			if i < len(byTenant[t]) {
				out = append(out, byTenant[t][i])
			}
		}
	}
	return out
}

// warmAll warms the held streams one by one and hands each to the
// following loop as soon as it is warm. Whatever happens, every stream it
// held is released when it returns.
func (f *follower) warmAll(ctx context.Context, ws []warmStream) error {
	released := 0
	defer func() {
		for _, w := range ws[released:] {
			if w.held != nil {
				w.held.Release()
			}
		}
	}()
	start := time.Now()
	deadline := start.Add(f.s.cfg.WarmTime)
	var total, events, cut int64
	for i, w := range ws {
		budget := int64(f.s.cfg.WarmBytes)
		if left := int64(f.s.cfg.WarmTotalBytes) - total; left < budget {
			budget = left
		}
		until := deadline
		if budget < warmFloorBytes || time.Now().After(deadline) {
			// The floor is what every stream gets, time or not.
			budget, until = min(warmFloorBytes, int64(f.s.cfg.WarmBytes)), time.Time{}
		}
		n, size, whole, err := f.warmOne(ctx, w, budget, until)
		if err != nil {
			return fmt.Errorf("warm %s/%s: %w", w.k.tenant, w.k.stream, err)
		}
		if w.held != nil {
			w.held.Release()
		}
		released = i + 1
		total += size
		events += int64(n)
		if !whole {
			cut++
			level := slog.LevelInfo
			if until.IsZero() {
				level = slog.LevelDebug // past the budget: the summary counts them
			}
			f.s.log.Log(ctx, level, "pg warm-up: stream started from its newest events", "tenant", w.k.tenant, "stream", w.k.stream,
				"events", n, "bytes", size, "last_seq", w.c.seq)
		}
		f.handOver(w.k, cursor{epoch: w.c.epoch, seq: w.c.seq})
	}
	f.s.log.Info("pg warm-up done", "streams", len(ws), "events", events, "bytes", total,
		"cut_by_budget", cut, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// warmOne folds the newest events of one stream that fit the budget (at
// least its newest one) into the hub, oldest first. whole says whether the
// tail is all of what WarmEvents asks for. Past deadline (if not zero) it
// reads no further page.
func (f *follower) warmOne(ctx context.Context, w warmStream, budget int64, deadline time.Time) (n int, size int64, whole bool, err error) {
	hi := int64(w.c.seq)
	lo := max(0, hi-int64(f.s.cfg.WarmEvents)) // the tail is (lo, hi]
	var tail []rawEvent                        // newest first
	whole = true
	next := hi
	for next > lo {
		page := warmFirstPage
		if len(tail) > 0 {
			if size >= budget {
				whole = false
				break
			}
			// As many as the budget left is likely to hold, by the average
			// so far: reading past the budget wastes at most about a page.
			avg := max(1, size/int64(len(tail)))
			page = int(min(int64(f.s.cfg.ReadBatch), (budget-size)/avg+1))
		}
		page = int(max(1, min(int64(page), next-lo)))
		evs, err := f.s.readNewest(ctx, w.k, next, page)
		if err != nil {
			return 0, 0, false, err
		}
		full := false
		for _, ev := range evs {
			if len(tail) > 0 && size+int64(len(ev.raw)) > budget {
				full = true
				break
			}
			tail = append(tail, ev)
			size += int64(len(ev.raw))
			next = ev.seq - 1
		}
		if len(evs) < page {
			break // retention left nothing older
		}
		if full || (!deadline.IsZero() && time.Now().After(deadline) && next > lo) {
			whole = false
			break
		}
	}
	n = len(tail)
	if n == 0 {
		return 0, 0, true, nil
	}
	// The newest events that fit warmFloorBytes (at least one): what the
	// stream keeps if folding the rest runs out of time.
	floor, floorBytes := 1, int64(len(tail[0].raw))
	for floor < len(tail) && floorBytes+int64(len(tail[floor].raw)) <= warmFloorBytes {
		floorBytes += int64(len(tail[floor].raw))
		floor++
	}
	// Fold oldest first, in batches of at most ReadBatch events and
	// warmFoldBytes, letting go of the bytes as they are folded.
	batch := make([]wire.Event, 0, min(len(tail), f.s.cfg.ReadBatch))
	var batchBytes int64
	for i := len(tail) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return 0, 0, false, err
		}
		if len(batch) == 0 && i >= floor && !deadline.IsZero() && time.Now().After(deadline) {
			// Folding costs more than reading (a stream of ever new series
			// names): out of time, skip to the newest events. The hub takes
			// the gap as a restart and keeps what is folded; the skipped
			// events stay in the table for resuming clients.
			for j := floor; j <= i; j++ {
				n--
				tail[j] = rawEvent{}
			}
			i = floor - 1
			whole = false
		}
		batch = append(batch, f.s.event(w.k.tenant, w.k.stream, w.c.epoch, tail[i].seq, tail[i].ts, tail[i].raw, tail[i].created, tail[i].stored))
		batchBytes += int64(len(tail[i].raw))
		tail[i] = rawEvent{}
		if len(batch) == cap(batch) || batchBytes >= warmFoldBytes || i == 0 {
			f.publishWarm(w, batch)
			batch, batchBytes = batch[:0], 0
		}
	}
	return n, size, whole, nil
}

func (f *follower) publishWarm(w warmStream, evs []wire.Event) {
	switch {
	case w.held != nil:
		w.held.Publish(evs)
	case f.s.cfg.Sink != nil:
		f.s.cfg.Sink(w.k.tenant, evs)
	}
	f.s.m.read.Add(int64(len(evs)))
}

// readNewest reads up to limit events of a stream with seq <= upTo, newest
// first, bodies as stored (the JSON text).
func (s *Store) readNewest(ctx context.Context, k key, upTo int64, limit int) ([]rawEvent, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT seq, ts, body, created, stored FROM telltale.events
		WHERE tenant = $1 AND stream = $2 AND seq <= $3 ORDER BY seq DESC LIMIT $4`,
		k.tenant, k.stream, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rawEvent
	for rows.Next() {
		var ev rawEvent
		if err := rows.Scan(&ev.seq, &ev.ts, &ev.raw, &ev.created, &ev.stored); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// handOver gives a warm stream to the following loop, which reads it on
// from c at its next round (a wake-up for it is queued: the loop ignored
// the stream's wake-ups while it warmed).
func (f *follower) handOver(k key, c cursor) {
	f.mu.Lock()
	delete(f.warming, k)
	f.warmed[k] = c
	f.pending[k] = wakeAt{epoch: c.epoch, seq: math.MaxUint64}
	f.mu.Unlock()
	f.s.warmLeft.Add(-1)
	f.s.m.warming.Add(-1)
	f.signal()
}

// adoptWarmedLocked moves streams handed over since the last round into the
// loop's cursors. f.mu must be held.
func (f *follower) adoptWarmedLocked() {
	for k, c := range f.warmed {
		f.setCursor(k, c)
		delete(f.warmed, k)
	}
}

// warmingStream says whether a stream is still the warm-up's (warming, or
// warm but not yet adopted): the loop must neither read it nor take it for
// a stream born after the start.
func (f *follower) warmingStream(k key) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, a := f.warming[k]
	_, b := f.warmed[k]
	return a || b
}

// Held is closed once Run has taken every existing stream for warming:
// the server may listen from then on (readers of a stream still warming
// wait for it). Ready follows once every stream is warm.
func (s *Store) Held() <-chan struct{} { return s.held }

// Warming reports how many streams are still warming, of how many there
// were at start.
func (s *Store) Warming() (left, total int) {
	return int(s.warmLeft.Load()), int(s.warmTotal.Load())
}

package pgstore

import (
	"context"
	"sync"
	"time"
)

// lanes read, decode and fold each tenant's streams on a goroutine of that
// tenant's own, so that one tenant's expensive events (thousands of new
// series, rows of hundreds of fields) never delay another tenant's: with all
// of it on the follower's one goroutine, one tenant's wide ingest held every
// other tenant's events back by 5–7 s (bench/results/2026-12-06-neighbours.md).
//
// The follower only decides what is owed (wake-ups, lingering looks, scans).
// A lane goes round its tenant's owed streams one bounded batch each
// (readStep: ReadBatch events or about readBytes), so within a tenant a wide
// stream cannot hold back a quiet one either. Each stream is read only by its
// tenant's lane, in order, so it reaches the sink in seq order (contract 1).
// A lane holds one batch at a time: a slow tenant's backlog stays in the
// table, not in memory. Lanes read on the follower's own connections
// (laneConns of them, one per lane reading), so producers filling the shared
// pool cannot make reads wait.
type lanes struct {
	f     *follower
	slots chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	byTenant map[string]*lane // tenants with streams owed
	closed   bool
}

type lane struct {
	tenant string
	due    map[string]*work // by stream; guarded by lanes.mu
}

func newLanes(f *follower, concurrent int) *lanes {
	return &lanes{f: f, slots: make(chan struct{}, concurrent), byTenant: make(map[string]*lane)}
}

// owe asks k's tenant lane to read k as w says, starting the lane if the
// tenant has none running.
func (l *lanes) owe(ctx context.Context, k key, w work) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	ln := l.byTenant[k.tenant]
	if ln == nil {
		ln = &lane{tenant: k.tenant, due: make(map[string]*work)}
		l.byTenant[k.tenant] = ln
		l.wg.Add(1)
		go l.run(ctx, ln)
	}
	if d := ln.due[k.stream]; d != nil {
		d.merge(w)
		return
	}
	w.since = time.Now()
	ln.due[k.stream] = &w
}

// oldestOwed is the earliest since of every stream owed; false when none
// is.
func (l *lanes) oldestOwed() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var oldest time.Time
	for _, ln := range l.byTenant {
		for _, w := range ln.due {
			if oldest.IsZero() || w.since.Before(oldest) {
				oldest = w.since
			}
		}
	}
	return oldest, !oldest.IsZero()
}

// run goes round the lane's streams, one bounded read each per round, and
// ends when nothing is owed: idle tenants cost no goroutine. owe starts a new
// one only after this one has left the map, between reads, so a stream is
// never read by two goroutines.
func (l *lanes) run(ctx context.Context, ln *lane) {
	defer l.wg.Done()
	var round []string
	for {
		l.mu.Lock()
		if l.closed || len(ln.due) == 0 || ctx.Err() != nil {
			delete(l.byTenant, ln.tenant)
			l.mu.Unlock()
			return
		}
		round = round[:0]
		for stream := range ln.due {
			round = append(round, stream)
		}
		l.mu.Unlock()
		for _, stream := range round {
			l.mu.Lock()
			w := ln.due[stream]
			upTo, stopAt, gen := w.upTo, w.stopAt, w.gen
			l.mu.Unlock()
			k := key{ln.tenant, stream}
			began := time.Now()
			n, fetched, done, err := l.f.readStep(ctx, k, upTo, stopAt, l.slots)
			l.mu.Lock()
			w.read += n
			w.fetched = w.fetched || fetched
			finished := err != nil || (done && w.gen == gen)
			if done && !finished {
				// Read to the end it asked for; what is owed now was
				// committed after the read began.
				w.since = began
			}
			if finished {
				delete(ln.due, stream)
			}
			report := *w
			l.mu.Unlock()
			if finished {
				if err != nil && ctx.Err() == nil {
					l.f.s.log.Warn("pg read", "tenant", ln.tenant, "stream", stream, "err", err)
				}
				l.f.finish(k, report, err)
			}
		}
	}
}

// close stops the lanes after their current read and waits for them.
func (l *lanes) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
}

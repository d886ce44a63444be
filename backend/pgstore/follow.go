package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/shared/wire"
)

// Run follows the events table into the sink until ctx ends: it holds
// every existing stream (Held), warms each with its recent events within the
// warm-up budgets (see warm.go) and follows it from there as soon as it is
// warm, while it listens for wake-ups and scans every ScanInterval. It also
// runs the sequencer (sequence.go), which gives watched tables' staged
// events their seqs. While
// the LISTEN connection is down it reports itself degraded, keeps scanning,
// and on reconnect catches up by seq.
func (s *Store) Run(ctx context.Context) error {
	f := &follower{s: s, cursors: make(map[key]cursor), pending: make(map[key]wakeAt), lingering: make(map[key]lingerState), wake: make(chan struct{}, 1),
		warming: make(map[key]struct{}), warmed: make(map[key]cursor), behind: make(map[key]mark)}
	f.lanes = newLanes(f, laneConns) // before Health can see f (lag)
	// From here on this node's commits are kept for the lanes (before the
	// streams are held: what commits meanwhile is read after its warm-up).
	s.wake.Store(f)
	defer s.wake.Store(nil)
	s.following.Store(true)
	defer s.following.Store(false)
	ws, err := f.hold(ctx)
	if err != nil {
		return err
	}
	close(s.held)
	// The lanes read on connections of their own: producers filling the
	// shared pool (one tenant posting big batches) must not make every
	// tenant's reads wait for a connection.
	rcfg := s.cfg.Pool.Config().Copy()
	rcfg.MaxConns, rcfg.MinConns = laneConns+1, 0 // and one for the looks
	rcfg.ConnConfig.RuntimeParams["application_name"] = "telltale-follow"
	rpool, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		return fmt.Errorf("follower pool: %w", err)
	}
	defer rpool.Close()
	f.readPool = rpool
	defer f.lanes.close()
	// The sequencer moves on a connection of its own, so that its short
	// moves never queue behind producers or reads.
	qcfg := s.cfg.Pool.Config().Copy()
	qcfg.MaxConns, qcfg.MinConns = 1, 0
	qcfg.ConnConfig.RuntimeParams["application_name"] = "telltale-sequence"
	qpool, err := pgxpool.NewWithConfig(ctx, qcfg)
	if err != nil {
		return fmt.Errorf("sequencer pool: %w", err)
	}
	defer qpool.Close()
	f.seq = &sequencer{s: s, f: f, pool: qpool, wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	warmErr := make(chan error, 1)
	wg.Add(3)
	go func() {
		defer wg.Done()
		f.listen(ctx)
	}()
	go func() {
		defer wg.Done()
		f.seq.run(ctx)
	}()
	go func() {
		defer wg.Done()
		err := f.warmAll(ctx, ws)
		if err == nil {
			close(s.ready)
		}
		warmErr <- err
	}()

	tick := time.NewTicker(s.cfg.ScanInterval)
	defer tick.Stop()
	linger := time.NewTimer(time.Hour)
	defer linger.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-warmErr:
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			warmErr = nil
		case <-f.wake:
		case <-linger.C:
		case <-tick.C:
			f.mu.Lock()
			f.scan = true
			f.mu.Unlock()
		}
		if err := f.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("pg catch-up", "err", err)
			s.catchErr.Store("catch-up failed: " + err.Error())
			// What was pending is not lost: the next scan finds it by seq.
			f.mu.Lock()
			f.scan = true
			f.mu.Unlock()
		} else {
			s.catchErr.Store("")
		}
		if next, ok := f.nextLinger(); ok {
			linger.Reset(time.Until(next))
		}
	}
}

// lingerFor is how long after reading a woken stream the follower looks at
// it again. Publishers notify at most every 10 ms per stream (migrations 0004
// and 0005), so a look 12 ms later finds what committed without a wake-up of
// its own. Looks that find nothing back off (12, 24, 48, 96 ms) before
// stopping, to catch a publisher whose transaction ran on a little after it
// published; beyond that the next wake-up or the scan finds it.
//
// A look does not read the stream: one query (look) asks which of all the
// streams due have a last_seq past this node's cursor, and only those are
// read. Each look was a read of its own before, which mostly found nothing:
// 4 queries per wake-up when a stream commits every 100 ms, 1,500 reads/s
// on one node for 105 such streams (bench/results/2026-12-07-follower-reads.md).
// So that looks share a query, one due is taken with the others due within
// its slack (lingerSlack) of now, a little early, never late. A look at a
// stream whose last look found a commit (a burst of commits inside the
// notify window) is a read as before: it takes what it finds in one round
// trip, not two.
const (
	lingerFor   = 12 * time.Millisecond
	lingerSteps = 4
)

type lingerState struct {
	at     time.Time
	step   int
	direct bool // read rather than looked at (see settle)
}

// lingerSlack is how early a look may be taken with another one: the first
// look only 2 ms early (it is the one that catches a commit throttled out of
// its wake-up, by lingerFor after the notifying commit), the backed-off
// ones a quarter of their wait (6, 12, 24 ms).
func lingerSlack(step int) time.Duration {
	if step == 0 {
		return 2 * time.Millisecond
	}
	return (lingerFor << step) / 4
}

func (f *follower) nextLinger() (time.Time, bool) {
	var next time.Time
	for _, l := range f.lingering {
		if next.IsZero() || l.at.Before(next) {
			next = l.at
		}
	}
	return next, !next.IsZero()
}

func (f *follower) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *follower) streams(ctx context.Context) (map[key]cursor, error) {
	rows, err := f.s.cfg.Pool.Query(ctx, `SELECT tenant, stream, epoch, last_seq FROM telltale.streams`)
	if err != nil {
		return nil, err
	}
	out := make(map[key]cursor)
	for rows.Next() {
		var k key
		var epoch, last int64
		if err := rows.Scan(&k.tenant, &k.stream, &epoch, &last); err != nil {
			rows.Close()
			return nil, err
		}
		out[k] = cursor{uint64(epoch), uint64(last)}
	}
	rows.Close()
	return out, rows.Err()
}

// catchUp hands the tenant lanes what wake-ups announced, what lingering
// looks are due and, when asked, what a scan finds; the lanes read it.
func (f *follower) catchUp(ctx context.Context) error {
	f.mu.Lock()
	f.adoptWarmedLocked()
	pending, scan, finished, laneErr := f.pending, f.scan, f.finished, f.laneErr
	f.pending, f.scan, f.finished, f.laneErr = make(map[key]wakeAt), false, nil, nil
	f.mu.Unlock()

	for _, d := range finished {
		f.settle(d.k, d.w)
	}
	now := time.Now()
	for k, w := range pending {
		if f.warmingStream(k) {
			continue // handed over with a wake-up of its own
		}
		c, known := f.cursor(k)
		if !known || (w.epoch != 0 && w.epoch != c.epoch) {
			// A new stream or a new epoch: the scan learns its epoch and
			// reads it from its first event.
			scan = true
			continue
		}
		if w.seq > c.seq {
			// To the committed end, not just the announced seq: wake-ups
			// are throttled, later commits may have none of their own.
			// Unless the cache (this node's own commits) gives the stream
			// up to the announced seq (stopAt): what follows it is then
			// another writer's, with a wake-up or a lingering look of its
			// own, and a read of PostgreSQL would find nothing.
			ask := work{woken: true}
			if w.seq != ^uint64(0) { // not a hand-over's "to the end"
				ask.stopAt = w.seq
			}
			f.lanes.owe(ctx, k, ask)
			if w.seq != ^uint64(0) { // not a hand-over's "to the end"
				f.mark(k, w.seq, now)
			}
		}
	}
	due := f.dueLooks(now)
	for k, l := range due {
		if l.direct {
			// At a stream whose last look found a commit: a read of its
			// own, which takes what it finds in the same round trip.
			delete(due, k)
			f.s.m.looked.Inc()
			f.lanes.owe(ctx, k, work{look: &l})
		}
	}
	if len(due) > 0 {
		moved, err := f.look(ctx, due, now)
		if err != nil {
			// The scan this failure asks for (Run) reads every stream from
			// its cursor, so the looks are not needed any more.
			return fmt.Errorf("look: %w", err)
		}
		scan = scan || moved
	}
	if scan {
		f.s.m.scans.Inc()
		streams, err := f.streams(ctx)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		f.unmarkGone(streams)
		for k, last := range streams {
			if f.warmingStream(k) {
				continue
			}
			c, known := f.cursor(k)
			if !known || c.epoch != last.epoch {
				// A stream (or epoch) born after warm-up: every one of its
				// events is new to the hub, so read it from the start. Only
				// warm-up skips history, for streams that predate the node.
				c = cursor{epoch: last.epoch}
				f.setCursor(k, c)
				f.s.recent.epochSeen(k, last.epoch)
			}
			if last.seq > c.seq {
				f.lanes.owe(ctx, k, work{upTo: last.seq, stopAt: last.seq})
				f.mark(k, last.seq, now)
			} else {
				// Read to what is committed: a mark past it was a
				// rollback's wake-up, or a hand-over's "to the end".
				f.unmark(k)
			}
		}
	}
	// A lane's failed read is reported like a failed catch-up; the scan it
	// asked for reads the stream again from its cursor.
	return laneErr
}

// dueLooks takes the lingering streams whose look is due by now, with
// those due within their slack.
func (f *follower) dueLooks(now time.Time) map[key]lingerState {
	var due map[key]lingerState
	first := false
	for _, l := range f.lingering {
		if !l.at.After(now) {
			first = true
			break
		}
	}
	if !first {
		return nil
	}
	for k, l := range f.lingering {
		if l.at.After(now.Add(lingerSlack(l.step))) {
			continue
		}
		if due == nil {
			due = make(map[key]lingerState)
		}
		due[k] = l
		delete(f.lingering, k)
	}
	return due
}

// look asks PostgreSQL, in one query, which of the streams due have
// committed past this node's cursor (a commit moves its stream's last_seq
// in the same transaction as its events), and owes a read of only those to
// their lanes; the others wait for their next look, or stop lingering.
// moved says a stream is at another epoch than its cursor (deleted and
// recreated): the scan, which learns epochs, reads it.
func (f *follower) look(ctx context.Context, due map[key]lingerState, now time.Time) (moved bool, err error) {
	tenants := make([]string, 0, len(due))
	names := make([]string, 0, len(due))
	epochs := make([]int64, 0, len(due))
	seqs := make([]int64, 0, len(due))
	for k := range due {
		c, _ := f.cursor(k)
		tenants, names = append(tenants, k.tenant), append(names, k.stream)
		epochs, seqs = append(epochs, int64(c.epoch)), append(seqs, int64(c.seq))
	}
	f.s.m.looks.Inc()
	f.s.m.looked.Add(int64(len(due)))
	// On the follower's own pool, which keeps a connection beyond the
	// lanes' (their slots), so a look never waits for a read to finish.
	rows, err := f.readPool.Query(ctx, `SELECT s.tenant, s.stream, s.epoch, s.last_seq
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS c(tenant, stream, epoch, seq)
		JOIN telltale.streams s ON s.tenant = c.tenant AND s.stream = c.stream
		WHERE s.epoch <> c.epoch OR s.last_seq > c.seq`, tenants, names, epochs, seqs)
	if err != nil {
		return false, err
	}
	type found struct {
		k    key
		last cursor
	}
	var advanced []found
	for rows.Next() {
		var k key
		var epoch, last int64
		if err := rows.Scan(&k.tenant, &k.stream, &epoch, &last); err != nil {
			rows.Close()
			return false, err
		}
		advanced = append(advanced, found{k, cursor{uint64(epoch), uint64(last)}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	for _, a := range advanced {
		l := due[a.k]
		delete(due, a.k)
		c, _ := f.cursor(a.k)
		if a.last.epoch != c.epoch {
			moved = true
			continue
		}
		f.lanes.owe(ctx, a.k, work{look: &l, stopAt: a.last.seq})
		f.mark(a.k, a.last.seq, now)
	}
	// Found nothing: the next look waits twice as long, counted from when
	// this one was due (taken early, it keeps the same cadence).
	for k, l := range due {
		if l.step+1 >= lingerSteps {
			continue
		}
		f.lingering[k] = lingerState{at: later(l.at, now).Add(lingerFor << (l.step + 1)), step: l.step + 1}
	}
	return moved, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// work is what a lane owes one stream: read it up to upTo (0: to its
// committed end).
type work struct {
	upTo uint64
	// stopAt is the newest commit the ask knows of (0: none, as a
	// hand-over's): once the cache, which holds this node's own commits,
	// has given the stream up to it, the stream is read, with no read of
	// PostgreSQL after them (what another writer commits after it has a
	// wake-up or a lingering look of its own). Unlike upTo it never skips
	// a seq, and a read of PostgreSQL still reads on to the end.
	stopAt  uint64
	read    int          // events read since it was owed
	fetched bool         // some of them not in the cache: another writer's
	woken   bool         // a wake-up asked for it
	look    *lingerState // a lingering look asked for it
	gen     int          // bumped by every owe, so a lane never drops a newer ask
	// since is when the stream was owed, or when its lane last read it to
	// the end it asked for while newer asks kept it owed: the oldest moment
	// it may have had a commit this node has not read (lag).
	since time.Time
}

// merge adds a newer ask to w.
func (w *work) merge(o work) {
	if w.upTo != 0 && (o.upTo == 0 || o.upTo > w.upTo) {
		w.upTo = o.upTo
	}
	if w.stopAt == 0 || o.stopAt == 0 {
		w.stopAt = 0
	} else {
		w.stopAt = max(w.stopAt, o.stopAt)
	}
	w.woken = w.woken || o.woken
	if w.look == nil {
		w.look = o.look
	}
	w.gen++
}

// done is a lane's report that it read a stream to what was owed (or failed).
type done struct {
	k key
	w work
}

// finish takes a lane's report (on the lane's goroutine) for the next
// catch-up.
func (f *follower) finish(k key, w work, err error) {
	f.mu.Lock()
	if err != nil {
		f.laneErr = err
		f.scan = true
	} else {
		f.finished = append(f.finished, done{k, w})
	}
	f.mu.Unlock()
	f.signal()
}

// settle decides when to look at a stream read to its target again.
func (f *follower) settle(k key, w work) {
	now := time.Now()
	switch {
	case w.read > 0 || w.woken:
		// A publisher queued behind the one that woke us may commit
		// without a wake-up of its own. A look that found such a commit
		// (another writer's: this node's own are woken) says the stream
		// has them: its next look reads it at once.
		f.lingering[k] = lingerState{at: now.Add(lingerFor), direct: w.look != nil && w.fetched}
	case w.look != nil && w.look.step+1 < lingerSteps:
		f.lingering[k] = lingerState{at: now.Add(lingerFor << (w.look.step + 1)), step: w.look.step + 1}
	}
}

func (f *follower) cursor(k key) (cursor, bool) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	c, ok := f.cursors[k]
	return c, ok
}

func (f *follower) setCursor(k key, c cursor) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	f.cursors[k] = c
}

// advance moves k's cursor from to to, unless a scan moved it meanwhile (a
// new epoch): the lane's read belongs to the old position then.
func (f *follower) advance(k key, from, to cursor) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	if f.cursors[k] == from {
		f.cursors[k] = to
		if m, ok := f.behind[k]; ok && to.seq >= m.seq {
			delete(f.behind, k)
		}
	}
}

// mark is a commit known (woken or scanned) and not read yet: its seq, and
// when it was first known.
type mark struct {
	seq uint64
	at  time.Time
}

// mark notes that k has committed up to seq, past this node's cursor, as of
// now; a stream keeps its oldest unread mark until the cursor passes it.
func (f *follower) mark(k key, seq uint64, now time.Time) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	if _, ok := f.behind[k]; !ok {
		f.behind[k] = mark{seq, now}
	}
}

func (f *follower) unmark(k key) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	delete(f.behind, k)
}

// unmarkGone forgets the marks of streams a scan no longer finds (deleted).
func (f *follower) unmarkGone(streams map[key]cursor) {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	for k := range f.behind {
		if _, ok := streams[k]; !ok {
			delete(f.behind, k)
		}
	}
}

// lag is how long the oldest commit this node knows of and has not read
// has waited: how far behind the events table it is (Store.Health). Zero
// when it has read everything it knows of.
func (f *follower) lag(now time.Time) time.Duration {
	f.cmu.Lock()
	var most time.Duration
	for _, m := range f.behind {
		most = max(most, now.Sub(m.at))
	}
	f.cmu.Unlock()
	// A stream owed a read that has not ended is behind too, whatever
	// asked for it: a look's read at a stream whose last look found a
	// commit (no mark: it does not know the seq), or a read held up by
	// PostgreSQL.
	if at, ok := f.lanes.oldestOwed(); ok {
		most = max(most, now.Sub(at))
	}
	return most
}

// readBytes bounds one steady-state read of a stream by its stored bodies'
// size (besides Config.ReadBatch events), so that a lane goes round its
// tenant's streams in small steps whatever their events weigh.
const readBytes = 1 << 20

// laneConns is how many lanes read at once, each on a connection of the
// follower's own.
const laneConns = 4

// readStep reads one bounded batch of the stream from its cursor towards
// upTo (0: its committed end) and hands it to the sink. done says the stream
// is read to upTo (or to its end, or to stopAt from the cache); fetched,
// that some of the n events were not this node's own (decoded from
// PostgreSQL). Only the stream's tenant lane calls it.
//
// It first takes what it can from the events this node has just committed
// (recent): the contiguous run from the cursor, as PostgreSQL would have
// given it but without reading and decoding it back. Only at the first seq
// not among them does it read PostgreSQL.
func (f *follower) readStep(ctx context.Context, k key, upTo, stopAt uint64, slot chan struct{}) (n int, fetched bool, done bool, err error) {
	if f.s.beforeRead != nil {
		f.s.beforeRead(ctx) // tests: a slow read
	}
	c, _ := f.cursor(k)
	if (stopAt != 0 && c.seq >= stopAt) || (upTo != 0 && c.seq >= upTo) {
		// Read already, by a step that ran while this ask came (a wake-up
		// for a commit the step read, or its echo).
		return 0, false, true, nil
	}
	evs, pending := f.s.recent.take(k, c.epoch, c.seq, upTo, f.s.cfg.ReadBatch, readBytes, time.Now())
	if len(evs) > 0 {
		// The cursor moves before the sink has them (only this lane reads
		// the stream): the echo of this node's commit, arriving meanwhile,
		// then finds them read rather than owing a read that finds nothing.
		next := cursor{c.epoch, evs[len(evs)-1].Seq}
		f.advance(k, c, next)
		if f.s.cfg.Sink != nil {
			f.s.cfg.Sink(k.tenant, evs)
		}
		f.s.m.read.Add(int64(len(evs)))
		f.s.m.cached.Add(int64(len(evs)))
		// To the committed end (upTo 0) is not known here: another writer
		// may have committed after these, so the next step reads on,
		// unless these reach the newest commit the ask knew of (stopAt).
		return len(evs), false, (upTo != 0 && next.seq >= upTo) || (stopAt != 0 && next.seq >= stopAt), nil
	}
	if pending {
		// The next seq is this node's, its transaction not yet put in the
		// cache (or not yet committed): nothing after it can be committed
		// either (seqs are given under the stream's row lock), and its put
		// or rollback wakes the stream. Reading now would at best find it
		// and decode it a second time.
		f.s.m.waits.Inc()
		return 0, false, true, nil
	}
	slot <- struct{}{}
	rows, more, err := f.readBounded(ctx, k, c, upTo)
	<-slot
	if err != nil {
		return 0, false, false, err
	}
	if len(rows) == 0 {
		f.s.m.emptyReads.Inc()
		if upTo != 0 && c.seq < upTo {
			// Committed seqs are contiguous, so only retention can leave
			// nothing below a committed last_seq: skip ahead.
			f.advance(k, c, cursor{c.epoch, upTo})
		}
		return 0, false, true, nil
	}
	evs = make([]wire.Event, len(rows))
	now, decoded := time.Now(), 0
	for i, r := range rows {
		// What this node committed between the take above and the read's
		// snapshot is in the cache by now: not decoded a second time.
		if ev, ok := f.s.recent.takeOne(k, c.epoch, uint64(r.seq), now); ok {
			evs[i] = ev
			continue
		}
		evs[i] = f.s.event(k.tenant, k.stream, c.epoch, r.seq, r.ts, r.raw, r.created, r.stored)
		decoded++
	}
	next := cursor{c.epoch, evs[len(evs)-1].Seq}
	f.advance(k, c, next) // before the sink, as above
	if f.s.cfg.Sink != nil {
		f.s.cfg.Sink(k.tenant, evs)
	}
	f.s.m.read.Add(int64(len(evs)))
	f.s.m.cached.Add(int64(len(evs) - decoded))
	f.s.m.uncached.Add(int64(decoded))
	return len(evs), decoded > 0, !more || (upTo != 0 && next.seq >= upTo), nil
}

type rawEvent struct {
	seq     int64
	ts      time.Time
	raw     []byte
	created *time.Time
	stored  *time.Time
}

// readBounded reads seq in (c.seq, upTo] (upTo 0: no bound): at most
// ReadBatch events, and no more after the stored bodies reach readBytes
// (always at least one). more says the bound, not the stream's end, stopped
// it. pg_column_size reads a body's stored size without fetching it. Bodies
// are decoded after the connection is given back. A cursor of an epoch the
// stream no longer has (deleted and recreated) reads nothing: its seqs name
// other events now, and the scan starts the new epoch from its first.
func (f *follower) readBounded(ctx context.Context, k key, c cursor, upTo uint64) (out []rawEvent, more bool, err error) {
	bound := int64(upTo)
	if upTo == 0 {
		bound = 1<<63 - 1
	}
	f.s.m.reads.Inc()
	rows, err := f.readPool.Query(ctx, `SELECT seq, ts, body, created, stored, before + size >= $6 FROM (
			SELECT seq, ts, body, created, stored, pg_column_size(body) AS size,
				coalesce(sum(pg_column_size(body)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
			FROM telltale.events WHERE tenant = $1 AND stream = $2 AND seq > $3 AND seq <= $4
				AND EXISTS (SELECT FROM telltale.streams WHERE tenant = $1 AND stream = $2 AND epoch = $7)
			ORDER BY seq LIMIT $5) e
		WHERE before < $6 ORDER BY seq`,
		k.tenant, k.stream, int64(c.seq), bound, f.s.cfg.ReadBatch, readBytes, int64(c.epoch))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", k.stream, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r rawEvent
		if err := rows.Scan(&r.seq, &r.ts, &r.raw, &r.created, &r.stored, &more); err != nil {
			return nil, false, fmt.Errorf("read %s: %w", k.stream, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", k.stream, err)
	}
	return out, more || len(out) == f.s.cfg.ReadBatch, nil
}

// listen keeps one LISTEN connection, reconnecting with backoff. Every
// (re)connect asks for a full scan, which catches up whatever was published
// while it was down. A loss is logged, and so is the recovery, with how
// long it was down, so that an operator reading the log knows it ended.
func (f *follower) listen(ctx context.Context) {
	s := f.s
	attempt := 0
	var lost time.Time // when the connection was lost; zero while up
	for ctx.Err() == nil {
		err := f.listenOnce(ctx, func() {
			if !lost.IsZero() {
				s.log.Info("pg listen connection recovered", "down", time.Since(lost).Round(time.Millisecond), "attempts", attempt)
				lost = time.Time{}
			}
			attempt = 0
			s.listening.Store(true)
			f.mu.Lock()
			f.scan = true
			f.mu.Unlock()
			f.signal()
			f.seq.signal() // what was staged while it was down
		})
		if ctx.Err() != nil {
			return
		}
		s.listenErr.Store("LISTEN connection lost: " + err.Error())
		s.listening.Store(false)
		if lost.IsZero() {
			lost = time.Now()
			s.log.Warn("pg listen connection lost", "err", err)
		} else {
			s.log.Warn("pg listen connection: reconnecting failed", "err", err, "attempts", attempt+1, "down", time.Since(lost).Round(time.Millisecond))
		}
		wait := min(10*time.Second, 100*time.Millisecond<<min(attempt, 7))
		attempt++
		select {
		case <-ctx.Done():
			return
		case <-time.After(rand.N(wait) + 50*time.Millisecond):
		}
		s.m.reconnects.Inc()
	}
}

func (f *follower) listenOnce(ctx context.Context, connected func()) error {
	cfg := f.s.cfg.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "telltale-listen"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN telltale"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN telltale_staged"); err != nil {
		return err
	}
	connected()
	for {
		// A half-open socket (no RST after a network failure) would block
		// here until TCP keepalive gives up, minutes later, with health
		// saying all is well: after ListenProbe of silence, ping.
		wctx, cancel := context.WithTimeout(ctx, f.s.cfg.ListenProbe)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
				err = conn.Ping(pctx)
				pcancel()
				if err != nil {
					return fmt.Errorf("LISTEN connection silent and not answering a ping: %w", err)
				}
				continue
			}
			return err
		}
		f.s.m.notifications.Inc()
		if n.Channel == "telltale_staged" {
			// Watched tables staged events: the sequencer moves them, and
			// each move wakes the streams it wrote.
			f.seq.signal()
			continue
		}
		k, w, err := parseWake(n.Payload)
		if err != nil {
			f.s.log.Warn("pg notification", "payload", n.Payload, "err", err)
			continue
		}
		f.mu.Lock()
		if p := f.pending[k]; w.seq > p.seq || w.epoch != p.epoch {
			f.pending[k] = w
		}
		f.mu.Unlock()
		f.signal()
	}
}

// parseWake reads "tenant/stream:epoch:seq" (and the older
// "tenant/stream:seq", epoch 0 meaning unknown).
func parseWake(p string) (key, wakeAt, error) {
	ts, rest, ok := strings.Cut(p, ":")
	tenant, stream, ok2 := strings.Cut(ts, "/")
	if !ok || !ok2 {
		return key{}, wakeAt{}, errors.New("want tenant/stream:epoch:seq")
	}
	var w wakeAt
	epochText, seqText, hasEpoch := strings.Cut(rest, ":")
	if !hasEpoch {
		seqText = epochText
	} else {
		e, err := strconv.ParseUint(epochText, 10, 64)
		if err != nil {
			return key{}, wakeAt{}, err
		}
		w.epoch = e
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return key{}, wakeAt{}, err
	}
	w.seq = seq
	return key{tenant, stream}, w, nil
}

// wakeLocal is a wake-up from this node's own commit (or rollback): like a
// notification, it only says look.
func (f *follower) wakeLocal(k key, w wakeAt) {
	f.mu.Lock()
	if p := f.pending[k]; w.seq > p.seq || w.epoch != p.epoch {
		f.pending[k] = w
	}
	f.mu.Unlock()
	f.signal()
}

// wakeAt is what a wake-up announced.
type wakeAt struct{ epoch, seq uint64 }

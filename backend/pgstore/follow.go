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
)

// Run follows the events table into the sink until ctx ends: it holds
// every existing stream (Held), warms each with its recent events within the
// warm-up budgets (see warm.go) and follows it from there as soon as it is
// warm, while it listens for wake-ups and scans every ScanInterval. While
// the LISTEN connection is down it reports itself degraded, keeps scanning,
// and on reconnect catches up by seq.
func (s *Store) Run(ctx context.Context) error {
	f := &follower{s: s, cursors: make(map[key]cursor), pending: make(map[key]wakeAt), lingering: make(map[key]lingerState), wake: make(chan struct{}, 1),
		warming: make(map[key]struct{}), warmed: make(map[key]cursor)}
	ws, err := f.hold(ctx)
	if err != nil {
		return err
	}
	close(s.held)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	warmErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		f.listen(ctx)
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

// lingerFor is how long after reading a woken stream the follower looks at it
// again. Publishers notify at most every 10 ms per stream (migrations 0004 and
// 0005), so a look 12 ms later finds what committed without a wake-up of its
// own. Looks that find nothing back off (12, 24, 48, 96 ms) before stopping,
// to catch a publisher whose transaction ran on a little after it published;
// beyond that the next wake-up or the scan finds it.
const (
	lingerFor   = 12 * time.Millisecond
	lingerSteps = 4
)

type lingerState struct {
	at   time.Time
	step int
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

// catchUp reads what wake-ups announced and, when asked, what a scan finds.
func (f *follower) catchUp(ctx context.Context) error {
	f.mu.Lock()
	f.adoptWarmedLocked()
	pending, scan := f.pending, f.scan
	f.pending, f.scan = make(map[key]wakeAt), false
	f.mu.Unlock()

	now := time.Now()
	for k, w := range pending {
		if f.warmingStream(k) {
			continue // handed over with a wake-up of its own
		}
		c, known := f.cursors[k]
		if !known || (w.epoch != 0 && w.epoch != c.epoch) {
			// A new stream or a new epoch: the scan learns its epoch and
			// reads it from its first event.
			scan = true
			continue
		}
		if w.seq > c.seq {
			// To the committed end, not just the announced seq: wake-ups
			// are throttled, later commits may have none of their own.
			if _, err := f.readUpTo(ctx, k, 0); err != nil {
				return err
			}
			f.lingering[k] = lingerState{at: now.Add(lingerFor)}
		}
	}
	for k, l := range f.lingering {
		if l.at.After(now) {
			continue
		}
		n, err := f.readUpTo(ctx, k, 0)
		if err != nil {
			return err
		}
		switch {
		case n > 0:
			f.lingering[k] = lingerState{at: now.Add(lingerFor)}
		case l.step+1 < lingerSteps:
			f.lingering[k] = lingerState{at: now.Add(lingerFor << (l.step + 1)), step: l.step + 1}
		default:
			delete(f.lingering, k)
		}
	}
	if !scan {
		return nil
	}
	f.s.m.scans.Inc()
	streams, err := f.streams(ctx)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	for k, last := range streams {
		if f.warmingStream(k) {
			continue
		}
		c, known := f.cursors[k]
		if !known || c.epoch != last.epoch {
			// A stream (or epoch) born after warm-up: every one of its
			// events is new to the hub, so read it from the start. Only
			// warm-up skips history, for streams that predate the node.
			f.cursors[k] = cursor{epoch: last.epoch}
			c = f.cursors[k]
		}
		if last.seq > c.seq {
			n, err := f.readUpTo(ctx, k, last.seq)
			if err != nil {
				return err
			}
			if n > 0 {
				// As after a wake-up: a publisher queued behind this one
				// may commit without a wake-up of its own.
				f.lingering[k] = lingerState{at: time.Now().Add(lingerFor)}
			}
		}
	}
	return nil
}

// readUpTo reads the stream from its cursor to upTo (0: to its committed end)
// in batches, handing each batch to the sink in order. It returns how many
// events it read.
func (f *follower) readUpTo(ctx context.Context, k key, upTo uint64) (int, error) {
	c := f.cursors[k]
	total := 0
	for upTo == 0 || c.seq < upTo {
		evs, err := f.s.readRange(ctx, k.tenant, k.stream, c.epoch, c.seq, upTo, f.s.cfg.ReadBatch)
		if err != nil {
			f.cursors[k] = c
			return total, err
		}
		if len(evs) == 0 {
			if upTo != 0 {
				// Committed seqs are contiguous, so only retention can
				// leave nothing below a committed last_seq: skip ahead.
				c.seq = upTo
			}
			break
		}
		if f.s.cfg.Sink != nil {
			f.s.cfg.Sink(k.tenant, evs)
		}
		f.s.m.read.Add(int64(len(evs)))
		total += len(evs)
		c.seq = evs[len(evs)-1].Seq
		if upTo == 0 && len(evs) < f.s.cfg.ReadBatch {
			break
		}
	}
	f.cursors[k] = c
	return total, nil
}

// listen keeps one LISTEN connection, reconnecting with backoff. Every
// (re)connect asks for a full scan, which catches up whatever was published
// while it was down.
func (f *follower) listen(ctx context.Context) {
	s := f.s
	attempt := 0
	for ctx.Err() == nil {
		err := f.listenOnce(ctx, func() {
			attempt = 0
			s.listening.Store(true)
			f.mu.Lock()
			f.scan = true
			f.mu.Unlock()
			f.signal()
		})
		if ctx.Err() != nil {
			return
		}
		s.listenErr.Store("LISTEN connection lost: " + err.Error())
		s.listening.Store(false)
		s.log.Warn("pg listen connection lost", "err", err)
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

// wakeAt is what a wake-up announced.
type wakeAt struct{ epoch, seq uint64 }

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// tenant is the run's one tenant.
const tenant = "demo"

// publisher publishes through SQL, as a producer writing into PostgreSQL
// does (telltale.publish_batch, one transaction per stream per tick): so
// every node reads every event from the table, none from a cache of its
// own commits. Each event's values carry pub_us, the time its publish
// started, for publish→receive.
type publisher struct {
	pool    *pgxpool.Pool
	pad     string
	mu      sync.Mutex
	last    map[string]uint64 // the newest seq published per stream
	events  atomic.Int64
	calls   atomic.Int64
	errs    atomic.Int64
	lastErr atomic.Pointer[string]
}

func newPublisher(ctx context.Context, dsn string, conns, payload int) (*publisher, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(conns)
	cfg.ConnConfig.RuntimeParams["application_name"] = "nodes-publisher"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &publisher{pool: pool, pad: strings.Repeat("x", payload), last: map[string]uint64{}}, nil
}

// batch publishes n events to stream in one transaction.
func (p *publisher) batch(ctx context.Context, stream string, n int) error {
	now := time.Now().UnixMicro()
	bodies := make([]string, n)
	for i := range bodies {
		if p.pad != "" {
			bodies[i] = fmt.Sprintf(`{"values":{"pub_us":%d},"row":{"key":"k","fields":{"pad":%q}}}`, now, p.pad)
		} else {
			bodies[i] = fmt.Sprintf(`{"values":{"pub_us":%d}}`, now)
		}
	}
	var last int64
	if err := p.pool.QueryRow(ctx, `SELECT last_seq FROM telltale.publish_batch($1, $2, $3::jsonb[])`, tenant, stream, bodies).Scan(&last); err != nil {
		return fmt.Errorf("publish %s: %w", stream, err)
	}
	p.events.Add(int64(n))
	p.calls.Add(1)
	p.mu.Lock()
	if uint64(last) > p.last[stream] {
		p.last[stream] = uint64(last)
	}
	p.mu.Unlock()
	return nil
}

// newest is the newest seq published per stream.
func (p *publisher) newest() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.last))
	for k, v := range p.last {
		out[k] = v
	}
	return out
}

// rateSet is streams published at rate events/s each.
type rateSet struct {
	streams []string
	rate    float64
}

// run publishes every set at its rate until ctx ends: every tick, what each
// stream is owed by now (a late tick sends more, so the rate holds on
// average), each stream's batch on a goroutine of the stream's own, so a
// slow commit of one does not hold the others back.
func (p *publisher) run(ctx context.Context, tick time.Duration, sets []rateSet) {
	var wg sync.WaitGroup
	for _, set := range sets {
		if set.rate <= 0 {
			continue
		}
		for _, s := range set.streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				var sent int64
				t := time.NewTicker(tick)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
					owed := int64(time.Since(start).Seconds()*set.rate) - sent
					if owed <= 0 {
						continue
					}
					if err := p.batch(ctx, s, int(owed)); err != nil {
						if ctx.Err() != nil {
							return
						}
						p.errs.Add(1)
						e := err.Error()
						p.lastErr.Store(&e)
						continue
					}
					sent += owed
				}
			}()
		}
	}
	wg.Wait()
}

func (p *publisher) close() { p.pool.Close() }

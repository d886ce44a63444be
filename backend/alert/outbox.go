package alert

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// Cursors keeps, per tenant, how far its alert webhook delivery has come:
// the epoch and seq of the last row of its dashboard.AlertsStream the
// receiver took (or that was given up on). PostgreSQL keeps it where the
// next leader reads it (pgstore); MemoryCursors is the embedded store's,
// where one node runs.
type Cursors interface {
	// Cursor is the tenant's cursor; false when none is kept (delivery
	// starts at the stream's first row).
	Cursor(ctx context.Context, tenant string) (wire.Cursor, bool, error)
	// SetCursor keeps c as the tenant's cursor.
	SetCursor(ctx context.Context, tenant string, c wire.Cursor) error
}

// OutboxConfig configures an Outbox. Zero values are the documented
// defaults.
type OutboxConfig struct {
	// Webhook signs, posts, retries and deduplicates; its Run is not used
	// (the Outbox delivers). Nil: no webhook is configured, and the
	// cursors follow the heads, so that rows written meanwhile are not
	// sent when one is.
	Webhook *Webhook
	// Read returns up to limit rows of the tenant's alerts stream with seq
	// > after, oldest first (the store's Read of dashboard.AlertsStream).
	Read func(ctx context.Context, tenant string, after uint64, limit int) ([]wire.Event, error)
	// Head is the alerts stream's newest cursor as this node holds it (the
	// hub's); false when it holds none. A tenant whose head is its cursor
	// is not read.
	Head func(tenant string) (wire.Cursor, bool)
	// Tenants lists the tenants whose alerts streams may hold rows (the
	// hub's): looked at when the Outbox starts and every Every.
	Tenants func() []string
	// Cursors keeps the delivery cursors. Required.
	Cursors Cursors
	// Every is how often every tenant's head is looked at, besides the
	// tenants Notify names; zero means 10 s. Rows a former leader wrote are
	// found at the first look (or, when this node's hub had not read them
	// yet, at the next).
	Every   time.Duration
	Logger  *slog.Logger // nil means discard
	Metrics *metrics.Registry
}

// Outbox delivers the alerts webhook from what is durable: the rows of each
// tenant's alerts stream, in seq order, from a cursor kept in the store and
// moved once the receiver took a row. A leader that dies or is drained
// between writing a row and delivering it leaves the cursor before it, and
// the next leader (or the node, restarted) delivers it: at least once, the
// receiver dropping a repeat by its DeliveryHeader, which is the same on
// every try and on every node. A row the Webhook gives up on (every attempt
// failed, or a 4xx) is passed, as before.
type Outbox struct {
	cfg  OutboxConfig
	log  *slog.Logger
	wake chan struct{}

	mu   sync.Mutex
	held map[string]wire.Cursor // the cursors this Outbox read or moved
	due  map[string]bool        // tenants Notify named since the last look

	skipped *metrics.Value
}

// readBatch is how many rows one read of a tenant's stream takes.
const readBatch = 100

// NewOutbox returns an Outbox; Run delivers.
func NewOutbox(cfg OutboxConfig) *Outbox {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Outbox{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), held: map[string]wire.Cursor{}, due: map[string]bool{},
		skipped: cfg.Metrics.Counter("telltale_alert_webhook_rows_skipped_total", "alert rows never delivered: the store no longer kept them when the webhook came to them"),
	}
}

// Notify is the Evaluator's Notify: a row of the tenant's was written, look
// now. It never blocks.
func (o *Outbox) Notify(tenant string, _ dashboard.Alert, _ time.Time) {
	o.mu.Lock()
	o.due[tenant] = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends: every tenant's rows at once (what a former
// term left) and every Every, the tenants Notify names when it does.
func (o *Outbox) Run(ctx context.Context) error {
	t := time.NewTicker(o.cfg.Every)
	defer t.Stop()
	all := true
	for {
		if all {
			o.pass(ctx, o.cfg.Tenants())
		} else {
			o.mu.Lock()
			due := make([]string, 0, len(o.due))
			for tenant := range o.due {
				due = append(due, tenant)
			}
			clear(o.due)
			o.mu.Unlock()
			o.pass(ctx, due)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
			all = false
		case <-t.C:
			all = true
		}
	}
}

// pass delivers what the tenants' streams hold past their cursors.
func (o *Outbox) pass(ctx context.Context, tenants []string) {
	for _, tenant := range tenants {
		if ctx.Err() != nil {
			return
		}
		if err := o.tenant(ctx, tenant); err != nil && ctx.Err() == nil {
			o.log.Warn("alert webhook: delivery stopped; trying again", "tenant", tenant, "err", err)
		}
	}
}

// tenant delivers the tenant's rows past its cursor, in order, moving the
// cursor after each; it returns at the first that is not settled.
func (o *Outbox) tenant(ctx context.Context, tenant string) error {
	head, ok := o.cfg.Head(tenant)
	if !ok {
		return nil
	}
	o.mu.Lock()
	cur, held := o.held[tenant]
	o.mu.Unlock()
	if !held {
		c, ok, err := o.cfg.Cursors.Cursor(ctx, tenant)
		if err != nil {
			return err
		}
		if ok {
			cur = c
		}
		o.keep(tenant, cur)
	}
	if cur.Epoch == head.Epoch && cur.Seq >= head.Seq {
		return nil
	}
	if o.cfg.Webhook == nil {
		return o.move(ctx, tenant, head)
	}
	for {
		after := cur.Seq
		if cur.Epoch != head.Epoch {
			after = 0 // a new stream: its first row on
		}
		evs, err := o.cfg.Read(ctx, tenant, after, readBatch)
		if errors.Is(err, store.ErrTrimmed) {
			// Rows the store dropped before the webhook came to them
			// (the embedded store's ring): go on from the oldest kept.
			kept, err := o.oldestKept(ctx, tenant, after, head.Seq)
			if err != nil {
				return err
			}
			o.skipped.Add(int64(kept - after))
			o.log.Warn("alert webhook: rows no longer kept, not delivered", "tenant", tenant, "from", after+1, "to", kept)
			cur = wire.Cursor{Epoch: head.Epoch, Seq: kept}
			if err := o.move(ctx, tenant, cur); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for i := range evs {
			ev := &evs[i]
			if a, ok := dashboard.ParseAlert(ev.Row); ok && o.cfg.Webhook.take(tenant, a) {
				if !o.cfg.Webhook.deliver(ctx, message(tenant, a, time.UnixMilli(ev.Time))) {
					return ctx.Err() // not settled: the cursor stays before it
				}
			}
			cur = wire.Cursor{Epoch: ev.Epoch, Seq: ev.Seq}
			if err := o.move(ctx, tenant, cur); err != nil {
				return err
			}
		}
		head.Epoch = cur.Epoch
		if len(evs) < readBatch {
			return nil
		}
	}
}

// oldestKept is the largest seq in [after, head] from which the tenant's
// rows can be read (its successor is the oldest kept), given that reading
// after after is ErrTrimmed: a binary search, for a case that is rare.
func (o *Outbox) oldestKept(ctx context.Context, tenant string, after, head uint64) (uint64, error) {
	lo, hi := after, head // reading after lo is trimmed; after hi (the head) is not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		_, err := o.cfg.Read(ctx, tenant, mid, 1)
		switch {
		case errors.Is(err, store.ErrTrimmed):
			lo = mid
		case err != nil:
			return 0, err
		default:
			hi = mid
		}
	}
	return hi, nil
}

// move keeps c as the tenant's cursor, in memory at once (this term does
// not send the row again) and in the store (the next term does not either;
// when that fails, the next term sends it again: at least once).
func (o *Outbox) move(ctx context.Context, tenant string, c wire.Cursor) error {
	o.keep(tenant, c)
	return o.cfg.Cursors.SetCursor(ctx, tenant, c)
}

func (o *Outbox) keep(tenant string, c wire.Cursor) {
	o.mu.Lock()
	o.held[tenant] = c
	o.mu.Unlock()
}

// MemoryCursors keeps delivery cursors in memory: the embedded store's,
// whose alerts streams do not outlive the process either.
type MemoryCursors struct {
	mu sync.Mutex
	m  map[string]wire.Cursor
}

// Cursor implements Cursors.
func (m *MemoryCursors) Cursor(_ context.Context, tenant string) (wire.Cursor, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[tenant]
	return c, ok, nil
}

// SetCursor implements Cursors.
func (m *MemoryCursors) SetCursor(_ context.Context, tenant string, c wire.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]wire.Cursor{}
	}
	m.m[tenant] = c
	return nil
}

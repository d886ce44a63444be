// Package store is the contract of the event log the server runs on: per
// tenant and stream, events with contiguous sequence numbers, appended and
// read back by seq or by event time. The embedded store (memstore) and
// PostgreSQL (pgstore) both implement it, and storetest.Run checks that
// they keep the same promises; the server's consumers (wsgate, httpapi,
// ingest, aggregate, demo) take these interfaces, or smaller ones of their
// own, never a concrete store.
//
// It must never hold an implementation: only the interfaces, the errors a
// store returns, and what every store promises. Wire-level codes (such as
// wire.CodeQuota, which a refused stream is reported as) stay in
// shared/wire.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/wire"
)

// ErrStreamQuota is what a store returns when appending would create a
// stream past the tenant's limit; nothing of the batch is stored. Callers
// answer it with wire.CodeQuota (WebSocket) or 429 (HTTP).
var ErrStreamQuota = errors.New("the tenant is at its limit of streams")

// ErrTrimmed means the requested events are older than the store keeps
// (the embedded store's ring). A store whose retention dropped them may
// instead return the oldest kept events after them: readers that need
// every seq check that the first one read is after+1.
var ErrTrimmed = errors.New("events no longer kept")

// History reads a stream's stored events: the gateway reads the gaps of
// resuming clients older than the hub's ring, the stream API reads chart
// windows older than a page holds, the aggregate engine rebuilds from it.
type History interface {
	// Read returns up to limit events of the stream with seq > after,
	// oldest first, with their Stream, Epoch, Seq, Time, Created and
	// Stored as appended. A stream the tenant does not have reads as none
	// (nil, nil); see ErrTrimmed for events no longer kept.
	Read(ctx context.Context, tenant, stream string, after uint64, limit int) ([]wire.Event, error)
	// ReadWindow returns up to limit events of the stream with seq > after
	// and event time (Time) in [from, to], oldest first.
	ReadWindow(ctx context.Context, tenant, stream string, from, to time.Time, after uint64, limit int) ([]wire.Event, error)
}

// Log is the event log: History plus appending.
type Log interface {
	History
	// Append gives evs the stream's next seqs, in place, and keeps them:
	// every event or none. Stream, Epoch, Seq and Stored are overwritten;
	// Time and Created are stamped when zero. An invalid stream name
	// (wire.ValidStream) is an error; a new stream past the tenant's limit
	// is ErrStreamQuota.
	Append(ctx context.Context, tenant, stream string, evs []wire.Event) error
	// AppendAll appends several streams' events of one tenant, as Append
	// does each: every stream's or none (a bad name, ErrStreamQuota).
	AppendAll(ctx context.Context, tenant string, streams map[string][]wire.Event) error
}

// Store is everything the server keeps in its store besides the hub's
// memory: the event log, each tenant's dashboards and the token
// revocation list. Both stores are one; the server opens one Store value
// and hands each consumer the facet it needs.
type Store interface {
	Log
	dashstore.Store
	auth.Revocations
}

// Follower is a store that other writers share (PostgreSQL: other nodes,
// SQL's telltale.publish, watched tables): what any of them appends
// reaches this process only by following the log, which Run does. A store
// whose only writer is this process (the embedded one) hands its appends
// to its sink directly and is no Follower.
type Follower interface {
	// Run follows the log into the store's sink until ctx ends, warming
	// the hub with each stream's recent events first.
	Run(ctx context.Context) error
	// Held is closed once Run holds every existing stream in the hub for
	// warming: the server listens after it, so that a resuming client
	// waits for its stream's recent events instead of resyncing.
	Held() <-chan struct{}
	// Health reports whether following is connected and current; reason
	// says why not.
	Health() (ok bool, reason string)
	// Warming reports how many streams are still warming, of how many.
	Warming() (left, total int)
}

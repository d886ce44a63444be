package hub

import (
	"sync"

	"github.com/telltale/telltale/shared/wire"
)

// Held is a stream that a store is still warming (folding its recent events
// into the hub after a restart). Until Release, everything that reads the
// stream (Subscribe, SubscribeFrom, Watch, Snapshot, Cursor) waits, so no
// one is handed a half-folded state as if it were whole, nor an empty one
// before the first event is in.
type Held struct {
	h      *Hub
	s      *stream
	tenant string
	once   sync.Once
}

// Hold takes a stream for warming: it holds the stream's lock from now
// until Release, which the caller must call (a warming that fails too).
// Publishing to a held stream through Hub.Publish would wait for Release;
// the warmer publishes through Held.Publish instead.
func (h *Hub) Hold(tenant, name string) *Held {
	return &Held{h: h, s: h.lock(key{tenant, name}), tenant: tenant}
}

// Publish folds consecutive events into the held stream, as Hub.Publish.
// It must not be called after Release.
func (w *Held) Publish(evs []wire.Event) {
	if len(evs) > 0 {
		w.h.publish(w.tenant, w.s, evs)
	}
}

// Release hands the stream over: waiting readers get its state as warmed.
// It is idempotent.
func (w *Held) Release() { w.once.Do(w.s.mu.Unlock) }

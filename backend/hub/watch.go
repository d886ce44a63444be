package hub

import "github.com/telltale/telltale/shared/wire"

// watcher is a subscription that only wants to know that a stream moved.
type watcher struct{ wake func() }

func (w *watcher) Snapshot(string, []byte)          {}
func (w *watcher) Deliver(string, uint64, [][]byte) { w.wake() }
func (w *watcher) Resync(string, string)            { w.wake() }

// Watch returns where the hub holds a stream and calls wake, with the stream
// locked (it must not block), when events after that position arrive or the
// stream restarts. Long-polls wait on it instead of reading the store in a
// loop. A name the hub does not hold is watched from (0, 0) and forgotten
// again at cancel if nothing was published meanwhile, as for Subscribe.
// cancel is idempotent.
func (h *Hub) Watch(tenant, name string, wake func()) (wire.Cursor, func(), error) {
	var cur wire.Cursor
	cancel, err := h.subscribe(tenant, name, &watcher{wake: wake}, func(s *stream) error {
		cur = s.st.Cursor()
		return nil
	})
	return cur, cancel, err
}

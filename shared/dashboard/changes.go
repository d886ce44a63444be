package dashboard

import (
	"strings"

	"github.com/telltale/telltale/shared/wire"
)

// ChangesStream is the stream of each tenant on which the server announces
// every change to that tenant's stored dashboards: one row per dashboard,
// keyed by its id (ChangeEvent). Pages follow it to switch to a new version
// without a reload, and to say so when the dashboard they show is deleted;
// its snapshot is the tenant's list of dashboards. Only the server writes it:
// the "telltale." prefix is reserved (Reserved).
const ChangesStream = "telltale.dashboards"

// ReservedPrefix starts the names of the server's own streams, which no
// producer may write.
const ReservedPrefix = "telltale."

// Reserved reports whether a stream name is one of the server's own.
func Reserved(stream string) bool { return strings.HasPrefix(stream, ReservedPrefix) }

// Change is one announcement on ChangesStream.
type Change struct {
	ID      string
	Version int // the version now current; 0 with Deleted
	Title   string
	Deleted bool
}

// ChangeEvent is the event announcing c: a row keyed by the dashboard's id,
// with fields "version" and "title", or a delete of that key.
func ChangeEvent(c Change) wire.Event {
	if c.Deleted {
		return wire.Event{Row: &wire.Row{Key: c.ID, Op: wire.RowDelete}}
	}
	return wire.Event{Row: &wire.Row{Key: c.ID, Fields: map[string]any{"version": float64(c.Version), "title": c.Title}}}
}

// ParseChange reads an event of ChangesStream; false when it is not one.
func ParseChange(ev *wire.Event) (Change, bool) {
	r := ev.Row
	if r == nil || r.Key == "" {
		return Change{}, false
	}
	if r.Op == wire.RowDelete {
		return Change{ID: r.Key, Deleted: true}, true
	}
	c := Change{ID: r.Key}
	switch v := r.Fields["version"].(type) {
	case float64:
		c.Version = int(v)
	case int64:
		c.Version = int(v)
	case uint64:
		c.Version = int(v)
	default:
		return Change{}, false
	}
	c.Title, _ = r.Fields["title"].(string)
	return c, c.Version > 0
}

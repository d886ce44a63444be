package aggregate

import (
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// WantsStream is the stream of each tenant on which nodes that do not lead
// ask the leader to compute a derived stream a page of theirs wants
// (EngineConfig.Forward): one row per derived stream, keyed by its name,
// with the time it was last asked for. The leader's Tap reads the rows as
// they come (the follower's wake-up, milliseconds); a new leader reads the
// recent ones from the hub's state of the stream (Wanted). A row every
// minute per derived stream a page watches on a node that does not lead
// keeps the leader's IdleAfter from stopping it. Its name starts with
// "telltale.", which ingest refuses: only the server writes it.
const WantsStream = "telltale.wants"

// wantAtField is a WantsStream row's field: when the stream was asked for
// (Unix ms).
const wantAtField = "at"

// WantEvent is a WantsStream event saying stream was wanted at at.
func WantEvent(stream string, at time.Time) wire.Event {
	return wire.Event{Time: at.UnixMilli(), Row: &wire.Row{Key: stream, Fields: map[string]any{wantAtField: at.UnixMilli()}}}
}

// Wanted returns the derived streams a WantsStream state (the hub's
// snapshot of it) says were asked for since since.
func Wanted(st *wire.State, since time.Time) []string {
	if st == nil {
		return nil
	}
	var out []string
	for i := range st.Rows {
		r := &st.Rows[i]
		if !Derived(r.Key) {
			continue
		}
		if at, ok := toInt64(r.Fields[wantAtField]); ok && at >= since.UnixMilli() {
			out = append(out, r.Key)
		}
	}
	return out
}

// toInt64 reads a row field that a JSON or msgpack round trip may have
// turned into any number type.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint64:
		return int64(n), true
	case uint32:
		return int64(n), true
	case float64:
		return int64(n), true
	case float32:
		return int64(n), true
	}
	return 0, false
}

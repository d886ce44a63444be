// Package aggregate computes the aggregates dashboards declare (shared/agg)
// incrementally from their source streams' events, into derived events.
package aggregate

import (
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// State is one aggregate's state for one tenant. It is not safe for
// concurrent use and does no I/O.
type State struct {
	spec *agg.Spec
	// TODO(issue 16): every function and window.
}

// NewState returns an empty state of spec.
func NewState(spec *agg.Spec) *State { return &State{spec: spec} }

// Add folds one source event (any payload; what the spec does not read is
// ignored). Rows and gauges are dated by ev.Time, points by their own
// timestamps; an event in a bucket already emitted updates that bucket.
func (s *State) Add(ev *wire.Event) {}

// Emit returns what changed since the last Emit (or Full) as derived event
// payloads, Stream, Epoch and Seq unset and Time the newest source time;
// nil when nothing changed. now moves sliding and calendar windows.
func (s *State) Emit(now time.Time) []wire.Event { return nil }

// Full returns the whole current picture as derived event payloads: what a
// rebuilt state emits first.
func (s *State) Full(now time.Time) []wire.Event { return nil }

// Late counts the source events that landed in a bucket already emitted.
func (s *State) Late() uint64 { return 0 }

// Size is about how many bytes the state holds.
func (s *State) Size() int { return 0 }

// Computer is what the runtime drives: State for every function but m4,
// M4 for m4.
type Computer interface {
	Add(ev *wire.Event)
	Emit(now time.Time) []wire.Event
	Full(now time.Time) []wire.Event
	Late() uint64
	Size() int
}

// New returns an empty computer of spec.
func New(spec *agg.Spec) Computer {
	if spec.Fn == "m4" {
		return newM4(spec)
	}
	return NewState(spec)
}

package aggregate

import (
	"time"

	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/wire"
)

// M4 keeps, per bucket of a points source, each series' first, min, max and
// last sample: what a chart of the bucket's width draws, whatever the rate.
type M4 struct {
	spec *agg.Spec
	// TODO(issue 16, phones): buckets.
}

func newM4(spec *agg.Spec) *M4 { return &M4{spec: spec} }

func (m *M4) Add(ev *wire.Event)              {}
func (m *M4) Emit(now time.Time) []wire.Event { return nil }
func (m *M4) Full(now time.Time) []wire.Event { return nil }
func (m *M4) Late() uint64                    { return 0 }
func (m *M4) Size() int                       { return 0 }

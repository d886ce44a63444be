package aggregate

import (
	"math"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// livestateStream folds derived events as the hub and pages do.
type livestateStream struct{ s livestate.Stream }

func (l *livestateStream) apply(ev *wire.Event) error {
	_, err := l.s.Apply(ev)
	return err
}

// at is series col's value at ts, NaN when there is none.
func (l *livestateStream) at(ts int64, col string) float64 {
	p := livestate.Aligned(&l.s.State.Points)
	vals := p.Col(col)
	for i, t := range p.TS {
		if t == ts && i < len(vals) {
			return vals[i]
		}
	}
	return math.NaN()
}

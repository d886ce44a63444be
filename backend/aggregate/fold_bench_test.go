package aggregate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// BenchmarkFoldStates is the fold at one beat without the engine's
// goroutines, deterministic (a seeded generator, no clock): 250 ms of one
// source's rows at the bench's pace (500 rows) folded into its 10
// aggregates, aggregate by aggregate with shared rowFields as Engine.fold
// does, then emitted, after 4 MiB of other memory was written. Under
// cachegrind its instruction and cache-miss counts compare two builds
// where timing on a loaded machine cannot:
//
//	valgrind --tool=cachegrind --cache-sim=yes --LL=4194304,16,64 \
//	  ./aggregate.test -test.run '^$' -test.bench BenchmarkFoldStates -test.benchtime 50x
func BenchmarkFoldStates(b *testing.B) {
	const perBeat = 500
	var states []*State
	for _, s := range benchSpecs(b, 50, 5) {
		if s.Source == "orders0" {
			states = append(states, NewState(s))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	evs := make([]wire.Event, perBeat)
	rows := make([]rowFields, perBeat)
	other := make([]byte, 4<<20)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range evs {
			seq++
			evs[i] = wire.Event{Stream: "orders0", Seq: seq, Time: now.UnixMilli() + int64(i/2), Row: &wire.Row{
				Key: "k" + strconv.Itoa(rng.IntN(1000)), Fields: map[string]any{
					"region": "r" + strconv.Itoa(rng.IntN(10)), "customer": "c" + strconv.Itoa(rng.IntN(1000)),
					"total": float64(rng.IntN(50000)) / 100}}}
		}
		now = now.Add(250 * time.Millisecond)
		for i := 0; i < len(other); i += 64 {
			other[i]++
		}
		clear(rows)
		b.StartTimer()
		for _, st := range states {
			for i := range evs {
				st.add(&evs[i], &rows[i])
			}
		}
		for _, st := range states {
			st.Emit(now)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBeat), "ns/event")
}

package sla

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// FuzzReport: whatever a page sends (msgpack or JSON), decoding and Check
// neither panic nor let through a report outside the caps, and Take merges
// what Check lets through.
func FuzzReport(f *testing.F) {
	r := report("s", t0, 5, 10, 20)
	b, _ := msgpack.Marshal(r)
	f.Add(b)
	var m map[string]any
	_ = msgpack.Unmarshal(b, &m)
	j, _ := json.Marshal(m)
	f.Add(j)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, decode := range []func([]byte) (*wire.Report, error){DecodeReportMsgpack, DecodeReportJSON} {
			r, err := decode(b)
			if err != nil {
				continue
			}
			if err := Check(r, t0); err != nil {
				continue
			}
			period := time.Duration(r.To - r.From)
			maxEvents := uint64(math.Ceil(period.Seconds() * sla.MaxEventsPerSec))
			for _, p := range r.Panels {
				if p.Painted > maxEvents || p.FreshMs < 0 || p.StaleMs < 0 || p.FreshMs+p.StaleMs > period.Milliseconds() {
					t.Fatalf("past the caps: %+v", p)
				}
				for _, h := range p.Stages {
					var sum uint64
					for k, i := range h.Index {
						if i < sla.MinBin || i > sla.MaxBin || k > 0 && i <= h.Index[k-1] {
							t.Fatalf("bins %v", h.Index)
						}
						sum += uint64(h.Counts[k])
					}
					if sum > maxEvents {
						t.Fatalf("%d events in a stage, over %d", sum, maxEvents)
					}
				}
				for _, s := range p.Stale {
					if s.Ms < 0 || s.Start > r.To || s.Start+s.Ms*int64(time.Millisecond) > r.To {
						t.Fatalf("stale period %+v past the report's To %d", s, r.To)
					}
				}
			}
			if err := New(Config{}).Take("acme", r, t0); err != nil {
				t.Fatalf("Take refused what Check let through: %v", err)
			}
		}
	})
}

package wire

import (
	"fmt"
	"testing"

	"github.com/telltale/telltale/shared/sla"
)

// sampleSnapshot is a snapshot the size the UI asks for: a few gauges, rows
// of mixed fields and a chart's worth of points.
func sampleSnapshot(rows, points int) Snapshot {
	st := State{Values: map[string]float64{"orders_today": 812, "revenue_today": 40321, "orders_open": 17}, LastTime: 1_700_000_000_000}
	for i := range rows {
		st.Rows = append(st.Rows, Row{Key: fmt.Sprintf("o-%d", i), Op: RowUpdate, Fields: map[string]any{
			"id": fmt.Sprintf("o-%d", i), "status": "packed", "region": "eu-west", "total": 12.5 + float64(i), "items": i,
		}})
	}
	st.Points.TS = make([]int64, points)
	st.Points.Cols = []Column{{Name: "pick_rate", Vals: make([]float64, points)}, {Name: "queue", Vals: make([]float64, points)}}
	for i := range points {
		st.Points.TS[i] = 1_700_000_000_000 + int64(i)*20
		st.Points.Cols[0].Vals[i] = float64(i) * 1.25
		st.Points.Cols[1].Vals[i] = float64(i % 7)
	}
	return Snapshot{Stream: "orders", Epoch: 1_763_800_000_000_000_000, Seq: 123_456, State: st}
}

// benchEncode times encoding the frames, all of them per iteration.
func benchEncode(b *testing.B, frames ...Frame) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			if _, err := Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchDecode times decoding the frames' bytes, all of them per iteration.
func benchDecode(b *testing.B, frames ...[]byte) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			if _, err := Decode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// encodeAll encodes frames for a decode benchmark.
func encodeAll(b *testing.B, frames ...Frame) [][]byte {
	b.Helper()
	out := make([][]byte, len(frames))
	for i, f := range frames {
		var err error
		if out[i], err = Encode(f); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func BenchmarkEncodeSnapshot_100Rows250Points(b *testing.B) {
	benchEncode(b, sampleSnapshot(100, 250))
}

func BenchmarkDecodeSnapshot_100Rows250Points(b *testing.B) {
	benchDecode(b, encodeAll(b, sampleSnapshot(100, 250))...)
}

// controlFrames are the small frames every connection exchanges: a hello
// with one cursor, a ping, a sub from a cursor.
var controlFrames = []Frame{
	Hello{Token: "eyJhbGciOiJIUzI1NiJ9.e30.sig", Cursors: []Cursor{{Stream: "orders", Epoch: 1_763_800_000_000_000_000, Seq: 99}}, Client: "pwa"},
	Ping{Time: 1_763_800_000_000_000_000},
	Sub{Stream: "metrics", From: &Cursor{Stream: "metrics", Epoch: 3, Seq: 12}},
}

func BenchmarkEncodeControl_3Frames(b *testing.B) { benchEncode(b, controlFrames...) }

func BenchmarkDecodeControl_3Frames(b *testing.B) {
	benchDecode(b, encodeAll(b, controlFrames...)...)
}

// sampleReport is a page's report as one sends it every sla.ReportEvery:
// panels × every stage × bins bins of latencies around 40 ms, and two
// stale periods per panel.
func sampleReport(panels, bins int) Report {
	r := Report{Screen: "9f86d081884c7d65", Dashboard: "orders-desk", From: 1_763_800_000_000_000_000, To: 1_763_800_010_000_000_000,
		ClockErr: 2_500_000, Transport: sla.TransportSocket, Panels: make([]PanelReport, panels)}
	first := sla.Bin(40) - int32(bins/2)
	for i := range r.Panels {
		p := PanelReport{Panel: fmt.Sprintf("panel-%d", i), Painted: 500, FreshMs: 9_200, StaleMs: 800,
			Stale: []StalePeriod{{Start: r.From + 1e9, Ms: 500, Cause: sla.CauseSilent}, {Start: r.From + 5e9, Ms: 300, Cause: sla.CauseClientLag}}}
		for _, st := range sla.Stages {
			h := StageHist{Stage: st, Index: make([]int32, bins), Counts: make([]uint32, bins)}
			for k := range bins {
				h.Index[k], h.Counts[k] = first+int32(k), uint32(1+k%13)
			}
			p.Stages = append(p.Stages, h)
		}
		r.Panels[i] = p
	}
	return r
}

// The report of BenchmarkDecodeReport_8Panels40Bins is the one the fan-out
// benchmark's clients send (bench/cmd/fanout -reports): 8 panels × 7 stages
// × 40 bins, about 6 KB.
func BenchmarkEncodeReport_8Panels40Bins(b *testing.B) { benchEncode(b, sampleReport(8, 40)) }

func BenchmarkDecodeReport_8Panels40Bins(b *testing.B) {
	frames := encodeAll(b, sampleReport(8, 40))
	b.SetBytes(int64(len(frames[0])))
	benchDecode(b, frames...)
}

// BenchmarkDecodeReport_MaxCaps is the largest report the decoder takes.
func BenchmarkDecodeReport_MaxCaps(b *testing.B) {
	frames := encodeAll(b, maxReport())
	b.SetBytes(int64(len(frames[0])))
	benchDecode(b, frames...)
}

func BenchmarkDecodeSync(b *testing.B) {
	benchDecode(b, encodeAll(b, Sync{Client: 1_763_800_000_000_000_000})...)
}

// BenchmarkDecodeReportReused_8Panels40Bins is BenchmarkDecodeReport_8Panels40Bins
// through DecodeReport into one report, as the gateway decodes them.
func BenchmarkDecodeReportReused_8Panels40Bins(b *testing.B) {
	frame := encodeAll(b, sampleReport(8, 40))[0]
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var rep Report
	for b.Loop() {
		if err := DecodeReport(frame, &rep); err != nil {
			b.Fatal(err)
		}
	}
}

package wire

import (
	"fmt"
	"testing"
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

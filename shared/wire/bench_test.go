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

func BenchmarkEncodeSnapshot_100Rows250Points(b *testing.B) {
	s := sampleSnapshot(100, 250)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSnapshot_100Rows250Points(b *testing.B) {
	frame, err := Encode(sampleSnapshot(100, 250))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// The control benchmarks time the small frames every connection exchanges:
// a hello with one cursor, a ping, a sub from a cursor.
func BenchmarkEncodeControl_3Frames(b *testing.B) {
	frames := []Frame{
		Hello{Token: "eyJhbGciOiJIUzI1NiJ9.e30.sig", Cursors: []Cursor{{Stream: "orders", Epoch: 1_763_800_000_000_000_000, Seq: 99}}, Client: "pwa"},
		Ping{Time: 1_763_800_000_000_000_000},
		Sub{Stream: "metrics", From: &Cursor{Stream: "metrics", Epoch: 3, Seq: 12}},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames {
			if _, err := Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkDecodeControl_3Frames(b *testing.B) {
	var raw [][]byte
	for _, f := range []Frame{
		Hello{Token: "eyJhbGciOiJIUzI1NiJ9.e30.sig", Cursors: []Cursor{{Stream: "orders", Epoch: 1_763_800_000_000_000_000, Seq: 99}}, Client: "pwa"},
		Ping{Time: 1_763_800_000_000_000_000},
		Sub{Stream: "metrics", From: &Cursor{Stream: "metrics", Epoch: 3, Seq: 12}},
	} {
		bs, err := Encode(f)
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, bs)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, bs := range raw {
			if _, err := Decode(bs); err != nil {
				b.Fatal(err)
			}
		}
	}
}

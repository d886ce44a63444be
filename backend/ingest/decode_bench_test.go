package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/telltale/telltale/shared/wire"
)

// wideRequest is one of bench/cmd/neighbours' tenant-A requests at the
// default caps: 1,000 gauge names, 1,000 series × 16 points, or a row of 250
// text fields.
func wideRequest(shape string) Request {
	ev := Event{Stream: "a"}
	switch shape {
	case "gauges":
		ev.Values = map[string]float64{}
		for i := range 1000 {
			ev.Values[fmt.Sprintf("g0_%d", i)] = float64(i) + 0.25
		}
	case "series":
		p := &wire.Points{}
		for j := range 16 {
			p.TS = append(p.TS, 1_780_000_000_000+int64(j))
		}
		for i := range 1000 {
			c := wire.Column{Name: fmt.Sprintf("s0_%d", i)}
			for j := range 16 {
				c.Vals = append(c.Vals, float64(j)+0.5)
			}
			p.Cols = append(p.Cols, c)
		}
		ev.Points = p
	case "rows":
		r := &wire.Row{Key: "r0", Fields: map[string]any{}}
		for i := range 250 {
			r.Fields[fmt.Sprintf("f%d", i)] = fmt.Sprintf("value %d of row 0, padded to be a realistic text field", i)
		}
		ev.Row = r
	}
	return Request{Events: []Event{ev}}
}

// reportCPU adds the process's CPU time per op (user and system, the
// collector's included) to b's report when the returned func is called: on
// a loaded machine ns/op is mostly waiting for a core, CPU time is not.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkDecodeWide is ingest's decoding of one wide request, as decode
// does it, in JSON and in msgpack. Its MB/s is per MB of the JSON body for
// both (b.SetBytes of the JSON), so the two compare per the same events;
// cpu-ns/op is the one to compare on a loaded machine:
//
//	go test -run XXX -bench DecodeWide -benchmem -count 5 ./backend/ingest/
func BenchmarkDecodeWide(b *testing.B) {
	for _, shape := range []string{"gauges", "series", "rows"} {
		req := wideRequest(shape)
		js, err := json.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		mp, err := msgpack.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("json/"+shape, func(b *testing.B) {
			b.SetBytes(int64(len(js)))
			defer reportCPU(b)()
			for b.Loop() {
				var r Request
				dec := json.NewDecoder(bytes.NewReader(js))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("msgpack/"+shape, func(b *testing.B) {
			b.SetBytes(int64(len(js)))
			defer reportCPU(b)()
			for b.Loop() {
				var m msgRequest
				if err := unmarshalMsgpack(mp, &m); err != nil {
					b.Fatal(err)
				}
				if len(m.Events) != 1 {
					b.Fatalf("%d events", len(m.Events))
				}
			}
		})
	}
}

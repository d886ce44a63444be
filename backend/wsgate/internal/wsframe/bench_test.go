package wsframe

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// BenchmarkReadMessage: reading one small masked client frame (a pong-sized
// message) from a 256-byte buffer, as the gateway does.
func BenchmarkReadMessage(b *testing.B) {
	var one []byte
	payload := bytes.Repeat([]byte{0x81}, 24)
	key := [4]byte{1, 2, 3, 4}
	masked := bytes.Clone(payload)
	mask(masked, key)
	one = append(one, 0x82, 0x80|byte(len(payload)))
	one = append(one, key[:]...)
	one = append(one, masked...)
	stream := bytes.Repeat(one, 1024)
	src := bytes.NewReader(stream)
	r := &Reader{R: bufio.NewReaderSize(src, 256), MaxMessage: 1 << 20}
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	for i := 0; b.Loop(); i++ {
		if i%1024 == 0 {
			src.Reset(stream)
			r.R.Reset(src)
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBinary: a server frame header and payload appended to a
// reused buffer (the flushers' path).
func BenchmarkAppendBinary(b *testing.B) {
	payload := make([]byte, 120)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBinary(buf[:0], payload)
	}
}

// BenchmarkInflate_8KBReport inflates a page's freshness report as
// Chromium sends it over a socket that negotiated permessage-deflate (every
// message compressed): msgpack of 8 panels × 7 stages × 40 bins, 8.7 KB,
// about 2.1 KB deflated.
func BenchmarkInflate_8KBReport(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var msg []byte
	for p := range 8 {
		msg = append(msg, fmt.Sprintf("\xa5panel\xa7panel-%d\xa6stages\x97", p)...)
		for s := range 7 {
			msg = append(msg, fmt.Sprintf("\x83\xa5stage\xa5st-%02d\xa5index\xdc\x00\x28", s)...)
			first := 100 + rng.IntN(60)
			for k := range 40 {
				msg = append(msg, 0xcc, byte(first+k))
			}
			msg = append(msg, "\xa6counts\xdc\x00\x28"...)
			for range 40 {
				msg = append(msg, byte(1+rng.IntN(20)))
			}
		}
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.DefaultCompression)
	_, _ = w.Write(msg)
	_ = w.Flush()
	compressed := bytes.TrimSuffix(z.Bytes(), []byte(tail))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := inflate(compressed, 1<<20)
		if err != nil || !bytes.Equal(out, msg) {
			b.Fatal(err, len(out))
		}
	}
}

// BenchmarkInflate_Report inflates the fan-out's report (bench/cmd/fanout
// -reports: 8 panels × 7 stages × 35–45 bins, counts 1–20) deflated as
// Chromium sends it, in each shape of its histograms: "index" as index and
// counts (about 8 KB, as BenchmarkInflate_8KBReport), "packed" as a page
// now sends them (wire.StageHist: first bin and uvarint counts, about
// 4.8 KB).
func BenchmarkInflate_Report(b *testing.B) {
	medians := []float64{2, 0.5, 4, 20, 0.8, 8, 40}
	for _, shape := range []string{"index", "packed"} {
		b.Run(shape, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(18, 18))
			r := wire.Report{Screen: "screen-000001", Dashboard: "fanout-board", From: 1, To: 1 + 10e9, ClockErr: 500_000,
				Transport: sla.TransportSocket, Panels: make([]wire.PanelReport, 8)}
			for i := range r.Panels {
				p := wire.PanelReport{Panel: fmt.Sprintf("panel-%d", i), FreshMs: 10_000}
				for s, stage := range sla.Stages {
					n := 35 + rng.IntN(11)
					h := wire.StageHist{Stage: stage, Index: make([]int32, n), Counts: make([]uint32, n)}
					for k := range n {
						h.Index[k], h.Counts[k] = sla.Bin(medians[s])-int32(n/2)+int32(k), uint32(1+rng.IntN(20))
					}
					if shape == "packed" {
						h.First, h.Packed = wire.PackBins(nil, h.Index, h.Counts)
						h.Index, h.Counts = nil, nil
					}
					p.Stages = append(p.Stages, h)
				}
				r.Panels[i] = p
			}
			msg, err := wire.EncodeClient(&r)
			if err != nil {
				b.Fatal(err)
			}
			var z bytes.Buffer
			w, _ := flate.NewWriter(&z, flate.DefaultCompression)
			_, _ = w.Write(msg)
			_ = w.Flush()
			compressed := bytes.TrimSuffix(z.Bytes(), []byte(tail))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				out, err := inflate(compressed, 1<<20)
				if err != nil || !bytes.Equal(out, msg) {
					b.Fatal(err, len(out))
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(len(compressed)), "deflated-B")
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

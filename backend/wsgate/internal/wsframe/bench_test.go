package wsframe

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"testing"
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

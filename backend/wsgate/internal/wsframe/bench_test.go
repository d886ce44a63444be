package wsframe

import (
	"bufio"
	"bytes"
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

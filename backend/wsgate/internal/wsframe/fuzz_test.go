package wsframe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader: whatever bytes a client sends, the Reader returns messages
// within its limit or an error, and never panics or reads past a message.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\x82\x85\x01\x02\x03\x04ihold"), false)
	f.Add([]byte("\x02\x82\x00\x00\x00\x00ab\x89\x80\x00\x00\x00\x00\x80\x82\x00\x00\x00\x00cd"), false)
	f.Add([]byte("\xc1\x87\x00\x00\x00\x00\xf2\x48\xcd\xc9\xc9\x07\x00"), true)
	f.Add([]byte("\x88\x82\x00\x00\x00\x00\x03\xe8"), false)
	f.Add([]byte("\x82\xff\x00\x00\x00\x00\x00\x00\x10\x00"), true)
	f.Fuzz(func(t *testing.T, b []byte, deflate bool) {
		r := &Reader{R: bufio.NewReaderSize(bytes.NewReader(b), 256), MaxMessage: 512, Deflate: deflate}
		for range 64 {
			m, err := r.Next()
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) && err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("error %v is neither a protocol error nor the end", err)
				}
				return
			}
			if len(m.Payload) > 512 {
				t.Fatalf("%v message of %d bytes over the 512 limit", m.Op, len(m.Payload))
			}
			switch m.Op {
			case OpText, OpBinary, OpClose, OpPing, OpPong:
			default:
				t.Fatalf("Next returned %v", m.Op)
			}
		}
	})
}

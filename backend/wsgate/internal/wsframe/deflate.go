package wsframe

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// tail is what a deflater's sync flush ends with and permessage-deflate
// leaves off the wire (RFC 7692 §7.2.1); the inflater needs it back.
const tail = "\x00\x00\xff\xff"

// Without context takeover in either direction, no deflate state outlives
// a message: writers and readers are pooled across every connection.
var (
	flateWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}}
	inflaters sync.Pool // of *inflater
)

// inflater is inflate's pooled state: a flate reader, the compressed bytes
// with the tail put back, read through a bytes.Reader (an io.ByteReader,
// which flate reads directly: through the io.MultiReader it was, flate
// wrapped it in a bufio.Reader and read it a byte at a time through that),
// and an output buffer that keeps its size between messages, so that the
// message gets one exact copy (a bytes.Buffer grew from 512 bytes by
// doubling: 31 KB allocated and cleared for an 8 KB report). A page's
// report deflated by Chromium, 8.7 KB in 2.1 KB: 45 µs CPU, 34.7 KB in 50
// allocations, before.
type inflater struct {
	fr      io.ReadCloser
	rd      bytes.Reader
	in, out []byte
}

// maxPooledInflate bounds the buffers an inflater keeps in the pool.
const maxPooledInflate = 64 << 10

// AppendCompressed appends payload as one final binary frame compressed
// with permessage-deflate, for a connection that negotiated it. It is
// CPU-heavy (a 1.2 MB deflater, pooled): callers ration it.
func AppendCompressed(dst, payload []byte) []byte {
	var z bytes.Buffer
	z.Grow(len(payload)/2 + 64)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&z)
	_, _ = w.Write(payload) // a bytes.Buffer does not fail
	_ = w.Flush()
	flateWriters.Put(w)
	b := bytes.TrimSuffix(z.Bytes(), []byte(tail))
	if len(b) == 0 { // an empty message: one empty stored block
		b = []byte{0x00}
	}
	dst = AppendHeader(dst, true, OpBinary, true, len(b))
	return append(dst, b...)
}

// inflate decompresses one message's payload, refusing more than max bytes.
func inflate(b []byte, max int) ([]byte, error) {
	z, _ := inflaters.Get().(*inflater)
	if z == nil {
		z = new(inflater)
	}
	defer func() {
		if cap(z.in) > maxPooledInflate || cap(z.out) > maxPooledInflate {
			z.in, z.out = nil, nil // a big message's buffers are not kept
		}
		z.rd.Reset(nil)
		inflaters.Put(z)
	}()
	z.in = append(append(z.in[:0], b...), tail...)
	z.rd.Reset(z.in)
	if z.fr == nil {
		z.fr = flate.NewReader(&z.rd)
	} else if err := z.fr.(flate.Resetter).Reset(&z.rd, nil); err != nil {
		return nil, err
	}
	out := z.out[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := z.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > max {
			z.out = out
			return nil, &ProtocolError{StatusTooBig, "inflated message too big"}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			// ErrUnexpectedEOF: the stream ended after the tail, as a
			// sync-flushed one does.
			break
		}
		if err != nil {
			z.out = out
			return nil, &ProtocolError{StatusInvalidData, "bad deflate data: " + err.Error()}
		}
	}
	z.out = out
	msg := make([]byte, len(out))
	copy(msg, out)
	return msg, nil
}

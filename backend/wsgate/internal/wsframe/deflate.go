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
	flateReaders sync.Pool
)

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
	src := io.MultiReader(bytes.NewReader(b), bytes.NewReader([]byte(tail)))
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else if err := fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer flateReaders.Put(fr)
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(fr, int64(max)+1))
	switch {
	case err == io.ErrUnexpectedEOF:
		// The stream ended after the tail, as a sync-flushed one does.
	case err != nil:
		return nil, &ProtocolError{StatusInvalidData, "bad deflate data: " + err.Error()}
	}
	if n > int64(max) {
		return nil, &ProtocolError{StatusTooBig, "inflated message too big"}
	}
	return out.Bytes(), nil
}

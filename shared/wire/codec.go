package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// A frame is a msgpack map {"v": Version, "t": type, "b": body}. Keys other
// than these are ignored, as are unknown fields inside a body, so either side
// can add fields without breaking the other.

type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.UseCompactInts(true)
	return e
}}

var decoders = sync.Pool{New: func() any { return msgpack.NewDecoder(nil) }}

func getEncoder() *encoder {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	return e
}

func (e *encoder) bytes() []byte {
	out := bytes.Clone(e.buf.Bytes())
	if e.buf.Cap() <= 1<<20 { // do not pin a huge buffer in the pool
		encoders.Put(e)
	}
	return out
}

func (e *encoder) header(t Type) {
	// Errors from a bytes.Buffer writer cannot happen; encoding the body can.
	_ = e.enc.EncodeMapLen(3)
	_ = e.enc.EncodeString("v")
	_ = e.enc.EncodeInt(Version)
	_ = e.enc.EncodeString("t")
	_ = e.enc.EncodeString(string(t))
	_ = e.enc.EncodeString("b")
}

// Encode returns f as one frame's bytes.
func Encode(f Frame) ([]byte, error) {
	e := getEncoder()
	e.header(f.FrameType())
	if err := e.enc.Encode(f); err != nil {
		encoders.Put(e)
		return nil, fmt.Errorf("encode %s frame: %w", f.FrameType(), err)
	}
	return e.bytes(), nil
}

// EncodeEvent encodes one event on its own, for the hub to encode each event
// once and share the bytes with every subscriber through EncodeBatch.
func EncodeEvent(ev *Event) ([]byte, error) {
	e := getEncoder()
	if err := e.enc.Encode(ev); err != nil {
		encoders.Put(e)
		return nil, fmt.Errorf("encode event %s/%d: %w", ev.Stream, ev.Seq, err)
	}
	return e.bytes(), nil
}

// EncodeBatch builds a Batch frame from events encoded by EncodeEvent. The
// per-connection cost is a copy of the bytes, never a re-encode.
func EncodeBatch(stream string, sent int64, events [][]byte) []byte {
	n := 48 + len(stream)
	for _, ev := range events {
		n += len(ev)
	}
	return AppendBatch(make([]byte, 0, n), stream, sent, events)
}

// AppendBatch appends a Batch frame to dst, so that a connection writer can
// reuse one buffer for every frame it writes. It writes msgpack by hand: the
// frame is the envelope, three fields and the events' bytes as they are.
// TestEncodeBatchDecodesAsBatch holds it to Batch's field names.
func AppendBatch(dst []byte, stream string, sent int64, events [][]byte) []byte {
	dst = append(dst, 0x83, 0xa1, 'v')
	dst = appendInt(dst, Version)
	dst = append(dst, 0xa1, 't')
	dst = appendStr(dst, string(TypeBatch))
	dst = append(dst, 0xa1, 'b', 0x83)
	dst = appendStr(dst, "stream")
	dst = appendStr(dst, stream)
	dst = appendStr(dst, "sent")
	dst = appendInt(dst, sent)
	dst = appendStr(dst, "events")
	switch n := len(events); {
	case n < 16:
		dst = append(dst, 0x90|byte(n))
	case n < 1<<16:
		dst = append(dst, 0xdc, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, ev := range events {
		dst = append(dst, ev...)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}

func appendInt(dst []byte, v int64) []byte {
	if v >= -32 && v < 128 {
		return append(dst, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

// Decode reads one frame. Malformed input returns an *Error with a code that
// can be sent back to the peer as it is; it never panics and never allocates
// much more than len(b) values.
func Decode(b []byte) (Frame, error) {
	if err := checkStructure(b); err != nil {
		return nil, &Error{Code: CodeBadFrame, Message: err.Error()}
	}
	r := reader{b: b}
	version := -1
	var (
		typ  Type
		body []byte
	)
	if r.peek()&0xf0 != 0x80 && r.peek() != 0xde && r.peek() != 0xdf {
		return nil, &Error{Code: CodeBadFrame, Message: "frame is not a msgpack map"}
	}
	r.fields(func(k []byte) {
		switch string(k) {
		case "v":
			version = int(r.int64())
		case "t":
			typ = typeOf(r.rawString())
		case "b":
			body = r.raw()
		default:
			r.skip()
		}
		if r.err != nil {
			r.err = fmt.Errorf("field %q: %w", k, r.err)
		}
	})
	switch {
	case r.err != nil:
		return nil, &Error{Code: CodeBadFrame, Message: r.err.Error()}
	case version != Version:
		return nil, &Error{Code: CodeVersion, Message: fmt.Sprintf("protocol version %d, want %d", version, Version)}
	case typ == "":
		return nil, &Error{Code: CodeBadFrame, Message: "frame has no type"}
	case body == nil:
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s frame has no body", typ)}
	}
	var (
		f   Frame
		err error
	)
	if typ == TypeBatch {
		// The hot path: by hand, straight from the bytes.
		br := reader{b: body}
		f = br.batch()
		err = br.err
	} else {
		d := decoders.Get().(*msgpack.Decoder)
		d.Reset(bytes.NewReader(body))
		f, err = decodeBody(d, typ)
		decoders.Put(d)
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s body: %v", typ, err)}
	}
	return f, nil
}

// typeOf returns the frame type named t, without allocating for known ones.
func typeOf(t []byte) Type {
	for _, known := range types {
		if string(t) == string(known) {
			return known
		}
	}
	return Type(t)
}

var types = [...]Type{TypeBatch, TypePing, TypePong, TypeSnapshot, TypeResync, TypeSub, TypeUnsub, TypeHello, TypeWelcome, TypeError}

func decodeBody(d *msgpack.Decoder, t Type) (Frame, error) {
	switch t {
	case TypeHello:
		return decodeInto[Hello](d)
	case TypeWelcome:
		return decodeInto[Welcome](d)
	case TypeSub:
		return decodeInto[Sub](d)
	case TypeUnsub:
		return decodeInto[Unsub](d)
	case TypeSnapshot:
		return decodeInto[Snapshot](d)
	case TypeBatch:
		return decodeInto[Batch](d)
	case TypeResync:
		return decodeInto[Resync](d)
	case TypeError:
		return decodeInto[Error](d)
	case TypePing:
		return decodeInto[Ping](d)
	case TypePong:
		return decodeInto[Pong](d)
	}
	return nil, &Error{Code: CodeUnknownType, Message: fmt.Sprintf("unknown frame type %.32q", string(t))}
}

type frameBody interface {
	Hello | Welcome | Sub | Unsub | Snapshot | Batch | Resync | Error | Ping | Pong
	Frame
}

func decodeInto[T frameBody](d *msgpack.Decoder) (Frame, error) {
	var v T
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Unmarshal decodes msgpack from outside (an ingest body, say) into v after
// the same structure check as Decode, so hostile lengths cannot make it
// allocate more than the input justifies. Unknown fields are errors: a
// producer's typo must not silently drop data.
func Unmarshal(b []byte, v any) error {
	if err := checkStructure(b); err != nil {
		return err
	}
	d := decoders.Get().(*msgpack.Decoder)
	defer decoders.Put(d)
	d.Reset(bytes.NewReader(b))
	d.DisallowUnknownFields(true)
	defer d.DisallowUnknownFields(false)
	return d.Decode(v)
}

package wire

import (
	"bytes"
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

// batchOut is Batch with its events already encoded. Its msgpack field names
// must match Batch's; TestEncodeBatchDecodesAsBatch holds them together.
type batchOut struct {
	Stream string               `msgpack:"stream"`
	Sent   int64                `msgpack:"sent"`
	Events []msgpack.RawMessage `msgpack:"events"`
}

// EncodeBatch builds a Batch frame from events encoded by EncodeEvent. The
// per-connection cost is a copy of the bytes, never a re-encode.
func EncodeBatch(stream string, sent int64, events [][]byte) ([]byte, error) {
	raw := make([]msgpack.RawMessage, len(events))
	for i, ev := range events {
		raw[i] = ev
	}
	e := getEncoder()
	e.header(TypeBatch)
	if err := e.enc.Encode(&batchOut{Stream: stream, Sent: sent, Events: raw}); err != nil {
		encoders.Put(e)
		return nil, fmt.Errorf("encode batch of %s: %w", stream, err)
	}
	return e.bytes(), nil
}

// Decode reads one frame. Malformed input returns an *Error with a code that
// can be sent back to the peer as it is; it never panics and never allocates
// much more than len(b) values.
func Decode(b []byte) (Frame, error) {
	if err := checkStructure(b); err != nil {
		return nil, &Error{Code: CodeBadFrame, Message: err.Error()}
	}
	d := decoders.Get().(*msgpack.Decoder)
	defer decoders.Put(d)
	d.Reset(bytes.NewReader(b))

	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, &Error{Code: CodeBadFrame, Message: "frame is not a msgpack map"}
	}
	version := -1
	var (
		typ  Type
		body []byte
		f    Frame
		seen bool
	)
	for range n {
		key, err := d.DecodeString()
		if err != nil {
			return nil, &Error{Code: CodeBadFrame, Message: "frame key is not a string"}
		}
		switch key {
		case "v":
			version, err = d.DecodeInt()
		case "t":
			var s string
			s, err = d.DecodeString()
			typ = Type(s)
		case "b":
			seen = true
			if typ != "" && version == Version {
				f, err = decodeBody(d, typ)
			} else {
				body, err = d.DecodeRaw()
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			if e, ok := err.(*Error); ok {
				return nil, e
			}
			return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("field %q: %v", key, err)}
		}
	}
	switch {
	case version != Version:
		return nil, &Error{Code: CodeVersion, Message: fmt.Sprintf("protocol version %d, want %d", version, Version)}
	case typ == "":
		return nil, &Error{Code: CodeBadFrame, Message: "frame has no type"}
	case !seen:
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s frame has no body", typ)}
	case f != nil:
		return f, nil
	}
	d.Reset(bytes.NewReader(body))
	f, err = decodeBody(d, typ)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, e
		}
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s body: %v", typ, err)}
	}
	return f, nil
}

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

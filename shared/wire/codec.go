package wire

import (
	"bytes"
	"fmt"
	"sync"
)

// A frame is a msgpack map {"v": Version, "t": type, "b": body}. Keys other
// than these are ignored, as are unknown fields inside a body, so either side
// can add fields without breaking the other.

// buffers holds encode buffers, so that encoding costs one allocation: the
// exact-size copy it returns.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// encodeWith runs write on a pooled buffer and returns a copy of what it
// wrote.
func encodeWith(write func(dst []byte) ([]byte, error)) ([]byte, error) {
	bp := buffers.Get().(*[]byte)
	b, err := write((*bp)[:0])
	var out []byte
	if err == nil {
		out = bytes.Clone(b)
	}
	if cap(b) <= 1<<20 { // do not pin a huge buffer in the pool
		*bp = b[:0]
		buffers.Put(bp)
	}
	return out, err
}

// bodyAppender is what every frame type implements (frame_encode.go).
type bodyAppender interface {
	Frame
	appendBody(dst []byte) ([]byte, error)
}

// Encode returns f as one frame's bytes.
func Encode(f Frame) ([]byte, error) {
	a, ok := f.(bodyAppender)
	if !ok {
		return nil, fmt.Errorf("encode %s frame: %T is not a frame of this package", f.FrameType(), f)
	}
	b, err := encodeWith(func(dst []byte) ([]byte, error) {
		return a.appendBody(appendHeader(dst, a.FrameType()))
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", f.FrameType(), err)
	}
	return b, nil
}

// ClientFrame is a frame a client sends: hello, sub, unsub, pong, refresh,
// sync, report.
type ClientFrame interface {
	Frame
	appendClientBody(dst []byte) ([]byte, error)
}

func (h Hello) appendClientBody(dst []byte) ([]byte, error)   { return h.appendBody(dst) }
func (s Sub) appendClientBody(dst []byte) ([]byte, error)     { return s.appendBody(dst) }
func (u Unsub) appendClientBody(dst []byte) ([]byte, error)   { return u.appendBody(dst) }
func (p Pong) appendClientBody(dst []byte) ([]byte, error)    { return p.appendBody(dst) }
func (r Refresh) appendClientBody(dst []byte) ([]byte, error) { return r.appendBody(dst) }
func (s Sync) appendClientBody(dst []byte) ([]byte, error)    { return s.appendBody(dst) }
func (r Report) appendClientBody(dst []byte) ([]byte, error)  { return r.appendBody(dst) }

// EncodeClient is Encode for the frames a client sends. The browser build
// calls only this, so the linker keeps only these frames' encoders: Encode's
// call through bodyAppender would keep every frame's, and with them the
// encoders of state, rows and values (about 50 KB of app.wasm).
func EncodeClient(f ClientFrame) ([]byte, error) {
	b, err := encodeWith(func(dst []byte) ([]byte, error) {
		return f.appendClientBody(appendHeader(dst, f.FrameType()))
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", f.FrameType(), err)
	}
	return b, nil
}

func appendHeader(dst []byte, t Type) []byte {
	dst = append(dst, 0x83, 0xa1, 'v')
	dst = appendInt(dst, Version)
	dst = append(dst, 0xa1, 't')
	dst = appendStr(dst, string(t))
	return append(dst, 0xa1, 'b')
}

// EncodeEvent encodes one event on its own, for the hub to encode each event
// once and share the bytes with every subscriber through EncodeBatch.
func EncodeEvent(ev *Event) ([]byte, error) {
	b, err := encodeWith(func(dst []byte) ([]byte, error) { return appendEvent(dst, ev) })
	if err != nil {
		return nil, fmt.Errorf("encode event %s/%d: %w", ev.Stream, ev.Seq, err)
	}
	return b, nil
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
	dst = appendMapLen(appendHeader(dst, TypeBatch), 3)
	dst = appendStr(appendStr(dst, "stream"), stream)
	dst = appendInt(appendStr(dst, "sent"), sent)
	dst = appendArrayLen(appendStr(dst, "events"), len(events))
	for _, ev := range events {
		dst = append(dst, ev...)
	}
	return dst
}

// EncodeBatchHead is EncodeBatch with the stream's head (Batch.Head), for
// answers outside the connection writer's hot path (HTTP events).
func EncodeBatchHead(stream string, sent int64, head uint64, events [][]byte) []byte {
	if head == 0 {
		return EncodeBatch(stream, sent, events)
	}
	n := 64 + len(stream)
	for _, ev := range events {
		n += len(ev)
	}
	dst := appendMapLen(appendHeader(make([]byte, 0, n), TypeBatch), 4)
	dst = appendStr(appendStr(dst, "stream"), stream)
	dst = appendInt(appendStr(dst, "sent"), sent)
	dst = appendArrayLen(appendStr(dst, "events"), len(events))
	for _, ev := range events {
		dst = append(dst, ev...)
	}
	return appendUint(appendStr(dst, "head"), head)
}

// EncodeResumeAck builds the empty Batch that acknowledges a sub from a
// cursor; head is the stream's newest seq at that moment (the replay ends
// there), zero when unknown.
func EncodeResumeAck(stream string, head uint64) []byte {
	b, _ := Batch{Stream: stream, Events: []Event{}, Head: head}.appendBody(appendHeader(make([]byte, 0, 48+len(stream)), TypeBatch))
	return b
}

// Decode reads one frame. Malformed input returns an *Error with a code that
// can be sent back to the peer as it is; it never panics and never allocates
// much more than len(b) values.
func Decode(b []byte) (Frame, error) { return decode(b, decodeAny) }

// DecodeServer is Decode for the frames a server sends (welcome, snapshot,
// batch, resync, error, ping, expiring, clock): a client refuses the others, and
// the browser build links only these decoders.
func DecodeServer(b []byte) (Frame, error) { return decode(b, decodeServerBody) }

// ServerDecoder is DecodeServer for a client that applies each batch before
// it reads the next frame: a batch comes back as a *Batch that the decoder
// keeps, and the next Decode overwrites it, its events, their Values maps
// and their Rows (a Row's Fields map is always new, so a Row copied out may
// be kept). Per event of the fan-out benchmark's batches it allocates 4 times
// instead of 7, half the bytes, and decodes 15–20 % faster
// (BenchmarkDecodeBatch_Fanout).
type ServerDecoder struct{ batch Batch }

// Decode decodes one server frame.
func (d *ServerDecoder) Decode(b []byte) (Frame, error) {
	return decode(b, func(typ Type, br *reader) Frame {
		if typ == TypeBatch {
			br.batchInto(&d.batch)
			return &d.batch
		}
		return decodeServerBody(typ, br)
	})
}

func decode(b []byte, body func(Type, *reader) Frame) (Frame, error) {
	if err := CheckStructure(b); err != nil {
		return nil, &Error{Code: CodeBadFrame, Message: err.Error()}
	}
	r := reader{b: b}
	version := -1
	var (
		typ Type
		raw []byte
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
			raw = r.raw()
		default:
			r.skip()
		}
	})
	switch {
	case r.err != nil:
		return nil, &Error{Code: CodeBadFrame, Message: r.err.Error()}
	case version != Version:
		return nil, &Error{Code: CodeVersion, Message: fmt.Sprintf("protocol version %d, want %d", version, Version)}
	case typ == "":
		return nil, &Error{Code: CodeBadFrame, Message: "frame has no type"}
	case raw == nil:
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s frame has no body", typ)}
	}
	br := reader{b: raw}
	f := body(typ, &br)
	if f == nil {
		return nil, &Error{Code: CodeUnknownType, Message: fmt.Sprintf("unknown frame type %.32q", string(typ))}
	}
	if br.err != nil {
		return nil, &Error{Code: CodeBadFrame, Message: fmt.Sprintf("%s body: %v", typ, br.err)}
	}
	return f, nil
}

// TypeOf is the type a frame names, read without decoding its body; "" when
// b is not a frame. For accounting a frame Decode refused (a report over
// its caps is counted as a refused report).
func TypeOf(b []byte) Type {
	r := reader{b: b}
	var typ Type
	if r.peek()&0xf0 != 0x80 && r.peek() != 0xde && r.peek() != 0xdf {
		return ""
	}
	r.fields(func(k []byte) {
		if string(k) == "t" {
			typ = typeOf(r.rawString())
		} else {
			r.skip()
		}
	})
	if r.err != nil && typ == "" {
		return ""
	}
	return typ
}

// decodeServerBody decodes the body of a frame a server sends; nil for
// any other type.
func decodeServerBody(typ Type, br *reader) Frame {
	switch typ {
	case TypeBatch:
		return br.batch() // the hot path
	case TypeWelcome:
		return br.welcome()
	case TypeSnapshot:
		return br.snapshot()
	case TypeResync:
		return br.resync()
	case TypeError:
		return br.errorFrame()
	case TypePing:
		return Ping{Time: br.int64Field("time")}
	case TypeExpiring:
		return Expiring{At: br.int64Field("at")}
	case TypeClock:
		return br.clock()
	}
	return nil
}

// decodeAny decodes the body of any frame; nil for an unknown type.
func decodeAny(typ Type, br *reader) Frame {
	switch typ {
	case TypeHello:
		return br.hello()
	case TypeSub:
		return br.sub()
	case TypeUnsub:
		return br.unsub()
	case TypePong:
		return Pong{Time: br.int64Field("time")}
	case TypeRefresh:
		return br.refresh()
	case TypeSync:
		return Sync{Client: br.int64Field("client")}
	case TypeReport:
		return br.report()
	}
	return decodeServerBody(typ, br)
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

var types = [...]Type{TypeBatch, TypePing, TypePong, TypeSnapshot, TypeResync, TypeSub, TypeUnsub, TypeHello, TypeWelcome, TypeError, TypeExpiring, TypeRefresh, TypeSync, TypeClock, TypeReport}

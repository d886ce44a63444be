package wsframe

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// Reader reads client frames from R, a message at a time. It is the whole
// read side of a server connection: it unmasks, joins fragments, inflates
// compressed messages (when Deflate was negotiated), checks text is UTF-8,
// and returns control frames as they come, between fragments too, for the
// caller to answer through its write side. A Reader is used by one goroutine
// at a time; it keeps no buffer between messages.
type Reader struct {
	R *bufio.Reader
	// MaxMessage is the largest message, in payload bytes (inflated for a
	// compressed one), taken: a larger one is a StatusTooBig error.
	MaxMessage int
	// Deflate: permessage-deflate was negotiated (Accept).
	Deflate bool

	// A fragmented message being read; op is 0 between messages.
	op         Opcode
	compressed bool
	msg        []byte
	// scratch holds a header as it is read: a field, not a local, which
	// io.ReadFull would move to the heap on every frame.
	scratch [8]byte
}

// Message is what Next returns: a whole data message (OpText, OpBinary,
// the payload inflated) or one control frame (OpPing, OpPong, OpClose).
// Payload is the caller's: the Reader keeps no reference to it.
type Message struct {
	Op      Opcode
	Payload []byte
}

// Next reads until it has a whole data message or a control frame. A
// *ProtocolError says how the peer broke the protocol and which code to
// close with; any other error is the connection's (io.EOF: closed). After
// an error the Reader must not be used again.
func (r *Reader) Next() (Message, error) {
	for {
		h, err := r.header()
		if err != nil {
			return Message{}, err
		}
		if h.op.control() {
			p, err := r.payload(h, nil)
			if err != nil {
				return Message{}, err
			}
			return Message{Op: h.op, Payload: p}, nil
		}
		switch {
		case h.op == OpContinuation && r.op == 0:
			return Message{}, &ProtocolError{StatusProtocolError, "continuation frame outside a message"}
		case h.op != OpContinuation && r.op != 0:
			return Message{}, &ProtocolError{StatusProtocolError, "new message inside a fragmented one"}
		case h.op != OpContinuation:
			r.op, r.compressed, r.msg = h.op, h.rsv1, nil
		case h.rsv1:
			return Message{}, &ProtocolError{StatusProtocolError, "RSV1 set on a continuation frame"}
		}
		limit := r.MaxMessage
		if r.compressed {
			limit = r.wireLimit()
		}
		if len(r.msg)+h.n > limit {
			return Message{}, &ProtocolError{StatusTooBig, fmt.Sprintf("message over %d bytes", r.MaxMessage)}
		}
		if r.msg, err = r.payload(h, r.msg); err != nil {
			return Message{}, err
		}
		if !h.fin {
			continue
		}
		m := Message{Op: r.op, Payload: r.msg}
		compressed := r.compressed
		r.op, r.compressed, r.msg = 0, false, nil
		if compressed {
			if m.Payload, err = inflate(m.Payload, r.MaxMessage); err != nil {
				return Message{}, err
			}
		}
		if m.Op == OpText && !validUTF8(m.Payload) {
			return Message{}, &ProtocolError{StatusInvalidData, "text message is not UTF-8"}
		}
		if m.Payload == nil {
			m.Payload = []byte{}
		}
		return m, nil
	}
}

// wireLimit is the most bytes a message may take on the wire: MaxMessage,
// and with deflate a margin for a message that does not compress (stored
// blocks cost 5 bytes in 64 KB).
func (r *Reader) wireLimit() int {
	if !r.Deflate {
		return r.MaxMessage
	}
	return r.MaxMessage + r.MaxMessage/1024 + 64
}

type header struct {
	fin, rsv1 bool
	op        Opcode
	n         int
	mask      [4]byte
}

// header reads and checks one frame header.
func (r *Reader) header() (h header, err error) {
	b := r.scratch[:2]
	if _, err := io.ReadFull(r.R, b); err != nil {
		return h, err
	}
	h.fin = b[0]&0x80 != 0
	h.rsv1 = b[0]&0x40 != 0
	h.op = Opcode(b[0] & 0x0f)
	masked := b[1]&0x80 != 0
	n := uint64(b[1] & 0x7f)
	switch {
	case b[0]&0x30 != 0:
		return h, &ProtocolError{StatusProtocolError, "RSV2 or RSV3 set"}
	case h.rsv1 && (!r.Deflate || h.op.control()):
		return h, &ProtocolError{StatusProtocolError, "RSV1 set without permessage-deflate"}
	case h.op > OpBinary && h.op < OpClose || h.op > OpPong:
		return h, &ProtocolError{StatusProtocolError, fmt.Sprintf("unknown %v", h.op)}
	case !masked:
		return h, &ProtocolError{StatusProtocolError, "client frame not masked"}
	case h.op.control() && (!h.fin || n > maxControl):
		return h, &ProtocolError{StatusProtocolError, "control frame fragmented or over 125 bytes"}
	}
	switch n {
	case 126:
		e := r.scratch[:2]
		if _, err := io.ReadFull(r.R, e); err != nil {
			return h, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(e))
	case 127:
		e := r.scratch[:8]
		if _, err := io.ReadFull(r.R, e); err != nil {
			return h, unexpected(err)
		}
		n = binary.BigEndian.Uint64(e)
		if n>>63 != 0 {
			return h, &ProtocolError{StatusProtocolError, "frame length with its top bit set"}
		}
	}
	if n > uint64(r.wireLimit()) {
		return h, &ProtocolError{StatusTooBig, fmt.Sprintf("message over %d bytes", r.MaxMessage)}
	}
	h.n = int(n)
	if _, err := io.ReadFull(r.R, r.scratch[:4]); err != nil {
		return h, unexpected(err)
	}
	copy(h.mask[:], r.scratch[:4])
	return h, nil
}

// payload appends the frame's payload, unmasked, to dst.
func (r *Reader) payload(h header, dst []byte) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, h.n)[:start+h.n]
	if _, err := io.ReadFull(r.R, dst[start:]); err != nil {
		return nil, unexpected(err)
	}
	mask(dst[start:], h.mask)
	return dst, nil
}

// mask applies key to b in place (§5.3); it unmasks as well.
func mask(b []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k) | uint64(k)<<32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// unexpected: a connection that ends inside a frame is not a clean EOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func validUTF8(b []byte) bool { return utf8.Valid(b) }

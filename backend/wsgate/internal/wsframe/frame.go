// Package wsframe is the server side of RFC 6455 WebSocket framing, made
// for a gateway that owns its sockets: the opening handshake with
// permessage-deflate (RFC 7692, without context takeover), a Reader of
// client messages, and functions that append server frames to a buffer, so
// that every byte reaches the socket through the caller's one write side.
//
// It holds no state of its own per connection beyond the Reader's few
// words: no goroutine, no buffer between messages, no deflate window. It
// must never write to a socket itself: a control frame the peer asks for (a
// pong, the close echo) is returned to the caller to write.
package wsframe

import (
	"encoding/binary"
	"fmt"
)

// Opcode is a frame's opcode (RFC 6455 §5.2).
type Opcode byte

const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xa
)

func (o Opcode) control() bool { return o&0x8 != 0 }

func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %#x", byte(o))
}

// Close status codes (RFC 6455 §7.4.1) the package itself uses.
const (
	StatusNormal        = 1000
	StatusGoingAway     = 1001
	StatusProtocolError = 1002
	StatusUnsupported   = 1003
	StatusNoStatus      = 1005 // never sent: a close frame without a code
	StatusInvalidData   = 1007 // text that is not UTF-8, a bad deflate stream
	StatusPolicy        = 1008
	StatusTooBig        = 1009
	StatusInternal      = 1011
)

// MaxHeader is the longest header of a server frame (unmasked).
const MaxHeader = 10

// maxControl is the longest payload of a control frame (§5.5).
const maxControl = 125

// AppendHeader appends the header of an unmasked server frame of n payload
// bytes. rsv1 marks a compressed message's first frame (RFC 7692 §6).
func AppendHeader(dst []byte, fin bool, op Opcode, rsv1 bool, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, b0, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendBinary appends payload as one final, uncompressed binary frame.
func AppendBinary(dst, payload []byte) []byte {
	return append(AppendHeader(dst, true, OpBinary, false, len(payload)), payload...)
}

// AppendControl appends a control frame (ping, pong); a payload over 125
// bytes is cut to 125.
func AppendControl(dst []byte, op Opcode, payload []byte) []byte {
	payload = payload[:min(len(payload), maxControl)]
	return append(AppendHeader(dst, true, op, false, len(payload)), payload...)
}

// AppendClose appends a close frame with code and reason; the reason is cut
// to fit a control frame, at a UTF-8 boundary. Code StatusNoStatus appends a
// close frame without a body.
func AppendClose(dst []byte, code int, reason string) []byte {
	if code == StatusNoStatus {
		return AppendHeader(dst, true, OpClose, false, 0)
	}
	reason = cutUTF8(reason, maxControl-2)
	dst = AppendHeader(dst, true, OpClose, false, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // s[n] continues a character
		n--
	}
	return s[:n]
}

// ParseClose reads a close frame's body: its code (StatusNoStatus when it
// has none) and reason. A body of one byte, a code a peer may not send, or
// a reason that is not UTF-8 is an error (§5.5.1, §7.4).
func ParseClose(body []byte) (code int, reason string, err error) {
	switch {
	case len(body) == 0:
		return StatusNoStatus, "", nil
	case len(body) == 1:
		return 0, "", &ProtocolError{StatusProtocolError, "close frame with a 1-byte body"}
	}
	code = int(binary.BigEndian.Uint16(body))
	if !validCloseCode(code) {
		return 0, "", &ProtocolError{StatusProtocolError, fmt.Sprintf("close code %d may not be sent", code)}
	}
	if !validUTF8(body[2:]) {
		return 0, "", &ProtocolError{StatusInvalidData, "close reason is not UTF-8"}
	}
	return code, string(body[2:]), nil
}

// validCloseCode: the codes a close frame may carry (§7.4.1, §7.4.2; 1012–
// 1014 are registered with IANA since).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ProtocolError is a peer breaking the protocol: the connection must be
// closed with Code (1002 protocol error, 1007 invalid data, 1009 too big).
type ProtocolError struct {
	Code   int
	Reason string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("websocket: %s (%d)", e.Reason, e.Code) }

package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/telltale/telltale/shared/wire"
)

// A msgpack body is decoded through these private mirrors of Request, Event
// and wire.Row so that a row's fields are read by decodeValue, not by
// msgpack/v5's interface decoding: that one turns the timestamp extension
// into a time.Time and binary into []byte, which the body would then carry
// into a store and the hub although no subscriber can be sent them, and its
// errors name neither the event nor the field.

type msgRequest struct {
	Events msgEvents `msgpack:"events"`
}

// msgEvents decodes the events array itself, so an error says which event.
type msgEvents []Event

func (es *msgEvents) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		*es = nil
		return err
	}
	out := make([]Event, n) // n is bounded by the body (wire.CheckStructure)
	for i := range out {
		var e msgEvent
		if err := d.Decode(&e); err != nil {
			return fmt.Errorf("events[%d]: %w", i, err)
		}
		out[i] = Event{Stream: e.Stream, Time: e.Time, Values: e.Values, Points: e.Points}
		if e.Row != nil {
			out[i].Row = &wire.Row{Key: e.Row.Key, Op: e.Row.Op, Fields: e.Row.Fields}
		}
	}
	*es = out
	return nil
}

// msgEvent is Event with its row read by msgRow; the tags must match Event's.
type msgEvent struct {
	Stream string             `msgpack:"stream"`
	Time   int64              `msgpack:"time,omitempty"`
	Values map[string]float64 `msgpack:"values,omitempty"`
	Row    *msgRow            `msgpack:"row,omitempty"`
	Points *wire.Points       `msgpack:"points,omitempty"`
}

// msgRow is wire.Row with its fields read by msgFields; the tags must match.
type msgRow struct {
	Key    string     `msgpack:"key"`
	Op     wire.RowOp `msgpack:"op,omitempty"`
	Fields msgFields  `msgpack:"fields,omitempty"`
}

type msgFields map[string]any

func (f *msgFields) DecodeMsgpack(d *msgpack.Decoder) error {
	v, err := decodeValue(d, 0)
	if err != nil {
		return prefix(err, "row.fields")
	}
	switch m := v.(type) {
	case nil:
		*f = nil
	case map[string]any:
		*f = m
	default:
		return fmt.Errorf("row.fields: want a map of field names to values, not %T", v)
	}
	return nil
}

// valueError is a field that cannot be carried; path grows as the error
// returns outwards, so a good body pays nothing for paths.
type valueError struct{ path, msg string }

func (e *valueError) Error() string { return e.path + ": " + e.msg }

func prefix(err error, seg string) error {
	var ve *valueError
	if errors.As(err, &ve) {
		return &valueError{seg + ve.path, ve.msg}
	}
	return err
}

// decodeValue reads one row field's value as what the wire carries: nil,
// booleans, integers, floats, strings, and string-keyed maps and arrays of
// these, at most 16 containers deep (as checkValue). Anything else is a
// *valueError. depth counts the containers around the value.
func decodeValue(d *msgpack.Decoder, depth int) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsExt(c):
		id, _, err := d.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		return nil, &valueError{msg: extNotCarried(id)}
	case msgpcode.IsBin(c):
		return nil, &valueError{msg: notCarried([]byte(nil))}
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if depth >= 16 && n > 0 {
			return nil, &valueError{msg: "nests deeper than 16 levels"}
		}
		m := make(map[string]any, n)
		for range n {
			if c, err := d.PeekCode(); err != nil {
				return nil, err
			} else if !msgpcode.IsString(c) {
				return nil, &valueError{msg: "a map key that is not a string: keys must be strings"}
			}
			k, err := d.DecodeString()
			if err != nil {
				return nil, err
			}
			if m[k], err = decodeValue(d, depth+1); err != nil {
				return nil, prefix(err, fmt.Sprintf(".%.64s", k))
			}
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if depth >= 16 && n > 0 {
			return nil, &valueError{msg: "nests deeper than 16 levels"}
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decodeValue(d, depth+1); err != nil {
				return nil, prefix(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return a, nil
	}
	// A scalar: nil, a boolean, a number or a string.
	return d.DecodeInterface()
}

// notCarried says why a value of v's type is refused.
func notCarried(v any) string {
	switch v.(type) {
	case time.Time:
		return extNotCarried(-1)
	case []byte:
		return "binary is not carried (PostgreSQL keeps fields as JSON): send text, base64 say"
	}
	return fmt.Sprintf("a %T is not carried: send a boolean, number, string, map or array", v)
}

func extNotCarried(id int8) string {
	if id == -1 {
		return "a timestamp (msgpack extension -1) is not carried: send Unix milliseconds or an RFC 3339 string"
	}
	return fmt.Sprintf("msgpack extension type %d is not carried: send a boolean, number, string, map or array", id)
}

package sla

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestDecodeReportMsgpackAndJSON(t *testing.T) {
	t.Parallel()
	want := report("s", t0, 5, 10, 20)
	b, err := msgpack.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReportMsgpack(b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("msgpack: got %+v, %v; want %+v", got, err, want)
	}
	// JSON with the frame's keys, as msgpack has them.
	var generic map[string]any
	if err := msgpack.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	got, err = DecodeReportJSON(j)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON %s: got %+v, %v; want %+v", j, got, err, want)
	}
	if _, err := DecodeReportJSON([]byte(`{"screen":"s","bogus":1}`)); !errors.Is(err, ErrRefused) {
		t.Fatalf("unknown JSON key: got %v, want a refusal", err)
	}
}

// A few bytes claiming billions of elements are refused before the library
// allocates them.
func TestDecodeReportMsgpackRefusesLyingLengths(t *testing.T) {
	t.Parallel()
	for name, b := range map[string][]byte{
		"array32 of panels": append([]byte{0x81, 0xa6, 'p', 'a', 'n', 'e', 'l', 's', 0xdd}, 0x7f, 0xff, 0xff, 0xff),
		"map32":             {0xdf, 0x7f, 0xff, 0xff, 0xff},
		"trailing bytes":    {0x80, 0x80},
		"deep":              {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x80},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeReportMsgpack(b); !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v, want a refusal", err)
			}
		})
	}
}

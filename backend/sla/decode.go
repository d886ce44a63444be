package sla

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/telltale/telltale/shared/wire"
)

// DecodeReportMsgpack reads a wire.Report from a msgpack body (POST
// /api/v1/sla/report), its keys those of the wire frame. The body's array
// and map lengths are checked against its size first: the msgpack library
// allocates a slice of the length a header claims, so a 10-byte body
// claiming 4 billion panels would otherwise allocate them.
func DecodeReportMsgpack(body []byte) (*wire.Report, error) {
	if err := boundedLengths(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	var r wire.Report
	if err := msgpack.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: msgpack: %v", ErrRefused, err)
	}
	return &r, nil
}

// maxDepth is deeper than a Report goes (report, panels, panel, stages,
// stage, index).
const maxDepth = 8

// boundedLengths walks a msgpack value and refuses any array or map that
// claims more elements than bytes are left (each takes at least one), any
// nesting deeper than maxDepth, and trailing bytes.
func boundedLengths(b []byte) error {
	rd := bytes.NewReader(b) // a ByteScanner: the decoder reads it directly, unbuffered
	d := msgpack.NewDecoder(rd)
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > maxDepth {
			return errors.New("msgpack nested too deep")
		}
		c, err := d.PeekCode()
		if err != nil {
			return err
		}
		n := 0
		switch {
		case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
			if n, err = d.DecodeArrayLen(); err != nil {
				return err
			}
		case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
			if n, err = d.DecodeMapLen(); err != nil {
				return err
			}
			n *= 2
		default:
			return d.Skip()
		}
		if n > len(b) {
			return fmt.Errorf("msgpack claims %d elements in a body of %d bytes", n, len(b))
		}
		for range n {
			if err := walk(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0); err != nil {
		return err
	}
	if rd.Len() > 0 {
		return errors.New("bytes after the report")
	}
	return nil
}

// DecodeReportJSON reads a wire.Report from a JSON body whose keys are the
// wire frame's ("screen", "panels", "fresh_ms", …), as a page's fallback
// sends it without the msgpack codec. Unknown keys are refused.
func DecodeReportJSON(body []byte) (*wire.Report, error) {
	var j jsonReport
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrRefused, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: JSON: more after the report", ErrRefused)
	}
	r := &wire.Report{Screen: j.Screen, Dashboard: j.Dashboard, From: j.From, To: j.To, ClockErr: j.ClockErr, Transport: j.Transport,
		Panels: make([]wire.PanelReport, len(j.Panels))}
	for i, p := range j.Panels {
		r.Panels[i] = wire.PanelReport{Panel: p.Panel, Painted: p.Painted, FreshMs: p.FreshMs, StaleMs: p.StaleMs}
		for _, s := range p.Stale {
			r.Panels[i].Stale = append(r.Panels[i].Stale, wire.StalePeriod(s))
		}
		for _, s := range p.Stages {
			r.Panels[i].Stages = append(r.Panels[i].Stages, wire.StageHist(s))
		}
	}
	return r, nil
}

// The JSON form of wire.Report: its msgpack keys as JSON keys.
type (
	jsonReport struct {
		Screen    string      `json:"screen"`
		Dashboard string      `json:"dashboard"`
		From      int64       `json:"from"`
		To        int64       `json:"to"`
		ClockErr  int64       `json:"clock_err"`
		Transport string      `json:"transport"`
		Panels    []jsonPanel `json:"panels"`
	}
	jsonPanel struct {
		Panel   string      `json:"panel"`
		Painted uint64      `json:"painted"`
		FreshMs int64       `json:"fresh_ms"`
		StaleMs int64       `json:"stale_ms"`
		Stale   []jsonStale `json:"stale"`
		Stages  []jsonStage `json:"stages"`
	}
	jsonStale struct {
		Start int64  `json:"start"`
		Ms    int64  `json:"ms"`
		Cause string `json:"cause"`
	}
	jsonStage struct {
		Stage  string   `json:"stage"`
		Index  []int32  `json:"index"`
		Counts []uint32 `json:"counts"`
		First  int32    `json:"first"`
		Packed []byte   `json:"packed"` // base64, as encoding/json writes a []byte
	}
)

package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
)

// mark is one step of the page's start, in ms from navigation: a resource
// fetched (Start to End), a performance mark of the page (telltale:*), or
// the WebSocket's handshake and frames.
type mark struct {
	What    string  `json:"what"`
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
	Bytes   int     `json:"bytes,omitempty"` // transferred (resources) or received (WebSocket frames)
	Note    string  `json:"note,omitempty"`
}

// timeline records the WebSocket's events of one navigation through CDP
// (the Resource Timing API does not list WebSockets); read adds the page's
// own resource timings and marks.
type timeline struct {
	mu       sync.Mutex
	docTS    float64 // the document request's CDP timestamp, s
	wsOpen   float64 // handshake sent
	wsUp     float64 // handshake answered
	frames   []float64
	frameLen []int
	console  []string // the page's console lines about its stored state
}

func watchTimeline(page *rod.Page) *timeline {
	t := &timeline{}
	go page.EachEvent(func(e *proto.NetworkRequestWillBeSent) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if e.Type == proto.NetworkResourceTypeDocument && t.docTS == 0 {
			t.docTS = float64(e.Timestamp)
		}
	}, func(e *proto.NetworkWebSocketWillSendHandshakeRequest) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.wsOpen == 0 && t.docTS > 0 { // not the page before the measured one
			t.wsOpen = float64(e.Timestamp)
		}
	}, func(e *proto.NetworkWebSocketHandshakeResponseReceived) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.wsUp == 0 && t.wsOpen > 0 {
			t.wsUp = float64(e.Timestamp)
		}
	}, func(e *proto.RuntimeConsoleAPICalled) {
		// The page's own account of its stored state (app/ui/lkg.go logs
		// why it could not read or save it).
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, a.Value.String()+a.Description)
		}
		if msg := strings.Join(parts, " "); strings.Contains(msg, "last-known-good") {
			t.mu.Lock()
			t.console = append(t.console, msg)
			t.mu.Unlock()
		}
	}, func(e *proto.NetworkWebSocketFrameReceived) {
		t.mu.Lock()
		defer t.mu.Unlock()
		n := len(e.Response.PayloadData)
		if e.Response.Opcode != 1 {
			n = n * 3 / 4 // base64
		}
		t.frames = append(t.frames, float64(e.Timestamp))
		t.frameLen = append(t.frameLen, n)
	})()
	return t
}

// read returns the timeline up to the first chart, sorted by start.
func (t *timeline) read(page *rod.Page) []mark {
	var pg struct {
		FetchStart float64 `json:"fetchStart"`
		Marks      []mark  `json:"marks"`
	}
	js := page.MustEval(`() => {
		const nav = performance.getEntriesByType("navigation")[0];
		const marks = [];
		if (nav) {
			marks.push({what: "document", start_ms: nav.startTime, end_ms: nav.responseEnd, bytes: nav.transferSize});
			marks.push({what: "DOMContentLoaded", start_ms: nav.domContentLoadedEventStart, end_ms: nav.domContentLoadedEventEnd});
		}
		for (const r of performance.getEntriesByType("resource")) {
			marks.push({what: r.name, start_ms: r.startTime, end_ms: r.responseEnd, bytes: r.transferSize, note: r.initiatorType});
		}
		for (const m of performance.getEntriesByType("mark")) {
			if (m.name.startsWith("telltale:")) marks.push({what: m.name, start_ms: m.startTime, end_ms: m.startTime});
		}
		return JSON.stringify({fetchStart: nav ? nav.fetchStart : 0, marks});
	}`).Str()
	if err := json.Unmarshal([]byte(js), &pg); err != nil {
		return []mark{{What: "unreadable: " + err.Error()}}
	}
	first := -1.0
	for _, m := range pg.Marks {
		if m.What == "telltale:first-chart" {
			first = m.StartMs
		}
	}
	out := pg.Marks[:0]
	for _, m := range pg.Marks {
		if u, err := url.Parse(m.What); err == nil && u.Host != "" {
			m.What = u.Path
		}
		if first < 0 || m.StartMs <= first {
			out = append(out, m)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.docTS > 0 {
		// CDP's clock, placed on the page's: the document's request was
		// sent at the navigation entry's fetchStart.
		ms := func(ts float64) float64 { return (ts-t.docTS)*1000 + pg.FetchStart }
		if t.wsOpen > 0 {
			out = append(out, mark{What: "WebSocket handshake", StartMs: ms(t.wsOpen), EndMs: ms(max(t.wsUp, t.wsOpen))})
		}
		n, bytes, firstFrame, last := 0, 0, -1.0, 0.0
		for i, ts := range t.frames {
			at := ms(ts)
			if ts < t.docTS {
				continue // the page before the measured one
			}
			if first >= 0 && at > first {
				break
			}
			if firstFrame < 0 {
				firstFrame = at
			}
			n, bytes, last = n+1, bytes+t.frameLen[i], at
		}
		if n > 0 {
			out = append(out, mark{What: "WebSocket frames before the first chart", StartMs: firstFrame, EndMs: last, Bytes: bytes, Note: fmt.Sprintf("%d frames", n)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartMs < out[j].StartMs })
	return out
}

func printTimeline(marks []mark) {
	fmt.Println("timeline to the first chart (ms from navigation):")
	for _, m := range marks {
		extra := ""
		if m.Bytes > 0 {
			extra = fmt.Sprintf(" %d B", m.Bytes)
		}
		if m.Note != "" {
			extra += " (" + m.Note + ")"
		}
		fmt.Printf("  %7.0f → %7.0f  %s%s\n", m.StartMs, m.EndMs, m.What, extra)
	}
}

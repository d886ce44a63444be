package wsframe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The contract tests run a small echo server built on this package the way
// the gateway uses it (one reader, every byte written through one locked
// write side) and talk to it two ways: raw bytes, to pin down each case of
// RFC 6455 and 7692 the server meets (autobahn-style), and coder/websocket,
// the client the browser and the native clients use, for every frame type.

const testMax = 1 << 10

// echo is the test server: a binary or text message is echoed as binary
// (compressed when it came compressed); "close-me" makes the server start
// the close handshake with 4001; a protocol error closes with its code.
type echo struct {
	t       *testing.T
	mu      sync.Mutex
	closing []int // close codes the server received, in order
	ended   chan error
}

func newEcho(t *testing.T, deflate bool) (*echo, string) {
	e := &echo{t: t, ended: make(chan error, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := Accept(w, r, AcceptOptions{Deflate: deflate, ReadBuffer: 256})
		if err != nil {
			return
		}
		go e.serve(a)
	}))
	t.Cleanup(srv.Close)
	return e, srv.URL
}

func (e *echo) serve(a *Accepted) {
	defer a.Conn.Close()
	var wmu sync.Mutex
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := a.Conn.Write(b)
		return err
	}
	r := &Reader{R: a.R, MaxMessage: testMax, Deflate: a.Deflate}
	sentClose := false
	for {
		m, err := r.Next()
		var pe *ProtocolError
		if errors.As(err, &pe) {
			_ = write(AppendClose(nil, pe.Code, pe.Reason))
			e.ended <- err
			return
		}
		if err != nil {
			e.ended <- err
			return
		}
		switch m.Op {
		case OpPing:
			_ = write(AppendControl(nil, OpPong, m.Payload))
		case OpPong:
		case OpClose:
			code, reason, err := ParseClose(m.Payload)
			if err != nil {
				_ = write(AppendClose(nil, err.(*ProtocolError).Code, ""))
				e.ended <- err
				return
			}
			e.mu.Lock()
			e.closing = append(e.closing, code)
			e.mu.Unlock()
			if !sentClose {
				_ = write(AppendClose(nil, code, reason))
			}
			e.ended <- nil
			return
		case OpText, OpBinary:
			if string(m.Payload) == "close-me" {
				sentClose = true
				_ = write(AppendClose(nil, 4001, "asked to"))
				continue
			}
			if a.Deflate && len(m.Payload) >= 64 {
				_ = write(AppendCompressed(nil, m.Payload))
			} else {
				_ = write(AppendBinary(nil, m.Payload))
			}
		}
	}
}

// rawClient is a client that writes frames byte by byte as a test says.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string, extensions string) (*rawClient, *http.Response) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// RFC 6455 §1.3's example key and answer.
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	return &rawClient{t: t, nc: nc, br: br}, resp
}

// frame is a client frame as a test writes it.
type frame struct {
	b0      byte // FIN, RSV and opcode
	payload string
	unmask  bool // send it unmasked (a protocol error)
	length  int  // a length to claim instead of len(payload), when > 0
}

func fin(op Opcode) byte  { return 0x80 | byte(op) }
func frag(op Opcode) byte { return byte(op) }

func (c *rawClient) send(fs ...frame) {
	c.t.Helper()
	var b []byte
	for _, f := range fs {
		n := len(f.payload)
		if f.length > 0 {
			n = f.length
		}
		mbit := byte(0x80)
		if f.unmask {
			mbit = 0
		}
		switch {
		case n < 126:
			b = append(b, f.b0, mbit|byte(n))
		case n <= 0xffff:
			b = binary.BigEndian.AppendUint16(append(b, f.b0, mbit|126), uint16(n))
		default:
			b = binary.BigEndian.AppendUint64(append(b, f.b0, mbit|127), uint64(n))
		}
		p := []byte(f.payload)
		if !f.unmask {
			key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
			b = append(b, key[:]...)
			mask(p, key)
		}
		b = append(b, p...)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one server frame, which must be final and unmasked.
func (c *rawClient) read() (Opcode, []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 || h[0]&0x70 != 0 {
		c.t.Fatalf("server frame header %08b %08b: want FIN, no RSV, unmasked", h[0], h[1])
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		io.ReadFull(c.br, e[:])
		n = int(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		io.ReadFull(c.br, e[:])
		n = int(binary.BigEndian.Uint64(e[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return Opcode(h[0] & 0x0f), p
}

func (c *rawClient) expectEOF() {
	c.t.Helper()
	if b, err := c.br.ReadByte(); err == nil {
		c.t.Fatalf("read %#x after the close, want the connection closed", b)
	}
}

func closeBody(code int, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, uint16(code))) + reason
}

// want is one server frame a case expects, in order.
type want struct {
	op      Opcode
	payload string
}

func closeWant(code int) want { return want{OpClose, closeBody(code, "")} }

func TestContractRawFrames(t *testing.T) {
	big := strings.Repeat("x", testMax+1)
	cases := []struct {
		name    string
		send    []frame
		want    []want
		closeOK bool // only the close code of the last want is checked
	}{
		{"binary", []frame{{b0: fin(OpBinary), payload: "hello"}}, []want{{OpBinary, "hello"}}, false},
		{"empty binary", []frame{{b0: fin(OpBinary)}}, []want{{OpBinary, ""}}, false},
		{"text", []frame{{b0: fin(OpText), payload: "héllo"}}, []want{{OpBinary, "héllo"}}, false},
		{"16-bit length", []frame{{b0: fin(OpBinary), payload: strings.Repeat("a", 200)}}, []want{{OpBinary, strings.Repeat("a", 200)}}, false},
		{"fragmented", []frame{{b0: frag(OpBinary), payload: "ab"}, {b0: frag(OpContinuation), payload: "cd"}, {b0: fin(OpContinuation), payload: "ef"}},
			[]want{{OpBinary, "abcdef"}}, false},
		{"fragmented with empty fragments", []frame{{b0: frag(OpText)}, {b0: frag(OpContinuation), payload: "a"}, {b0: fin(OpContinuation)}},
			[]want{{OpBinary, "a"}}, false},
		{"ping between fragments", []frame{{b0: frag(OpBinary), payload: "ab"}, {b0: fin(OpPing), payload: "p"}, {b0: fin(OpContinuation), payload: "cd"}},
			[]want{{OpPong, "p"}, {OpBinary, "abcd"}}, false},
		{"pong between fragments is ignored", []frame{{b0: frag(OpBinary), payload: "ab"}, {b0: fin(OpPong), payload: "q"}, {b0: fin(OpContinuation), payload: "cd"}},
			[]want{{OpBinary, "abcd"}}, false},
		{"ping", []frame{{b0: fin(OpPing), payload: "12345"}}, []want{{OpPong, "12345"}}, false},
		{"empty ping", []frame{{b0: fin(OpPing)}}, []want{{OpPong, ""}}, false},
		{"ping of 125 bytes", []frame{{b0: fin(OpPing), payload: strings.Repeat("p", 125)}}, []want{{OpPong, strings.Repeat("p", 125)}}, false},
		{"text split inside a character", []frame{{b0: frag(OpText), payload: "h\xc3"}, {b0: fin(OpContinuation), payload: "\xa9"}}, []want{{OpBinary, "hé"}}, false},

		{"client close is echoed", []frame{{b0: fin(OpClose), payload: closeBody(1000, "bye")}}, []want{{OpClose, closeBody(1000, "bye")}}, false},
		{"client close without a code", []frame{{b0: fin(OpClose)}}, []want{{OpClose, ""}}, false},
		{"close between fragments", []frame{{b0: frag(OpBinary), payload: "ab"}, {b0: fin(OpClose), payload: closeBody(4000, "")}}, []want{{OpClose, closeBody(4000, "")}}, false},

		{"oversize frame", []frame{{b0: fin(OpBinary), payload: big}}, []want{closeWant(StatusTooBig)}, true},
		{"oversize claimed length", []frame{{b0: fin(OpBinary), length: 1 << 40}}, []want{closeWant(StatusTooBig)}, true},
		{"oversize across fragments", []frame{{b0: frag(OpBinary), payload: big[:700]}, {b0: fin(OpContinuation), payload: big[:700]}}, []want{closeWant(StatusTooBig)}, true},
		{"unknown data opcode", []frame{{b0: fin(0x3), payload: "x"}}, []want{closeWant(StatusProtocolError)}, true},
		{"unknown control opcode", []frame{{b0: fin(0xb)}}, []want{closeWant(StatusProtocolError)}, true},
		{"unmasked frame", []frame{{b0: fin(OpBinary), payload: "x", unmask: true}}, []want{closeWant(StatusProtocolError)}, true},
		{"continuation outside a message", []frame{{b0: fin(OpContinuation), payload: "x"}}, []want{closeWant(StatusProtocolError)}, true},
		{"new message inside a fragmented one", []frame{{b0: frag(OpBinary), payload: "a"}, {b0: fin(OpBinary), payload: "b"}}, []want{closeWant(StatusProtocolError)}, true},
		{"fragmented ping", []frame{{b0: frag(OpPing), payload: "x"}}, []want{closeWant(StatusProtocolError)}, true},
		{"ping over 125 bytes", []frame{{b0: fin(OpPing), payload: strings.Repeat("p", 126)}}, []want{closeWant(StatusProtocolError)}, true},
		{"RSV1 without deflate", []frame{{b0: fin(OpBinary) | 0x40, payload: "x"}}, []want{closeWant(StatusProtocolError)}, true},
		{"RSV2", []frame{{b0: fin(OpBinary) | 0x20, payload: "x"}}, []want{closeWant(StatusProtocolError)}, true},
		{"text not UTF-8", []frame{{b0: fin(OpText), payload: "\xff\xfe"}}, []want{closeWant(StatusInvalidData)}, true},
		{"close with a 1-byte body", []frame{{b0: fin(OpClose), payload: "\x03"}}, []want{closeWant(StatusProtocolError)}, true},
		{"close with code 1005", []frame{{b0: fin(OpClose), payload: closeBody(1005, "")}}, []want{closeWant(StatusProtocolError)}, true},
		{"close with code 999", []frame{{b0: fin(OpClose), payload: closeBody(999, "")}}, []want{closeWant(StatusProtocolError)}, true},
		{"close reason not UTF-8", []frame{{b0: fin(OpClose), payload: closeBody(1000, "\xff")}}, []want{closeWant(StatusInvalidData)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := newEcho(t, false)
			c, _ := dialRaw(t, url, "")
			c.send(tc.send...)
			for i, w := range tc.want {
				op, p := c.read()
				if op != w.op {
					t.Fatalf("frame %d: %v %q, want %v %q", i, op, p, w.op, w.payload)
				}
				if tc.closeOK && i == len(tc.want)-1 {
					if len(p) < 2 || string(p[:2]) != w.payload {
						t.Fatalf("close %q, want code %q", p, w.payload)
					}
					continue
				}
				if string(p) != w.payload {
					t.Fatalf("frame %d: %v %q, want %q", i, op, p, w.payload)
				}
			}
			if tc.want[len(tc.want)-1].op == OpClose {
				c.expectEOF()
			}
		})
	}
}

// TestContractServerClose: the server starts the close handshake, the
// client answers, and the server takes the answer as the end.
func TestContractServerClose(t *testing.T) {
	e, url := newEcho(t, false)
	c, _ := dialRaw(t, url, "")
	c.send(frame{b0: fin(OpBinary), payload: "close-me"})
	op, p := c.read()
	if op != OpClose || string(p) != closeBody(4001, "asked to") {
		t.Fatalf("%v %q, want the server's close 4001", op, p)
	}
	c.send(frame{b0: fin(OpClose), payload: closeBody(4001, "")})
	if err := <-e.ended; err != nil {
		t.Fatalf("server ended with %v", err)
	}
	c.expectEOF()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.closing) != 1 || e.closing[0] != 4001 {
		t.Fatalf("server got closes %v, want [4001]", e.closing)
	}
}

// TestContractHandshake: what the server answers to offers and to requests
// that are not a WebSocket handshake.
func TestContractHandshake(t *testing.T) {
	_, url := newEcho(t, true)
	for _, tc := range []struct{ offer, want string }{
		{"", ""},
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=10", ""},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"x-webkit-deflate-frame", ""},
		{"permessage-deflate; unknown_param", ""},
	} {
		_, resp := dialRaw(t, url, tc.offer)
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Errorf("offer %q: answered %q, want %q", tc.offer, got, tc.want)
		}
	}
	_, off := newEcho(t, false)
	if _, resp := dialRaw(t, off, "permessage-deflate"); resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("deflate off: answered %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	for _, tc := range []struct {
		name   string
		mod    func(*http.Request)
		status int
	}{
		{"plain GET", func(r *http.Request) { r.Header.Del("Upgrade"); r.Header.Del("Connection") }, http.StatusUpgradeRequired},
		{"POST", func(r *http.Request) { r.Method = http.MethodPost }, http.StatusMethodNotAllowed},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, http.StatusBadRequest},
		{"short key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "c2hvcnQ=") }, http.StatusBadRequest},
		{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		tc.mod(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
}

// TestContractDeflateRaw: a compressed message the way RFC 7692 §7.2.3.1
// writes "Hello", and the same split over two fragments; RSV1 on a
// continuation or a control frame is a protocol error.
func TestContractDeflateRaw(t *testing.T) {
	hello := "\xf2\x48\xcd\xc9\xc9\x07\x00"
	for _, tc := range []struct {
		name string
		send []frame
		want want
	}{
		{"compressed", []frame{{b0: fin(OpText) | 0x40, payload: hello}}, want{OpBinary, "Hello"}},
		{"compressed in fragments", []frame{{b0: frag(OpText) | 0x40, payload: hello[:3]}, {b0: fin(OpContinuation), payload: hello[3:]}}, want{OpBinary, "Hello"}},
		{"uncompressed on a deflate connection", []frame{{b0: fin(OpBinary), payload: "plain"}}, want{OpBinary, "plain"}},
		{"RSV1 on a continuation", []frame{{b0: frag(OpText) | 0x40, payload: hello[:3]}, {b0: fin(OpContinuation) | 0x40, payload: hello[3:]}}, closeWant(StatusProtocolError)},
		{"RSV1 on a ping", []frame{{b0: fin(OpPing) | 0x40}}, closeWant(StatusProtocolError)},
		{"bad deflate data", []frame{{b0: fin(OpBinary) | 0x40, payload: "\xff\xff\xff"}}, closeWant(StatusInvalidData)},
		{"inflates over the limit", []frame{{b0: fin(OpBinary) | 0x40, payload: string(deflated(bytes.Repeat([]byte("z"), 4*testMax)))}}, closeWant(StatusTooBig)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := newEcho(t, true)
			c, _ := dialRaw(t, url, "permessage-deflate")
			c.send(tc.send...)
			op, p := c.read()
			if op != tc.want.op || (op == OpClose && string(p[:2]) != tc.want.payload) || (op != OpClose && string(p) != tc.want.payload) {
				t.Fatalf("%v %q, want %v %q", op, p, tc.want.op, tc.want.payload)
			}
		})
	}
}

// deflated is b compressed as a permessage-deflate payload (under 126
// bytes: a 2-byte header).
func deflated(b []byte) []byte {
	f := AppendCompressed(nil, b)
	if f[1] >= 126 {
		panic("deflated: payload too long for the test")
	}
	return f[2:]
}

// TestContractCoderClient: coder/websocket, the native clients' library,
// against this package for every frame type, with and without deflate.
func TestContractCoderClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			e, url := newEcho(t, true)
			opts := &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled}
			if compress {
				opts.CompressionMode = websocket.CompressionNoContextTakeover
				opts.CompressionThreshold = 64
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
				t.Fatalf("deflate negotiated %v, want %v", got, compress)
			}
			ws.SetReadLimit(4 * testMax)
			roundTrip := func(typ websocket.MessageType, msg []byte) {
				t.Helper()
				if err := ws.Write(ctx, typ, msg); err != nil {
					t.Fatal(err)
				}
				gt, got, err := ws.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if gt != websocket.MessageBinary || !bytes.Equal(got, msg) {
					t.Fatalf("echo %v %d bytes, want binary %d bytes", gt, len(got), len(msg))
				}
			}
			roundTrip(websocket.MessageBinary, []byte("small"))
			roundTrip(websocket.MessageText, []byte("text ✓"))
			roundTrip(websocket.MessageBinary, bytes.Repeat([]byte("compressible "), 70)) // 910 bytes: compressed both ways with deflate
			roundTrip(websocket.MessageBinary, []byte{})
			// A message in fragments: the library writes each Write as a frame.
			w, err := ws.Writer(ctx, websocket.MessageBinary)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{"frag", "ment", "ed"} {
				if _, err := w.Write([]byte(part)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, got, err := ws.Read(ctx); err != nil || string(got) != "fragmented" {
				t.Fatalf("fragmented echo %q, %v", got, err)
			}
			// Ping: the library waits for the pong, which its reader sees
			// while a Read is pending.
			readErr := make(chan error, 1)
			go func() { _, _, err := ws.Read(ctx); readErr <- err }()
			if err := ws.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			// Close handshake from the client: the server echoes the code.
			if err := ws.Close(websocket.StatusNormalClosure, "done"); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := <-e.ended; err != nil {
				t.Fatalf("server ended with %v", err)
			}
			<-readErr
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.closing) != 1 || e.closing[0] != int(websocket.StatusNormalClosure) {
				t.Fatalf("server got closes %v", e.closing)
			}
		})
	}
}

// TestContractCoderClientErrors: the codes a coder/websocket client sees for
// the server's own close and for a message over the limit.
func TestContractCoderClientErrors(t *testing.T) {
	_, url := newEcho(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	ws := dial()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte("close-me")); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != 4001 {
		t.Fatalf("server close: %v (status %d), want 4001", err, got)
	}
	ws = dial()
	if err := ws.Write(ctx, websocket.MessageBinary, make([]byte, testMax+1)); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("oversize: %v (status %d), want 1009", err, got)
	}
}

// TestAppendCloseCutsAtCharacter: a long reason is cut to fit a control
// frame without splitting a character.
func TestAppendCloseCutsAtCharacter(t *testing.T) {
	f := AppendClose(nil, 4000, strings.Repeat("é", 100))
	if len(f) > 2+125 {
		t.Fatalf("close frame of %d bytes", len(f))
	}
	code, reason, err := ParseClose(f[2:])
	if err != nil || code != 4000 || reason != strings.Repeat("é", 61) {
		t.Fatalf("ParseClose: %d %q %v", code, reason, err)
	}
}

// TestMaskMatchesBytewise: the word-wide masking equals §5.3's byte rule.
func TestMaskMatchesBytewise(t *testing.T) {
	key := [4]byte{1, 2, 3, 250}
	for n := range 40 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		got := bytes.Clone(b)
		mask(got, key)
		for i := range b {
			if got[i] != b[i]^key[i%4] {
				t.Fatalf("len %d: byte %d", n, i)
			}
		}
	}
}

package wsgate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
	"github.com/telltale/telltale/shared/wire"
)

// The gateway's own framing (internal/wsframe) as a client meets it: the
// package's contract tests hold the framing to RFC 6455; these hold the
// gateway to using it, through its one write side.

// rawGateway dials the gateway and completes the opening handshake by hand.
func rawGateway(t *testing.T, url string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return nc, br
}

// clientFrame is a masked client frame.
func clientFrame(b0 byte, payload []byte, masked bool) []byte {
	key := [4]byte{9, 8, 7, 6}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	f := []byte{b0, mbit | byte(len(payload))}
	if masked {
		f = append(f, key[:]...)
	}
	for i, c := range payload {
		if masked {
			c ^= key[i%4]
		}
		f = append(f, c)
	}
	return f
}

// serverFrame reads one server frame: its opcode and payload.
func serverFrame(t *testing.T, br *bufio.Reader) (wsframe.Opcode, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		io.ReadFull(br, e[:])
		n = int(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		io.ReadFull(br, e[:])
		n = int(binary.BigEndian.Uint64(e[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return wsframe.Opcode(h[0] & 0x0f), p
}

// TestGatewayAnswersControlFrames: a ping before and after the hello gets
// its pong, a hello in two fragments with a ping between them is read, and
// a client close is answered with the client's code.
func TestGatewayAnswersControlFrames(t *testing.T) {
	f := start(t, Config{})
	nc, br := rawGateway(t, f.url)
	hello, err := wire.Encode(wire.Hello{})
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	out = append(out, clientFrame(byte(wsframe.OpPing)|0x80, []byte("before"), true)...)
	out = append(out, clientFrame(byte(wsframe.OpBinary), hello[:1], true)...)
	out = append(out, clientFrame(byte(wsframe.OpPing)|0x80, []byte("between"), true)...)
	out = append(out, clientFrame(byte(wsframe.OpContinuation)|0x80, hello[1:], true)...)
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"before", "between"} {
		if op, p := serverFrame(t, br); op != wsframe.OpPong || string(p) != want {
			t.Fatalf("%v %q, want pong %q", op, p, want)
		}
	}
	op, p := serverFrame(t, br)
	if fr, err := wire.Decode(p); op != wsframe.OpBinary || err != nil || fr.FrameType() != wire.TypeWelcome {
		t.Fatalf("%v %v %v, want welcome", op, fr, err)
	}
	if _, err := nc.Write(clientFrame(byte(wsframe.OpClose)|0x80, []byte{0x0f, 0xa0, 'b', 'y', 'e'}, true)); err != nil {
		t.Fatal(err)
	}
	if op, p := serverFrame(t, br); op != wsframe.OpClose || string(p[:2]) != "\x0f\xa0" {
		t.Fatalf("%v %q, want the close 4000 echoed", op, p)
	}
	// The server closes the socket: the read ends with EOF (or a reset),
	// not with the read deadline, which would mean it stayed open.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the close handshake the read ended with %v, want EOF: the socket stayed open", err)
	}
}

// TestGatewayRefusesBadFrames: an unmasked frame or an unknown opcode ends
// the connection with 1002, a text frame that is not UTF-8 with 1007.
func TestGatewayRefusesBadFrames(t *testing.T) {
	f := start(t, Config{})
	for _, tc := range []struct {
		name  string
		frame []byte
		code  uint16
	}{
		{"unmasked", clientFrame(byte(wsframe.OpBinary)|0x80, []byte{0x91}, false), wsframe.StatusProtocolError},
		{"opcode 3", clientFrame(0x83, []byte{0x91}, true), wsframe.StatusProtocolError},
		{"text not UTF-8", clientFrame(byte(wsframe.OpText)|0x80, []byte{0xff}, true), wsframe.StatusInvalidData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, br := rawGateway(t, f.url)
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			op, p := serverFrame(t, br)
			if op != wsframe.OpClose || len(p) < 2 || binary.BigEndian.Uint16(p) != tc.code {
				t.Fatalf("%v %q, want close %d", op, p, tc.code)
			}
		})
	}
}

// TestGatewayPongsTheLibrary: coder/websocket's Ping (the native clients')
// gets its pong from the gateway, on an open connection.
func TestGatewayPongsTheLibrary(t *testing.T) {
	f := start(t, Config{})
	r := dial(t, f.url)
	r.send(wire.Hello{})
	r.expect(wire.TypeWelcome)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The library sees the pong while a Read is pending.
	go func() { _, _, _ = r.ws.Read(ctx) }()
	if err := r.ws.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := r.ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}

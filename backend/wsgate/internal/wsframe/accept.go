package wsframe

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// AcceptOptions are the server's terms for the opening handshake.
type AcceptOptions struct {
	// Deflate accepts a client's permessage-deflate offer, without context
	// takeover in either direction.
	Deflate bool
	// CheckOrigin refuses a request (403) when it returns an error; nil
	// takes every origin.
	CheckOrigin func(*http.Request) error
	// ReadBuffer is the size of the returned reader's buffer (at least what
	// net/http had already read of the connection).
	ReadBuffer int
}

// Accepted is an upgraded connection: its socket, the reader in front of it
// (holding whatever the client sent after its request), and whether
// permessage-deflate was negotiated.
type Accepted struct {
	Conn    net.Conn
	R       *bufio.Reader
	Deflate bool
}

// Accept answers a WebSocket opening handshake (RFC 6455 §4.2): it checks
// the request, answers an HTTP error itself when it is not one it takes,
// else takes the connection from net/http and writes the 101 response on it.
// net/http's buffers are let go of.
func Accept(w http.ResponseWriter, r *http.Request, o AcceptOptions) (*Accepted, error) {
	code, err := check(r)
	if err == nil && o.CheckOrigin != nil {
		if err = o.CheckOrigin(r); err != nil {
			code = http.StatusForbidden
		}
	}
	if err != nil {
		if code == http.StatusUpgradeRequired || code == http.StatusBadRequest {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, err.Error(), code)
		return nil, err
	}
	deflate := o.Deflate && offersDeflate(r.Header)
	h, ok := w.(http.Hijacker)
	if !ok {
		err := errors.New("websocket: the response cannot be hijacked")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, err
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, err
	}
	var resp bytes.Buffer
	resp.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
	resp.WriteString(AcceptKey(r.Header.Get("Sec-WebSocket-Key")))
	if deflate {
		resp.WriteString("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	resp.WriteString("\r\n\r\n")
	if _, err := nc.Write(resp.Bytes()); err != nil {
		nc.Close()
		return nil, err
	}
	n := brw.Reader.Buffered()
	if n == 0 {
		return &Accepted{Conn: nc, R: bufio.NewReaderSize(nc, o.ReadBuffer), Deflate: deflate}, nil
	}
	// What net/http read ahead comes first, then the socket; the new reader
	// reads nothing from the socket to take it in.
	ahead, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), nc), max(o.ReadBuffer, n))
	if _, err := br.Peek(n); err != nil {
		nc.Close()
		return nil, err
	}
	return &Accepted{Conn: nc, R: br, Deflate: deflate}, nil
}

// check says what is wrong with an upgrade request, and the status that
// says it.
func check(r *http.Request) (int, error) {
	switch {
	case !hasToken(r.Header, "Connection", "upgrade"):
		return http.StatusUpgradeRequired, errors.New(`websocket: Connection header does not contain "upgrade"`)
	case !hasToken(r.Header, "Upgrade", "websocket"):
		return http.StatusUpgradeRequired, errors.New(`websocket: Upgrade header does not contain "websocket"`)
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, fmt.Errorf("websocket: handshake method %q is not GET", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusBadRequest, fmt.Errorf("websocket: unsupported version %q", r.Header.Get("Sec-WebSocket-Version"))
	}
	key := r.Header.Values("Sec-WebSocket-Key")
	if len(key) != 1 {
		return http.StatusBadRequest, errors.New("websocket: want one Sec-WebSocket-Key")
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key[0])); err != nil || len(b) != 16 {
		return http.StatusBadRequest, fmt.Errorf("websocket: invalid Sec-WebSocket-Key %q", key[0])
	}
	return 0, nil
}

// AcceptKey is the Sec-WebSocket-Accept answer to key (§4.2.2).
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(strings.TrimSpace(key)))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// offersDeflate reports whether one of the client's permessage-deflate
// offers can be taken as this server answers it: no context takeover in
// either direction (a server may add client_no_context_takeover, RFC 7692
// §7.1.1.2), its 32 KB window (server_max_window_bits below 15 cannot be
// honoured), any client window.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
	offers:
		for _, offer := range strings.Split(v, ",") {
			params := strings.Split(offer, ";")
			if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
				continue
			}
			for _, p := range params[1:] {
				p = strings.ToLower(strings.Join(strings.Fields(p), ""))
				switch {
				case p == "client_no_context_takeover", p == "server_no_context_takeover",
					p == "client_max_window_bits", strings.HasPrefix(p, "client_max_window_bits="),
					p == "server_max_window_bits=15":
				default:
					continue offers
				}
			}
			return true
		}
	}
	return false
}

// hasToken reports whether header key's comma-separated values hold token,
// case-insensitively.
func hasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Command wscheck checks that a Telltale server, or a reverse proxy in front of
// it, carries the live connection: it opens the WebSocket at URL/api/v1/ws with
// the page's Origin, signs in with a token, and waits for the welcome and
// then for the server's first ping, which comes one ping interval (15 s)
// later: a proxy that drops idle tunnels, or strips the upgrade headers or
// the Host the origin check compares against, fails it.
//
//	go run ./examples/deploy/wscheck -url http://127.0.0.1:8081 -token "$(bin/telltale token -tenant demo -sub check)"
//
// examples/deploy/check.sh runs it through nginx, HAProxy and Caddy.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/wire"
)

func main() {
	base := flag.String("url", "", "the page's URL, e.g. https://telltale.example.com (http:// or https://)")
	token := flag.String("token", "", "an operator token (telltale token -tenant T -sub S)")
	origin := flag.String("origin", "", "the Origin header to send; empty means the URL's scheme and host, as a page there sends")
	caFile := flag.String("cacert", "", "PEM file of a CA (or self-signed certificate) to trust for https:// besides the system's")
	wait := flag.Duration("wait", 40*time.Second, "how long to wait for the welcome and the first ping")
	flag.Parse()
	if *base == "" || *token == "" {
		fmt.Fprintln(os.Stderr, "wscheck: -url and -token are required")
		os.Exit(2)
	}
	client := http.DefaultClient
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wscheck:", err)
			os.Exit(2)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "wscheck: no certificate in", *caFile)
			os.Exit(2)
		}
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	if err := check(client, *base, *token, *origin, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "wscheck:", err)
		os.Exit(1)
	}
}

func check(client *http.Client, base, token, origin string, wait time.Duration) error {
	base = strings.TrimSuffix(base, "/")
	if origin == "" {
		origin = base
	}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	h := http.Header{}
	h.Set("Origin", origin)
	c, resp, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("dial %s: %w (HTTP %s)", ws, err, resp.Status)
		}
		return fmt.Errorf("dial %s: %w", ws, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	hello, err := wire.EncodeClient(wire.Hello{Token: token, Client: "wscheck"})
	if err != nil {
		return err
	}
	if err := c.Write(ctx, websocket.MessageBinary, hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	start := time.Now()
	welcomed := false
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("no %s within %s", map[bool]string{false: "welcome", true: "ping"}[welcomed], wait)
			}
			return fmt.Errorf("read (welcomed %v, after %s): %w", welcomed, time.Since(start).Round(time.Millisecond), err)
		}
		f, err := wire.DecodeServer(b)
		if err != nil {
			return fmt.Errorf("decode a frame: %w", err)
		}
		switch f := f.(type) {
		case wire.Welcome, *wire.Welcome:
			welcomed = true
			fmt.Printf("wscheck: %s: welcome after %s\n", ws, time.Since(start).Round(time.Millisecond))
		case wire.Ping:
			return pinged(ctx, c, ws, start, welcomed, f.Time)
		case *wire.Ping:
			return pinged(ctx, c, ws, start, welcomed, f.Time)
		case wire.Error, *wire.Error:
			return fmt.Errorf("the server answered with an error frame: %+v", f)
		}
	}
}

func pinged(ctx context.Context, c *websocket.Conn, ws string, start time.Time, welcomed bool, t int64) error {
	if !welcomed {
		return errors.New("a ping came before the welcome")
	}
	pong, err := wire.EncodeClient(wire.Pong{Time: t})
	if err != nil {
		return err
	}
	if err := c.Write(ctx, websocket.MessageBinary, pong); err != nil {
		return fmt.Errorf("send pong: %w", err)
	}
	fmt.Printf("wscheck: %s: ping after %s, answered: OK\n", ws, time.Since(start).Round(time.Millisecond))
	c.Close(websocket.StatusNormalClosure, "check done")
	return nil
}

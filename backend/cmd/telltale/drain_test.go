package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/child"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
)

// drainServer runs the binary's serve with -drain-delay delay on the
// embedded store, a client following one stream on it, and returns the
// server's URL, the cancel that stops it with a cause, serve's result, and
// the client's session errors so far.
func drainServer(t *testing.T, delay time.Duration) (base string, stop context.CancelCauseFunc, done <-chan error, c *client.Client, ended func() []string) {
	t.Helper()
	const secret = "0123456789abcdef0123456789abcdef"
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CACHE_HOME": t.TempDir(), "TELLTALE_JWT_SECRET": secret}
	getenv := func(k string) string { return env[k] }
	cfg, err := parse([]string{"-addr", "127.0.0.1:0", "-web", web, "-log-level", "error", "-drain-delay", delay.String()}, getenv, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	out := &child.Buffer{}
	errc, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		errc <- serve(ctx, cfg, getenv, out, io.Discard)
	}()
	t.Cleanup(func() {
		cancel(errInterrupted)
		<-finished
	})
	serving := regexp.MustCompile(`serving (http://\S+/)`)
	poll.Until(t, 10*time.Second, func() error {
		m := serving.FindStringSubmatch(out.String())
		if m == nil {
			return errors.New("not serving yet")
		}
		base = m[1]
		return nil
	})
	keys, _ := auth.HS256([]byte(secret))
	tok, err := keys.Mint("demo", "alice", time.Hour, nil, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ends []string
	c = client.New(client.Config{URL: "ws" + strings.TrimPrefix(base, "http") + "api/v1/ws", Token: tok, Streams: []string{"metrics"},
		Log: func(msg string, args ...any) {
			if msg == "session ended" {
				mu.Lock()
				ends = append(ends, fmt.Sprint(args...))
				mu.Unlock()
			}
		}})
	cctx, ccancel := context.WithCancel(context.Background())
	cdone := make(chan struct{})
	go func() { defer close(cdone); _ = c.Run(cctx) }()
	t.Cleanup(func() { ccancel(); <-cdone })
	poll.Until(t, 10*time.Second, func() error {
		if st := clientStatus(c); st != client.Live {
			return fmt.Errorf("client %v", st)
		}
		return nil
	})
	return base, cancel, errc, c, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ends...)
	}
}

func clientStatus(c *client.Client) (st client.Status) {
	c.Read(func(_ map[string]*livestate.Stream, i client.Info) { st = i.Status })
	return st
}

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	res, err := http.Get(base + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestSIGTERMDrains: SIGTERM (the cause errTerminated) turns /healthz to 503
// "draining" at once and refuses new WebSockets with 503, while the node
// keeps serving its live connections and HTTP for -drain-delay; then it closes the connections with 4010 (server
// restarting: reconnect with jitter) and serve returns nil (exit 0).
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	const delay = 1500 * time.Millisecond
	base, stop, done, c, ended := drainServer(t, delay)
	if code, body := healthz(t, base); code != http.StatusOK {
		t.Fatalf("before SIGTERM: /healthz %d %s, want 200", code, body)
	}
	stop(errTerminated)
	sent := time.Now()
	poll.Until(t, time.Second, func() error {
		if code, body := healthz(t, base); code != http.StatusServiceUnavailable || !strings.Contains(body, `"status":"draining"`) {
			return fmt.Errorf("/healthz %d %s, want 503 draining", code, body)
		}
		return nil
	})
	// A new WebSocket is refused with 503, for a balancer to retry
	// elsewhere (nginx: proxy_next_upstream http_503).
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	ws, res, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(base, "http")+"api/v1/ws", nil)
	dcancel()
	if err == nil {
		ws.CloseNow()
		t.Fatal("draining: a new WebSocket was accepted, want 503")
	}
	if res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("draining: a new WebSocket got %v (%v), want 503", res, err)
	}
	// Still serving: the live connection is open, and HTTP answers.
	for time.Since(sent) < delay-500*time.Millisecond {
		if st := clientStatus(c); st != client.Live {
			t.Fatalf("%v into the drain: client %v, want still live", time.Since(sent), st)
		}
		if code, body := apiCall(t, base, "GET", "api/v1/nope", "", ""); code != http.StatusNotFound {
			t.Fatalf("draining: API answered %d %s, want 404 (served)", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v, want nil (exit 0)", err)
		}
	case <-time.After(delay + 10*time.Second):
		t.Fatal("serve still running 10 s after the drain delay")
	}
	if took := time.Since(sent); took < delay {
		t.Fatalf("serve returned %v after SIGTERM, before the %v drain delay", took, delay)
	}
	poll.Until(t, 5*time.Second, func() error {
		for _, e := range ended() {
			if strings.Contains(e, "4010") {
				return nil
			}
		}
		return fmt.Errorf("client's sessions ended with %q, want a 4010 close", ended())
	})
}

// TestSIGINTDoesNotDrain: Ctrl-C (errInterrupted) stops at once, however
// long the drain delay: a person at a terminal wants the server gone.
func TestSIGINTDoesNotDrain(t *testing.T) {
	t.Parallel()
	_, stop, done, _, ended := drainServer(t, time.Hour)
	stop(errInterrupted)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGINT: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve still running 10 s after SIGINT: it drained")
	}
	poll.Until(t, 5*time.Second, func() error {
		for _, e := range ended() {
			if strings.Contains(e, "4010") {
				return nil
			}
		}
		return fmt.Errorf("client's sessions ended with %q, want a 4010 close", ended())
	})
}

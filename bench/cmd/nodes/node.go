package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/telltale/telltale/bench/benchserver"
)

// node is one telltale process of the run.
type node struct {
	index       int
	cmd         *exec.Cmd
	addr        atomic.Pointer[string] // host:port; a restarted node (one-node kill) listens elsewhere
	metricsAddr string
	dsn         string
	role        string
	dead        atomic.Bool
}

// nodeEnv is what every node shares: the binary, a stand-in web folder
// and the token secret.
type nodeEnv struct {
	bin, web, secret string
	extra            []string
}

func newNodeEnv(bin, secret string, extra []string) (*nodeEnv, error) {
	web, err := os.MkdirTemp("", "telltale-nodes-web")
	if err != nil {
		return nil, err
	}
	// The benchmark's clients are native: the page is never asked for.
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		return nil, err
	}
	bin, _ = filepath.Abs(bin)
	return &nodeEnv{bin: bin, web: web, secret: secret, extra: extra}, nil
}

// start runs node i on dsn as users run it: same DATABASE_URL (but for its
// role) and token key as every other node. Its log goes to a file of the
// web folder.
func (e *nodeEnv) start(i int, dsn, role string) (*node, error) {
	n := &node{index: i, dsn: dsn, role: role}
	// All clients come from one address and connect at once: the
	// per-address limits are off and the caps above the run.
	args := append([]string{"-addr", "127.0.0.1:0", "-web", e.web, "-demo=false", "-log-level", "warn",
		"-metrics-addr", "127.0.0.1:0", "-ingest-rate", "-1", "-conn-rate", "-1", "-max-conns", "50000",
		"-max-unauth-conns", "50000", "-max-unauth-per-addr", "50000"}, e.extra...)
	n.cmd = exec.Command(e.bin, args...)
	n.cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "TELLTALE_JWT_SECRET="+e.secret, "XDG_CACHE_HOME="+e.web)
	logf, err := os.OpenFile(filepath.Join(e.web, fmt.Sprintf("node%d.log", i+1)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	n.cmd.Stderr = logf
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (go build -o bin/telltale ./backend/cmd/telltale first): %w", e.bin, err)
	}
	addr, _, maddr, err := benchserver.Listening(out)
	if err != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		return nil, fmt.Errorf("node %d: %w (log: %s)", i+1, err, logf.Name())
	}
	n.addr.Store(&addr)
	n.metricsAddr = maddr
	return n, nil
}

// Addr is where the node listens now.
func (n *node) Addr() string { return *n.addr.Load() }

// waitHealthy waits until /healthz answers 200 (warm and following).
func (n *node) waitHealthy(d time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		res, err := c.Get("http://" + n.Addr() + "/healthz")
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = strings.TrimSpace(b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("node %d not healthy after %v: %s", n.index+1, d, last)
}

// kill is kill -9.
func (n *node) kill() {
	n.dead.Store(true)
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
}

// stop is SIGTERM and a wait.
func (n *node) stop() {
	if n.dead.Load() {
		return
	}
	n.dead.Store(true)
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = n.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

func (n *node) metric(name string) float64 {
	if n.dead.Load() {
		return 0
	}
	return benchserver.Metric(n.metricsAddr, name)
}

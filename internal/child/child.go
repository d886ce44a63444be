// Package child runs a load balancer (HAProxy, nginx) in the foreground as
// a child process of a test: its output kept, a wait until it accepts
// connections, and a stop that waits for it. internal/haproxy and
// internal/nginx build their configurations and start it through here.
//
// It is for tests and benchmarks only: the server never imports it.
package child

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a running child process.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
	once sync.Once
}

// Start starts cmd, named name in errors, its stdout and stderr kept (see
// Output), in a process group of its own so that Close also reaches the
// workers it forks.
func Start(name string, cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{name: name, cmd: cmd, out: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// WaitAccepting polls until addr accepts a TCP connection and ready (when
// not nil) returns nil, for at most 10 s; it fails at once if the process
// exits or ctx ends.
func (p *Proc) WaitAccepting(ctx context.Context, addr string, ready func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			if ready == nil || ready() == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited at start (%v): %s", p.name, p.err, p.out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting on %s after 10 s: %s", p.name, addr, p.out)
		}
	}
}

// Output is what the process has written so far (alerts, warnings).
func (p *Proc) Output() string { return p.out.String() }

// Close stops the process (SIGINT, then SIGKILL to its group after 5 s)
// and waits for it. Later calls do nothing.
func (p *Proc) Close() {
	p.once.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// Buffer is a bytes.Buffer that one writer (a process's output, a server's
// log) may write while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FreeAddr is a loopback host:port free a moment ago, for a process that
// takes its address from its configuration.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Setup is what a load balancer's start needs before it writes its
// configuration: at least one server, its binary (installed from Debian's
// package pkg), an address to listen on (addr, else a free loopback one)
// and a folder of its own, with a short path (a unix socket's path is
// limited to 107 bytes), for the caller to remove.
func Setup(name, bin, pkg, addr string, servers int) (listen, dir string, err error) {
	if servers == 0 {
		return "", "", fmt.Errorf("%s: no servers", name)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", "", fmt.Errorf("%s: %w (install it: apt-get install %s)", name, err, pkg)
	}
	if listen = addr; listen == "" {
		if listen, err = FreeAddr(); err != nil {
			return "", "", err
		}
	}
	if dir, err = os.MkdirTemp("", name); err != nil {
		return "", "", err
	}
	return listen, dir, nil
}

// Served GETs url n times and counts the answers by body: the tests'
// stand-in nodes answer their name, so it says how a balancer spread them.
func Served(url string, n int) (map[string]int, error) {
	got := map[string]int{}
	for range n {
		res, err := http.Get(url)
		if err != nil {
			return got, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return got, err
		}
		got[string(body)]++
	}
	return got, nil
}

// Package faultnet is a TCP proxy for tests that need a bad network: it can
// cut connections at random (a phone on a train) or block all traffic for a
// while (a WiFi drop), so tests do the fault for real instead of mocking it.
//
// It must never be imported by non-test code.
package faultnet

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards connections from Addr to a target.
type Proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   map[net.Conn]bool
	blocked bool
	cuts    int
	wg      sync.WaitGroup
	down    atomic.Int64 // bytes from the server to clients
	delay   time.Duration
}

// New starts a proxy on a free loopback port; it stops at test cleanup.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cutAll()
		p.wg.Wait()
	})
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Downstream counts the bytes sent from the server to clients so far, on
// every connection: what a client received, framing included.
func (p *Proxy) Downstream() int64 { return p.down.Load() }

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

// Write counts the bytes before they go, so that a client never holds
// bytes Downstream has not counted yet; what a failed write did not send is
// taken back.
func (c countingWriter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	n, err := c.w.Write(b)
	c.n.Add(int64(n - len(b)))
	return n, err
}

// Cuts counts connections cut so far.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close() // refused while the network is down
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		delay := p.delay
		p.mu.Unlock()
		for i, pair := range [][2]net.Conn{{c, up}, {up, c}} {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				var dst io.Writer = pair[0]
				if i == 0 { // server to client
					dst = countingWriter{pair[0], &p.down}
				}
				if delay > 0 {
					p.delayedCopy(dst, pair[1], delay)
				} else {
					_, _ = io.Copy(dst, pair[1])
				}
				pair[0].Close()
				pair[1].Close()
			}()
		}
	}
}

// Cut closes about a third of the open connections.
func (p *Proxy) Cut(rng *rand.Rand) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if rng.IntN(3) == 0 {
			c.Close()
			delete(p.conns, c)
			p.cuts++
		}
	}
}

// Block cuts every connection and refuses new ones until Unblock.
func (p *Proxy) Block() {
	p.mu.Lock()
	p.blocked = true
	p.mu.Unlock()
	p.cutAll()
}

// Unblock lets connections through again.
func (p *Proxy) Unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

func (p *Proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		p.cuts++
	}
	clear(p.conns)
}

// SetDelay makes every connection opened from now on carry its bytes d
// late, each way (a round trip is 2d longer): a slow mobile network, with
// the bandwidth intact. Zero ends it for new connections.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// delayedCopy copies src to dst, each chunk d after it was read, in order.
// A reader goroutine timestamps the chunks; this one writes them when due.
// It returns when src ends or dst fails (then it drains what was read).
func (p *Proxy) delayedCopy(dst io.Writer, src io.Reader, d time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 256)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(d)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range ch {
		if failed {
			continue
		}
		time.Sleep(time.Until(c.at)) // the fault itself: the bytes are due then
		if _, err := dst.Write(c.b); err != nil {
			failed = true
			if cl, ok := src.(io.Closer); ok {
				cl.Close() // ends the reader
			}
		}
	}
}

//go:build linux

package wsgate

import (
	"fmt"
	"sync"
	"syscall"
)

// poller lets idle connections wait for their next client frame without a
// goroutine: one goroutine waits in epoll_wait(2) on every idle connection's
// socket, and a readable socket gets a goroutine that reads and handles what
// came, then hands the socket back (EPOLLONESHOT, re-armed with
// EPOLL_CTL_MOD, which reports data that arrived in between). An idle
// connection's reader goroutine was 4–8 KB of stack of its ~12 KB of live
// memory; clients send a frame every ping interval.
//
// The sockets stay registered with Go's own poller too, which a read that
// waits for the rest of a frame still uses. Registrations are keyed by a
// connection number, never by descriptor: a descriptor closed and reused
// for another socket cannot be mistaken for the old one, and every epoll_ctl
// runs under syscall.RawConn.Control, so the descriptor cannot be closed
// meanwhile. A closed socket leaves the epoll set by itself.
//
// It runs only while the gateway has connections registered.
type poller struct {
	g *Gateway

	mu    sync.Mutex
	epfd  int              // -1 when no goroutine runs
	stop  int              // write end of the pipe that ends the goroutine
	conns map[uint64]*conn // registered, by number
	next  uint64           // last number given; 0 is the stop pipe's
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller(g *Gateway) *poller {
	return &poller{g: g, epfd: -1, stop: -1, conns: make(map[uint64]*conn)}
}

// add registers c, whose read buffer must be empty, and arms it; false means
// the connection must read on a goroutine of its own (no plain socket, or
// epoll refused it).
func (p *poller) add(c *conn) bool {
	if c.net.raw == nil {
		return false
	}
	p.mu.Lock()
	if p.epfd < 0 {
		if err := p.startLocked(); err != nil {
			p.mu.Unlock()
			p.g.cfg.Logger.Warn("epoll unavailable: idle connections keep a reader goroutine", "err", err)
			return false
		}
	}
	p.next++
	c.pollID, c.pollFD = p.next, p.epfd
	p.conns[c.pollID] = c
	p.mu.Unlock()
	if err := c.epollCtl(syscall.EPOLL_CTL_ADD); err != nil {
		p.remove(c)
		return false
	}
	return true
}

// arm asks for c's next readable event.
func (p *poller) arm(c *conn) error { return c.epollCtl(syscall.EPOLL_CTL_MOD) }

func (c *conn) epollCtl(op int) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(c.pollID), Pad: int32(c.pollID >> 32)}
	var err error
	if cerr := c.net.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(c.pollFD, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove forgets c; the last connection out ends the goroutine.
func (p *poller) remove(c *conn) {
	if c.pollID == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c.pollID)
	c.pollID = 0
	if len(p.conns) == 0 && p.epfd >= 0 {
		_, _ = syscall.Write(p.stop, []byte{0})
		syscall.Close(p.stop)
		p.epfd, p.stop = -1, -1 // the goroutine closes its epoll descriptor
	}
}

func (p *poller) startLocked() error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return fmt.Errorf("pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // number 0
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	p.epfd, p.stop = epfd, pipe[1]
	p.g.polling.Add(1)
	go p.run(epfd, pipe[0])
	return nil
}

// run hands each readable connection to a reading goroutine until the stop
// pipe says the last connection left.
func (p *poller) run(epfd, stop int) {
	defer p.g.polling.Done()
	defer syscall.Close(epfd)
	defer syscall.Close(stop)
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Cannot happen with a valid descriptor and buffer; should it,
			// close what depends on it rather than leave it unread, and let
			// the next connection start a new instance.
			p.g.cfg.Logger.Error("epoll_wait failed: closing the connections that wait on it", "err", err)
			p.mu.Lock()
			if p.epfd == epfd {
				syscall.Close(p.stop)
				p.epfd, p.stop = -1, -1
			}
			for _, c := range p.conns {
				if c.pollFD == epfd {
					c.close(closePollFailed)
				}
			}
			p.mu.Unlock()
			return
		}
		for i := range evs[:n] {
			id := uint64(uint32(evs[i].Fd)) | uint64(uint32(evs[i].Pad))<<32
			if id == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				c.readable()
			}
		}
	}
}

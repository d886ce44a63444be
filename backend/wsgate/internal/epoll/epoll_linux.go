//go:build linux

// Package epoll lets many sockets wait to become readable on one goroutine
// (Linux epoll, one-shot); elsewhere New returns nil.
package epoll

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
)

// Poller lets idle sockets wait for their next read without a goroutine
// each: one goroutine waits in epoll_wait(2) on every registered socket, and
// a readable socket's Handler is called, then the socket is not watched
// again until Arm (EPOLLONESHOT; re-armed with EPOLL_CTL_MOD, which reports
// data that arrived in between). For the gateway, an idle connection's
// reader goroutine was 4–8 KB of stack of its ~12 KB of live memory.
//
// The sockets stay registered with Go's own poller too, which a read that
// waits for the rest of a message still uses. Registrations are keyed by a
// number, never by descriptor: a descriptor closed and reused for another
// socket cannot be mistaken for the old one, and every epoll_ctl runs under
// syscall.RawConn.Control, so the descriptor cannot be closed meanwhile. A
// closed socket leaves the epoll set by itself.
//
// Its goroutine runs only while a socket is registered.
type Poller struct {
	log *slog.Logger
	wg  sync.WaitGroup // the goroutine

	mu   sync.Mutex
	epfd int             // -1 when no goroutine runs
	stop int             // write end of the pipe that ends the goroutine
	regs map[uint64]*Reg // registered, by number
	next uint64          // last number given; 0 is the stop pipe's
}

// Handler is what a registered socket's owner is told.
type Handler interface {
	// Readable: the socket has something to read. It is called on the
	// poller's goroutine, so it must not wait; the socket is not watched
	// again until Arm.
	Readable()
	// PollFailed: epoll itself failed, and the socket is watched no more.
	PollFailed()
}

// Reg is one socket's registration, kept by its owner (the zero Reg is
// none); Add fills it before the socket can be readable.
type Reg struct {
	h    Handler
	raw  syscall.RawConn
	id   uint64 // 0 once removed
	epfd int    // the epoll instance it is registered with
}

// ErrUnavailable wraps the failure to start an epoll instance.
var ErrUnavailable = errors.New("epoll unavailable")

const events = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// New returns a Poller that logs to log.
func New(log *slog.Logger) *Poller {
	return &Poller{log: log, epfd: -1, stop: -1, regs: make(map[uint64]*Reg)}
}

// Add registers raw as r, whose owner must have nothing buffered from it,
// and arms it. r is filled under the poller's lock, which the goroutine
// takes before it calls Readable, so Readable sees it.
func (p *Poller) Add(r *Reg, raw syscall.RawConn, h Handler) error {
	p.mu.Lock()
	if p.epfd < 0 {
		if err := p.startLocked(); err != nil {
			p.mu.Unlock()
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	p.next++
	*r = Reg{h: h, raw: raw, id: p.next, epfd: p.epfd}
	p.regs[r.id] = r
	p.mu.Unlock()
	if err := r.ctl(syscall.EPOLL_CTL_ADD); err != nil {
		p.Remove(r)
		return err
	}
	return nil
}

// Arm asks for r's next readable event.
func (p *Poller) Arm(r *Reg) error { return r.ctl(syscall.EPOLL_CTL_MOD) }

func (r *Reg) ctl(op int) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(r.id), Pad: int32(r.id >> 32)}
	var err error
	if cerr := r.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(r.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// Remove forgets r (not registered: nothing); the last registration out ends the
// goroutine.
func (p *Poller) Remove(r *Reg) {
	if r == nil || r.id == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.regs, r.id)
	r.id = 0
	if len(p.regs) == 0 && p.epfd >= 0 {
		_, _ = syscall.Write(p.stop, []byte{0})
		syscall.Close(p.stop)
		p.epfd, p.stop = -1, -1 // the goroutine closes its epoll descriptor
	}
}

// Wait waits for the goroutine to end; it ends when the last registration
// is removed.
func (p *Poller) Wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func (p *Poller) startLocked() error {
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
	p.wg.Add(1)
	go p.run(epfd, pipe[0])
	return nil
}

// run hands each readable socket to its Handler until the stop pipe says
// the last registration left.
func (p *Poller) run(epfd, stop int) {
	defer p.wg.Done()
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
			// tell the owners of what depends on it rather than leave it
			// unread, and let the next registration start a new instance.
			p.log.Error("epoll_wait failed: closing the connections that wait on it", "err", err)
			p.mu.Lock()
			if p.epfd == epfd {
				syscall.Close(p.stop)
				p.epfd, p.stop = -1, -1
			}
			for _, r := range p.regs {
				if r.epfd == epfd {
					r.h.PollFailed()
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
			r := p.regs[id]
			p.mu.Unlock()
			if r != nil {
				r.h.Readable()
			}
		}
	}
}

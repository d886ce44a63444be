//go:build linux

// Package uring sends on many sockets with one system call (io_uring), for
// writes that never wait.
package uring

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"
)

const (
	sysSetup = 425 // io_uring_setup, the same number on every architecture
	sysEnter = 426

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	featSingleMmap = 1 << 0
	setupSubmitAll = 1 << 7 // IORING_SETUP_SUBMIT_ALL: one failed send stops no other
	enterGetEvents = 1 << 0

	opSend = 26 // IORING_OP_SEND

	sqeSize = 64
	cqeSize = 16
)

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// sqe is struct io_uring_sqe, as far as a send uses it.
type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	_        [24]byte
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Ring is one io_uring, used by one goroutine at a time.
type Ring struct {
	fd     int
	sqRing []byte
	cqRing []byte
	sqes   []sqe
	cqes   []cqe

	sqHead, sqTail, cqHead, cqTail *uint32
	sqMask, cqMask                 uint32
	size                           int
}

// ErrUnavailable is the kernel refusing io_uring (too old, disabled, or a
// seccomp filter).
var ErrUnavailable = errors.New("io_uring unavailable")

// New sets up a ring for batches of up to size sends.
func New(size int) (*Ring, error) {
	p := params{flags: setupSubmitAll}
	fd, _, e := syscall.RawSyscall(sysSetup, uintptr(size), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, errors.Join(ErrUnavailable, e)
	}
	r := &Ring{fd: int(fd), size: int(p.sqEntries)}
	sqLen := int(p.sqOff.array + p.sqEntries*4)
	cqLen := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap == 0 {
		r.Close()
		return nil, ErrUnavailable // kernels before 5.4: not worth a second mapping
	}
	if cqLen > sqLen {
		sqLen = cqLen
	}
	ring, err := syscall.Mmap(r.fd, offSQRing, sqLen, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, errors.Join(ErrUnavailable, err)
	}
	r.sqRing, r.cqRing = ring, ring
	sqes, err := syscall.Mmap(r.fd, offSQEs, int(p.sqEntries)*sqeSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, errors.Join(ErrUnavailable, err)
	}
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&ring[p.cqOff.cqes])), p.cqEntries)
	r.sqHead = (*uint32)(unsafe.Pointer(&ring[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&ring[p.sqOff.tail]))
	r.cqHead = (*uint32)(unsafe.Pointer(&ring[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&ring[p.cqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&ring[p.sqOff.ringMask]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&ring[p.cqOff.ringMask]))
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&ring[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i) // slot i is always SQE i
	}
	return r, nil
}

// Size is the most sends one Send takes.
func (r *Ring) Size() int { return r.size }

// Close releases the ring.
func (r *Ring) Close() {
	if r.sqes != nil {
		_ = syscall.Munmap(unsafe.Slice((*byte)(unsafe.Pointer(&r.sqes[0])), len(r.sqes)*sqeSize))
		r.sqes = nil
	}
	if r.sqRing != nil {
		_ = syscall.Munmap(r.sqRing)
		r.sqRing, r.cqRing = nil, nil
	}
	if r.fd >= 0 {
		_ = syscall.Close(r.fd)
		r.fd = -1
	}
}

// NotSent is Send's count for a send the kernel did not take: write it
// another way.
const NotSent = -1 << 31

// Send sends bufs[i] on fds[i], each with send(2)'s MSG_DONTWAIT, in one
// io_uring_enter, and leaves in n[i] what each took: a count, -errno
// (-EAGAIN: the socket was full), or NotSent. len(fds) ≤ Size(); no buffer
// is empty. The descriptors must stay open until Send returns.
func (r *Ring) Send(fds []int32, bufs [][]byte, n []int32) {
	k := len(fds)
	tail := *r.sqTail // only this goroutine moves the tail
	for i := 0; i < k; i++ {
		n[i] = NotSent
		s := &r.sqes[(tail+uint32(i))&r.sqMask]
		*s = sqe{opcode: opSend, fd: fds[i], addr: uint64(uintptr(unsafe.Pointer(&bufs[i][0]))), len: uint32(len(bufs[i])),
			msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL, userData: uint64(i)}
	}
	atomic.StoreUint32(r.sqTail, tail+uint32(k))
	// Sends with MSG_DONTWAIT complete inside the call: no completion is
	// waited for, so it need not tell the scheduler (RawSyscall).
	sub, _, e := syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(k), 0, 0, 0, 0)
	if e != 0 {
		sub = 0
	}
	if int(sub) < k {
		// Take back what the kernel did not: the tail is this side's.
		atomic.StoreUint32(r.sqTail, atomic.LoadUint32(r.sqHead))
	}
	for got := 0; got < int(sub); {
		head := *r.cqHead
		ctail := atomic.LoadUint32(r.cqTail)
		for ; head != ctail; head++ {
			c := &r.cqes[head&r.cqMask]
			n[c.userData] = c.res
			got++
		}
		atomic.StoreUint32(r.cqHead, head)
		if got < int(sub) {
			// A completion not posted inline: wait for it, as a call
			// that may block.
			_, _, _ = syscall.Syscall6(sysEnter, uintptr(r.fd), 0, uintptr(int(sub)-got), enterGetEvents, 0, 0)
		}
	}
}

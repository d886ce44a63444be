//go:build !linux

// Package uring sends on many sockets with one system call (io_uring), for
// writes that never wait; on this system it is never available.
package uring

import "errors"

// ErrUnavailable is the kernel refusing io_uring.
var ErrUnavailable = errors.New("io_uring unavailable")

// NotSent is Send's count for a send the kernel did not take.
const NotSent = -1 << 31

// Ring is never made here.
type Ring struct{}

// New fails: no io_uring on this system.
func New(int) (*Ring, error) { return nil, ErrUnavailable }

func (*Ring) Size() int                       { return 0 }
func (*Ring) Close()                          {}
func (*Ring) Send([]int32, [][]byte, []int32) {}

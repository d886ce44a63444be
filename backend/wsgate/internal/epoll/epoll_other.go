//go:build !linux

// Package epoll lets many sockets wait to become readable on one goroutine
// (Linux epoll, one-shot); elsewhere New returns nil.
package epoll

import (
	"errors"
	"log/slog"
	"syscall"
)

// Poller is Linux's epoll; elsewhere every socket's owner reads on a
// goroutine of its own (see epoll_linux.go).
type Poller struct{}

// Handler is what a registered socket's owner is told.
type Handler interface {
	Readable()
	PollFailed()
}

// Reg is one socket's registration.
type Reg struct{}

// ErrUnavailable: there is no epoll here.
var ErrUnavailable = errors.New("epoll unavailable")

// New returns nil: there is no epoll here.
func New(*slog.Logger) *Poller { return nil }

func (*Poller) Add(*Reg, syscall.RawConn, Handler) error { return ErrUnavailable }

func (*Poller) Arm(*Reg) error { return nil }

func (*Poller) Remove(*Reg) {}

func (*Poller) Wait() {}

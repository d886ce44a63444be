//go:build !linux

package wsgate

// poller is Linux's epoll; elsewhere every connection reads on a goroutine of
// its own (see poll_linux.go).
type poller struct{}

func newPoller(*Gateway) *poller { return nil }

func (*poller) add(*conn) bool { return false }

func (*poller) arm(*conn) error { return nil }

func (*poller) remove(*conn) {}

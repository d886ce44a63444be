package wsgate

import (
	"errors"

	"github.com/telltale/telltale/backend/wsgate/internal/epoll"
)

// pollAdd hands an idle connection's socket to the gateway's poller, which
// starts a reader (Readable) when the client sends something; the read
// buffer must be empty. false: the connection must read on a goroutine of
// its own (no plain socket, no epoll, or epoll refused it).
func (c *conn) pollAdd() bool {
	if c.net.raw == nil || c.g.poll == nil {
		return false
	}
	if err := c.g.poll.Add(&c.pollReg, c.net.raw, c); err != nil {
		if errors.Is(err, epoll.ErrUnavailable) {
			c.g.cfg.Logger.Warn("epoll unavailable: idle connections keep a reader goroutine", "err", err)
		}
		return false
	}
	return true
}

// PollFailed is the poller losing its epoll instance: the client reconnects.
func (c *conn) PollFailed() { c.close(closePollFailed) }

package client

import (
	"context"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// SetStreams changes the streams the client follows, on the open connection:
// a stream it already follows keeps its state and cursor (nothing is fetched
// again), a stream no longer named is unsubscribed and its state dropped, a
// new one is subscribed (its snapshot follows, as for any sub). The page
// calls it when the dashboard it draws is redefined. Safe from any
// goroutine; the sends happen in the background, as SetToken's do.
func (c *Client) SetStreams(names []string) {
	c.mu.Lock()
	want := make(map[string]bool, len(names))
	var next []string
	for _, n := range names {
		if !want[n] {
			want[n] = true
			next = append(next, n)
		}
	}
	var add, drop []string
	for _, n := range c.names {
		if !want[n] {
			drop = append(drop, n)
			delete(c.streams, n)
			delete(c.fresh, n)
			delete(c.awaiting, n)
			delete(c.catchUp, n)
		}
	}
	for _, n := range next {
		if _, ok := c.streams[n]; !ok {
			add = append(add, n)
			c.streams[n] = &livestate.Stream{Name: n, Limits: c.limits(n)}
		}
	}
	c.names = next
	ws := c.live
	if !c.welcomed {
		ws = nil // the welcome subscribes every stream named by then
	}
	if c.poll != nil {
		for _, n := range add {
			c.poll.follow(n) // a dropped stream's poll ends at its next turn
		}
	}
	c.refreshLocked()
	c.mu.Unlock()
	if ws != nil && len(add)+len(drop) > 0 {
		go func() {
			ctx := context.Background()
			for _, n := range drop {
				if err := c.send(ctx, ws, wire.Unsub{Stream: n}); err != nil {
					return // the session ends: the next one names only what is followed
				}
			}
			for _, n := range add {
				if err := c.send(ctx, ws, wire.Sub{Stream: n}); err != nil {
					return
				}
			}
		}()
	}
	c.changed()
}

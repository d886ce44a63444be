package client

import "github.com/telltale/telltale/shared/wire"

// Seed starts streams from stored snapshots (the page's last-known-good
// state), before Run: a seeded stream is held, so Run's hello carries its
// cursor and the server replays only the events after it, or answers with a
// snapshot when it cannot (another epoch, a gap older than it keeps).
// Snapshots of streams the client does not follow, or with no epoch, are
// ignored. Info.Snapshots does not count them: none came from the server.
func (c *Client) Seed(snaps []wire.Snapshot) {
	c.mu.Lock()
	for i := range snaps {
		if st, ok := c.streams[snaps[i].Stream]; ok && snaps[i].Epoch != 0 {
			st.Reset(&snaps[i])
		}
	}
	c.mu.Unlock()
	c.changed()
}

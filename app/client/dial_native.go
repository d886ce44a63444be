//go:build !js

package client

import "github.com/coder/websocket"

// dialOptions offers permessage-deflate as a browser does, so that native
// clients (tests, the fan-out benchmark) get the frames a page gets: the
// server deflates snapshots and catch-up replays over its threshold.
func dialOptions() *websocket.DialOptions {
	return &websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover}
}

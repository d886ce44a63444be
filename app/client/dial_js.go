//go:build js

package client

import "github.com/coder/websocket"

// dialOptions is nil in the browser: its WebSocket offers permessage-deflate
// by itself.
func dialOptions() *websocket.DialOptions { return nil }

//go:build !js

// Node has no WebSocket or listening sockets: these run natively.

package client

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine has an owner that waits for it: none may outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

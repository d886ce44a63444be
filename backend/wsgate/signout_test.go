package wsgate

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/wire"
)

// TestRevokedStuckClientIsCutOffPromptly: a revoked client that stopped
// reading, while a write waits for its socket, is cut off within about
// signOutWait, not after the write timeout: its sign-out goes through the
// write side, behind that write, and brings the write's watchdog forward.
func TestRevokedStuckClientIsCutOffPromptly(t *testing.T) {
	var revoked atomic.Bool
	f := start(t, Config{
		WriteTimeout:  time.Minute,
		CompressAbove: -1,
		Revoked:       func(*auth.Principal) bool { return revoked.Load() },
	})
	// ~1 MB of snapshot: far more than the two 4 KB socket buffers take.
	if err := f.store.Append(context.Background(), "demo", "big", []wire.Event{{Points: slowSeries(50000)}}); err != nil {
		t.Fatal(err)
	}
	r := stuckClient(t, serveSmallSend(t, f.gate, nil))
	r.send(wire.Hello{})
	r.send(wire.Sub{Stream: "big"})
	poll.Until(t, 10*time.Second, func() error {
		if n := f.reg.Lookup("telltale_ws_slow_writes_total").Load(); n == 0 {
			return errors.New("the snapshot's write is not waiting for the socket yet")
		}
		return nil
	})

	revoked.Store(true)
	swept := time.Now()
	f.gate.Sweep()
	poll.Until(t, 10*time.Second, func() error {
		f.gate.mu.Lock()
		defer f.gate.mu.Unlock()
		if n := len(f.gate.conns); n > 0 {
			return errors.New("the revoked connection is still open")
		}
		return nil
	})
	t.Logf("a revoked client that reads nothing was cut off %v after Sweep (write timeout 1m)", time.Since(swept).Round(time.Millisecond))
}

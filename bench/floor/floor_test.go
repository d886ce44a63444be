//go:build linux

package floor

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/uring"
)

// TestMain lets Run start this test binary as its reading process.
func TestMain(m *testing.M) {
	Reader()
	os.Exit(m.Run())
}

// TestRunSendsEveryFrame: both modes send every burst to every connection,
// whole, and the reader gets every byte, small frames and large.
func TestRunSendsEveryFrame(t *testing.T) {
	for _, c := range []struct {
		mode string
		size int
	}{{"write", 40}, {"uring", 300}} {
		res, err := Run(Config{Conns: 50, Rate: 20, Duration: 500 * time.Millisecond, Size: c.size, Mode: c.mode})
		if err != nil {
			if errors.Is(err, uring.ErrUnavailable) {
				t.Logf("%s: %v: io_uring refused here, as the gateway falls back", c.mode, err)
				continue
			}
			t.Fatalf("%s: %v", c.mode, err)
		}
		if res.Sends != 50*10 || res.Short != 0 {
			t.Errorf("%s: %d sends (%d short), want 500 whole", c.mode, res.Sends, res.Short)
		}
		if res.ReaderGotBytes != res.Sends*int64(c.size) {
			t.Errorf("%s: reader got %d bytes, want %d", c.mode, res.ReaderGotBytes, res.Sends*int64(c.size))
		}
		if res.UsPerSend <= 0 {
			t.Errorf("%s: %v µs per send", c.mode, res.UsPerSend)
		}
	}
}

package proc

import (
	"os"
	"testing"
	"time"
)

func TestReadsThisProcess(t *testing.T) {
	start := CPUTicks(os.Getpid())
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
	}
	if got := CPUTicks(os.Getpid()); got <= start {
		t.Errorf("CPU ticks %d after spinning 300 ms, were %d", got, start)
	}
	if rss := RSSKB(os.Getpid()); rss <= 0 {
		t.Errorf("RSS %d KiB, want > 0", rss)
	}
	if CPUTicks(-1) != 0 || RSSKB(-1) != 0 {
		t.Error("a missing process reads as non-zero")
	}
}

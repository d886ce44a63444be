package timing

import (
	"testing"
	"time"
)

func TestOver(t *testing.T) {
	t.Setenv("TELLTALE_TIMING_TESTS", "1")
	if !Over(t, 2*time.Second, time.Second) || Over(t, time.Second, time.Second) {
		t.Fatal("strict: want an overrun, and the bound itself within")
	}
	t.Setenv("TELLTALE_TIMING_TESTS", "")
	if Over(t, 2*time.Second, time.Second) {
		t.Fatal("not strict: an overrun must not fail")
	}
}

// Package poll is the tests' way to wait for a condition: poll it, never
// sleep a guessed time (nats-server's checkFor).
//
// It must never be imported by non-test code.
package poll

import (
	"testing"
	"time"
)

// Until calls fn every few milliseconds until it returns nil, and fails the
// test with fn's last error when timeout passes first.
func Until(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

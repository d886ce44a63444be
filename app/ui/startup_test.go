package ui

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/internal/timing"
)

// manualFrames is a Frames whose frames fire when the test says.
type manualFrames struct {
	mu      sync.Mutex
	pending []func()
}

func (f *manualFrames) Request(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, fn)
}

// fire runs one frame: the requests made before it.
func (f *manualFrames) fire() {
	f.mu.Lock()
	run := f.pending
	f.pending = nil
	f.mu.Unlock()
	for _, fn := range run {
		fn()
	}
}

// TestAwaitFrameWaitsForTheFrameAfterNext: the client's wait after a
// snapshot ends only once the page has had a frame to draw it (the frame
// after the next), and without frames (a hidden tab) after awaitFrameMax.
func TestAwaitFrameWaitsForTheFrameAfterNext(t *testing.T) {
	f := &manualFrames{}
	s := &Shell{bridges: Bridges{Frames: f}}
	done := make(chan struct{})
	go func() {
		s.awaitFrame(context.Background())
		close(done)
	}()
	poll.Until(t, 5*time.Second, func() error { // the wait has asked for its frame
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.pending) == 0 {
			return errors.New("awaitFrame has requested no frame")
		}
		return nil
	})
	select {
	case <-done:
		t.Fatal("awaitFrame returned before any frame")
	default:
	}
	f.fire()
	select {
	case <-done:
		t.Fatal("awaitFrame returned after one frame, want the frame after next")
	default:
	}
	f.fire()
	select {
	case <-done:
	case <-time.After(awaitFrameMax / 2):
		t.Fatalf("awaitFrame still waiting after the second frame")
	}

	began := time.Now()
	s.awaitFrame(context.Background()) // no frame fires
	if waited := time.Since(began); waited < awaitFrameMax || timing.Over(t, waited, 10*awaitFrameMax) {
		t.Fatalf("without frames awaitFrame waited %v, want about %v", waited, awaitFrameMax)
	}
}

//go:build js && wasm

package main

import (
	"sync"
	"syscall/js"
)

// frames implements ui.Frames with requestAnimationFrame. One js.Func serves
// every frame, so nothing is allocated or leaked per frame.
type frames struct {
	mu      sync.Mutex
	pending []func()
	queued  bool
	cb      js.Func
}

func newFrames() *frames {
	f := &frames{}
	f.cb = js.FuncOf(func(js.Value, []js.Value) any {
		f.mu.Lock()
		run := f.pending
		f.pending = nil
		f.queued = false
		f.mu.Unlock()
		for _, fn := range run {
			fn()
		}
		return nil
	})
	return f
}

func (f *frames) Request(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, fn)
	if !f.queued {
		f.queued = true
		js.Global().Call("requestAnimationFrame", f.cb)
	}
}

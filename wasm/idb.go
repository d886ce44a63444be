//go:build js && wasm

package main

import (
	"errors"
	"syscall/js"
)

// idb implements ui.Store over static/lkg.js (window.telltaleStore), which
// keeps the record in IndexedDB. IndexedDB, not localStorage: localStorage
// is synchronous (it blocks the page while a snapshot is written) and holds
// about 5 MB of UTF-16 text.
type idb struct{}

// call calls method of telltaleStore with args and a callback that gets
// (bytes, error) from JavaScript.
func (idb) call(method string, done func(b []byte, err error), args ...any) {
	st := js.Global().Get("telltaleStore")
	if !st.Truthy() {
		done(nil, errors.New("no telltaleStore: /web/lkg.js did not load"))
		return
	}
	var cb js.Func
	cb = js.FuncOf(func(_ js.Value, res []js.Value) any {
		cb.Release()
		if res[1].Truthy() {
			done(nil, errors.New(method+": "+res[1].String()))
		} else if res[0].Truthy() {
			b := make([]byte, res[0].Length())
			js.CopyBytesToGo(b, res[0])
			done(b, nil)
		} else {
			done(nil, nil)
		}
		return nil
	})
	st.Call(method, append(args, cb)...)
}

func (d idb) Load(done func([]byte, error)) { d.call("load", done) }

func (d idb) Save(rec []byte, done func(error)) {
	arr := js.Global().Get("Uint8Array").New(len(rec))
	js.CopyBytesToJS(arr, rec)
	d.call("save", func(_ []byte, err error) { done(err) }, arr)
}

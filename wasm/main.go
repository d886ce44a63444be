//go:build js && wasm

// Command wasm is the browser entry point that becomes app.wasm: it registers
// the UI with the browser bridges (uPlot charts, animation frames, IndexedDB,
// Intl formatting) and hands control to go-app.
//
// It must never import backend code: TestWasmDependencies fails the build
// when pgx, net/http's server side or anything under backend/ creeps in.
package main

import (
	"syscall/js"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/ui"
)

func main() {
	// The Go runtime is up: the render benchmark's timeline starts the
	// page's own steps here (app/ui/startmark.go marks the rest).
	js.Global().Get("performance").Call("mark", "telltale:wasm-main")
	loc := newIntl()
	ui.Register(ui.Bridges{Charts: newUPlot(loc), Frames: newFrames(), Store: idb{}, Locale: loc})
	app.RunWhenOnBrowser()
}

//go:build js && wasm

// Command wasm is the browser entry point that becomes app.wasm: it registers
// the UI with the browser bridges (uPlot charts, animation frames) and hands
// control to go-app.
//
// It must never import backend code: TestWasmDependencies fails the build
// when pgx, net/http's server side or anything under backend/ creeps in.
package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/ui"
)

func main() {
	ui.Register(ui.Bridges{Charts: newUPlot(), Frames: newFrames(), Store: idb{}})
	app.RunWhenOnBrowser()
}

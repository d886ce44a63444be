package ui

import "github.com/maxence-charriere/go-app/v10/pkg/app"

// startMark records a step of the page's start as a performance mark
// ("telltale:" + step), so the render benchmark's timeline (bench/cmd/render)
// and the browser's performance panel show where the first chart's time
// goes. Outside the browser it does nothing.
func startMark(step string) {
	if perf := app.Window().Get("performance"); perf.Truthy() {
		perf.Call("mark", "telltale:"+step)
	}
}

package ui

import (
	"context"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/livestate"
)

// listenNetwork kicks the client (reconnect now, check an open socket at
// once) when the browser says the network is back, when the page is shown
// again and when it returns from the back-forward cache: the moments a
// phone's socket has most likely died without a close, and when waiting out
// a 30 s backoff would show stale data for nothing. The first two also ask
// for a new version (checkUpdate). It tells the client what the browser
// says of the network (navigator.onLine, online and offline), so the badge
// reads "offline" the moment the device loses it rather than when the
// socket is found dead two ping intervals later. It also installs
// window.telltaleNet() for tests and consoles. Everything is released when
// ctx ends.
func (s *Shell) listenNetwork(ctx app.Context, c *client.Client) {
	win := app.Window()
	on := func(event string, kick func(ev app.Value) bool) {
		fn := app.FuncOf(func(_ app.Value, args []app.Value) any {
			if len(args) > 0 && kick(args[0]) {
				c.Kick()
			}
			return nil
		})
		win.Call("addEventListener", event, fn)
		context.AfterFunc(ctx, func() {
			win.Call("removeEventListener", event, fn)
			fn.Release()
		})
	}
	// online also asks for a new version (checkUpdate); SetOnline(true)
	// kicks.
	on("online", func(app.Value) bool { checkUpdate(); c.SetOnline(true); return false })
	on("offline", func(app.Value) bool { c.SetOnline(false); return false })
	if nav := win.Get("navigator"); nav.Truthy() && !nav.Get("onLine").IsUndefined() && !nav.Get("onLine").Bool() {
		c.SetOnline(false)
	}
	// visibilitychange is fired at the document and bubbles to the window.
	on("visibilitychange", func(app.Value) bool {
		shown := win.Get("document").Get("visibilityState").String() == "visible"
		if shown {
			checkUpdate()
		}
		return shown
	})
	on("pageshow", func(ev app.Value) bool { return ev.Get("persisted").Truthy() })

	stats := app.FuncOf(func(app.Value, []app.Value) any {
		var info client.Info
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { info = i })
		return netJSON(info, time.Now())
	})
	win.Set("telltaleNet", stats)
	context.AfterFunc(ctx, func() {
		win.Delete("telltaleNet")
		stats.Release()
	})
}

// netJSON is what window.telltaleNet() answers: the status, the transport,
// the lag, the catch-up progress, and how long until the next WebSocket
// attempt (-1: none due). Written by hand: encoding/json's reflection over
// one more struct costs app.wasm more than this.
func netJSON(info client.Info, now time.Time) string {
	retry := int64(-1)
	if !info.RetryAt.IsZero() {
		retry = max(0, info.RetryAt.Sub(now).Milliseconds())
	}
	return `{"status":` + strconv.Quote(info.Status.String()) +
		`,"transport":` + strconv.Quote(info.Transport) +
		`,"lag_ms":` + strconv.FormatInt(info.Lag.Milliseconds(), 10) +
		`,"catch_up_done":` + strconv.FormatUint(info.CatchUp.Done, 10) +
		`,"catch_up_total":` + strconv.FormatUint(info.CatchUp.Total, 10) +
		`,"retry_in_ms":` + strconv.FormatInt(retry, 10) +
		`,"clock_offset_ms":` + strconv.FormatInt(info.ClockOffset.Milliseconds(), 10) +
		`,"clock_err_ms":` + strconv.FormatFloat(float64(info.ClockErr)/1e6, 'f', 3, 64) + `}`
}

// httpGet is the client's Config.Get in the browser: fetchBytes (the
// browser's fetch; net/http would add 850 KB to app.wasm), whose answers
// other than 200 are client.HTTPErrors, so the client can tell a cursor to
// start over (409) from a refused token (401).
func httpGet(ctx context.Context, url, token string) ([]byte, error) {
	return fetchBytes(ctx, url, token)
}

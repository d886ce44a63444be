package ui

import (
	"strconv"
	"time"

	"github.com/telltale/telltale/app/client"
)

// badgeFor is the connection badge: its state (data-state, which colours
// it) and its text, from the client's status and what the panels say about
// the data. The badge follows the data, not only the socket: green ("live")
// never sits over a stale panel. A live connection whose panels are stale
// (a source gone quiet, or a network that delivers nothing while the socket
// stays open) is "degraded · no new data"; a socket that heard nothing, not
// even a ping, for 1.2 ping intervals is "degraded · no signal for 19 s";
// when the browser says the device has no network the badge is "offline"
// at once (client.Client.SetOnline): all before the watchdog declares the
// socket dead at two intervals. Every state carries the age of the newest
// data anywhere.
func badgeFor(info client.Info, data dataHealth, now time.Time) (state, text string) {
	state = info.Status.String()
	switch info.Status {
	case client.Live:
		text = "live"
		if data.stale > 0 {
			state, text = "degraded", "degraded · "+staleText(data)
		}
	case client.Offline:
		text = "offline"
		if info.NetworkDown {
			text += " · no network"
		}
	case client.SignedOut:
		state, text = "signed-out", "signed out"
	case client.CatchingUp:
		state, text = "catching-up", "catching up"
		if p := info.CatchUp; p.Total > 0 {
			text += " " + strconv.FormatUint(p.Done, 10) + "/" + strconv.FormatUint(p.Total, 10)
		}
	case client.Degraded:
		text = "degraded"
		switch {
		case info.Silent && !info.LastFrameAt.IsZero():
			text += " · no signal for " + strconv.Itoa(int(now.Sub(info.LastFrameAt).Seconds())) + " s"
		case info.Transport == client.TransportPoll:
			text += " · polling"
		case info.Lag > 0:
			text += " · " + age(info.Lag) + " late"
		}
	default:
		text = "connecting…"
	}
	switch {
	case data.newest >= 0:
		text += " · " + coarseAge(data.newest)
	case !info.LastEventAt.IsZero():
		text += " · " + coarseAge(now.Sub(info.LastEventAt))
	}
	return state, text
}

// staleText says how many panels are stale: "no new data" when all are.
func staleText(d dataHealth) string {
	switch {
	case d.stale >= d.known:
		return "no new data"
	case d.stale == 1:
		return "1 panel stale"
	}
	return strconv.Itoa(d.stale) + " panels stale"
}

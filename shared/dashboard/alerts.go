package dashboard

import (
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// AlertsStream is the stream of each tenant on which the server's alert
// evaluator (backend/alert) keeps that tenant's alerts: one row per alert,
// keyed by its id (AlertEvent), which stays when it resolves. Pages follow it
// and show a banner while an alert of their dashboard fires. Only the server
// writes it (the "telltale." prefix is reserved).
const AlertsStream = "telltale.alerts"

// MaxAlerts bounds the rows of a tenant's AlertsStream: the hub and the page
// keep that many, and the evaluator tracks no more alerts per tenant.
const MaxAlerts = 1000

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is one row of AlertsStream.
type Alert struct {
	ID        string    `json:"id"`    // dashboard/panel/what: stable across episodes
	State     string    `json:"state"` // AlertFiring or AlertResolved
	Dashboard string    `json:"dashboard"`
	Panel     string    `json:"panel"`
	Message   string    `json:"message"` // what, where and how bad, in words
	Since     time.Time `json:"since"`   // when this episode fired
}

// AlertEvent is the event that writes a's row.
func AlertEvent(a Alert) wire.Event {
	return wire.Event{Row: &wire.Row{Key: a.ID, Fields: map[string]any{
		"state": a.State, "dashboard": a.Dashboard, "panel": a.Panel, "message": a.Message,
		"since": float64(a.Since.UnixMilli()),
	}}}
}

// ParseAlert reads a row of AlertsStream; false when it is not one.
func ParseAlert(r *wire.Row) (Alert, bool) {
	if r == nil || r.Key == "" || r.Op == wire.RowDelete {
		return Alert{}, false
	}
	a := Alert{ID: r.Key}
	a.State, _ = r.Fields["state"].(string)
	a.Dashboard, _ = r.Fields["dashboard"].(string)
	a.Panel, _ = r.Fields["panel"].(string)
	a.Message, _ = r.Fields["message"].(string)
	switch v := r.Fields["since"].(type) {
	case float64:
		a.Since = time.UnixMilli(int64(v))
	case int64:
		a.Since = time.UnixMilli(v)
	case uint64:
		a.Since = time.UnixMilli(int64(v))
	}
	return a, a.State == AlertFiring || a.State == AlertResolved
}

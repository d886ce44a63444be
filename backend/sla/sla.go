// Package sla merges the pages' freshness reports (wire.Report) into minute
// rollups per tenant × dashboard × panel, keeps them (in memory on the
// embedded store, in PostgreSQL otherwise, 30 days by default) and answers
// GET /api/v1/sla. Alerts read the same answers.
//
// It must never take a tenant from a report: the caller passes the tenant of
// the token that sent it. A report is checked (caps, clamps) before anything
// of it is merged, so a hostile page can distort only its own numbers.
package sla

import (
	"context"
	"time"

	"github.com/telltale/telltale/shared/sla"
	"github.com/telltale/telltale/shared/wire"
)

// Sink takes the reports pages send, over the socket (wsgate) or over HTTP
// (POST /api/v1/sla/report, the fallback and pagehide). tenant comes from the
// sender's token; now is the server's clock on arrival. An error says the
// report was refused (the caller counts it and answers 4xx or an error frame);
// Take never blocks on storage. Take must not keep r or anything r holds
// (its slices) after it returns: the gateway decodes the next report into
// the same arrays. Strings are immutable and may be kept.
type Sink interface {
	Take(tenant string, r *wire.Report, now time.Time) error
}

// Querier answers a tenant's freshness over [from, to): one dashboard, or
// every dashboard when dashboard is "".
type Querier interface {
	Query(ctx context.Context, tenant, dashboard string, from, to time.Time) (*sla.Answer, error)
}

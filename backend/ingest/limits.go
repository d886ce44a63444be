package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// Limiter checks a batch of one stream against its tenant's caps on hot
// state (series, gauge names, row fields and bytes) before anything is
// stored, and answers a *livestate.LimitError past one. The hub is one: it
// knows what each stream holds.
type Limiter interface {
	Check(tenant, stream string, evs []wire.Event) error
}

// limitProblem is the answer past a cap: 422, naming the cap, the stream and
// the limit in the message and as fields, so a producer can act on it.
type limitProblem struct {
	Error  string `json:"error"`
	Cap    string `json:"cap"`
	Stream string `json:"stream"`
	Limit  int    `json:"limit"`
}

// checkLimits asks the Limiter about each stream of the batch; without one
// (tests, tools), every stream is checked as empty against the default caps,
// which still bounds rows and one batch's width.
func (h *Handler) checkLimits(w http.ResponseWriter, tenant string, streams map[string][]wire.Event) bool {
	for name, evs := range streams {
		var err error
		if h.cfg.Limits != nil {
			err = h.cfg.Limits.Check(tenant, name, evs)
		} else if le := livestate.Check(&wire.State{}, name, evs, livestate.Limits{}); le != nil {
			err = le
		}
		if err == nil {
			continue
		}
		var le *livestate.LimitError
		if !errors.As(err, &le) {
			h.cfg.Logger.Error("ingest limit check", "tenant", tenant, "stream", name, "err", err)
			writeError(w, http.StatusServiceUnavailable, "cannot check the stream's limits right now; retry")
			return false
		}
		h.rejected.Inc()
		h.cfg.Metrics.Counter("telltale_ingest_over_cap_total", "ingest requests refused past a stream's cap (series, gauge names, row fields or bytes)").Inc()
		h.cfg.Logger.Warn("ingest over a cap", "tenant", tenant, "stream", name, "cap", le.Cap, "limit", le.Limit, "would_be", le.Got)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(limitProblem{
			Error:  fmt.Sprintf("%v; nothing of the batch was stored (limits per tenant: docs/SECURITY.md)", le),
			Cap:    le.Cap,
			Stream: name,
			Limit:  le.Limit,
		})
		return false
	}
	return true
}

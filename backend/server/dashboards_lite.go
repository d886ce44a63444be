package server

import (
	"net/http"
	"strconv"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/shared/agg"
	"github.com/telltale/telltale/shared/dashboard"
)

// warmLite starts computing the m4 streams a lite page will follow, when
// its spec's request names its width (dashboard.QueryM4Px): the page
// subscribes to them about a second later (its client starts, then the
// WebSocket's handshake), and an m4 stream's history is read from the
// store only once it is wanted. Only streams the token may read are
// started; what they start is bounded as a subscription's is (the
// tenant's aggregate cap, the idle expiry of streams nobody watches).
func (s *Server) warmLite(r *http.Request, who *auth.Principal, d *dashboard.Dashboard) {
	if s.cfg.WarmM4 == nil {
		return
	}
	v := r.URL.Query().Get(dashboard.QueryM4Px)
	if v == "" {
		return
	}
	px, err := strconv.Atoi(v)
	if err != nil || px < 1 {
		return
	}
	px = min(px, agg.MaxM4Buckets)
	for _, p := range d.Panels {
		name, _, ok := dashboard.LiteStream(p, px)
		if !ok || who.Allow(who.Tenant, p.Stream) != nil {
			continue
		}
		if err := s.cfg.WarmM4(who.Tenant, name); err != nil {
			s.cfg.Logger.Debug("m4 stream not started ahead", "tenant", who.Tenant, "stream", name, "err", err)
		}
	}
}

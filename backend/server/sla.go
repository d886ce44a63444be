package server

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/telltale/telltale/backend/sla"
	"github.com/telltale/telltale/shared/wire"

	shared "github.com/telltale/telltale/shared/sla"
)

// SLA is what the freshness endpoints need: the reports' sink and the
// answers' querier (sla.Service is both).
type SLA interface {
	sla.Sink
	sla.Querier
}

// DefaultSLAPeriod is the period GET /api/v1/sla answers without from.
const DefaultSLAPeriod = time.Hour

// getSLA answers GET /api/v1/sla?dashboard=&from=&to=: the caller's
// tenant's freshness (the tenant is the token's, never a parameter). An
// admin may leave dashboard out for the whole tenant; any other role must
// name one. from and to are RFC 3339 times or durations back from now
// ("-7d", "-1h", "-30m"); from defaults to an hour before to, to to now.
func (s *Server) getSLA(w http.ResponseWriter, r *http.Request) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	dash := q.Get("dashboard")
	if dash == "" && who.Role != AdminRole {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name a dashboard (?dashboard=ID): only a token with role admin may ask for the whole tenant"})
		return
	}
	if len(dash) > shared.MaxNameBytes {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("dashboard id over %d bytes", shared.MaxNameBytes)})
		return
	}
	now := time.Now()
	to, err := slaTime(q.Get("to"), now, now)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "to: " + err.Error()})
		return
	}
	from, err := slaTime(q.Get("from"), now, to.Add(-DefaultSLAPeriod))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from: " + err.Error()})
		return
	}
	ans, err := s.cfg.SLA.Query(r.Context(), who.Tenant, dash, from, to)
	switch {
	case errors.Is(err, sla.ErrRange):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	case err != nil:
		s.cfg.Logger.Error("sla query failed", "tenant", who.Tenant, "dashboard", dash, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the freshness rollups (see the server's log)"})
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// slaTime reads a query's time: empty is def, "-7d" / "-90m" is that long
// before now, anything else RFC 3339.
func slaTime(v string, now, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.HasPrefix(v, "-") {
		d, err := backDuration(v[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%.32q: want a time (RFC 3339) or a duration back from now like -7d, -1h, -30m", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%.40q: want a time (RFC 3339) or a duration back from now like -7d, -1h, -30m", v)
	}
	return t, nil
}

// backDuration reads "7d" (days) or a Go duration ("1h30m").
func backDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 366 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}

// postSLAReport takes one page's freshness report over HTTP (the fallback
// transport, and pagehide's sendBeacon-like last word): a wire.Report in
// msgpack (application/msgpack, application/x-msgpack) or JSON with the
// frame's keys, at most shared.MaxReportBytes, counted against the token's
// tenant. 204 when taken; 400 with the reason when refused; 429 when the
// tenant's open rollups are at their cap.
func (s *Server) postSLAReport(w http.ResponseWriter, r *http.Request) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var decode func([]byte) (*wire.Report, error)
	switch mt {
	case "application/msgpack", "application/x-msgpack", "application/vnd.msgpack":
		decode = sla.DecodeReportMsgpack
	case "application/json", "text/plain": // text/plain: what a beacon without a type sends
		decode = sla.DecodeReportJSON
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": fmt.Sprintf("Content-Type %.40q: want application/msgpack or application/json", mt)})
		return
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, shared.MaxReportBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("a report is at most %d bytes", shared.MaxReportBytes)})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the body: " + err.Error()})
		return
	}
	rep, err := decode(buf.Bytes())
	if err == nil {
		err = s.cfg.SLA.Take(who.Tenant, rep, time.Now())
	}
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, sla.ErrBusy):
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
}

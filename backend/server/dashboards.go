package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/dashboard"
)

// MaxDashboardBody bounds a PUT's body: a spec of a few hundred panels is
// well under it. Past it the answer is 413.
const MaxDashboardBody = 1 << 20

// AdminRole is the role a token needs to write its tenant's dashboards.
const AdminRole = "admin"

// parsers reads a PUT body by its media type: one dashboard or a list of
// them, resolved and validated, with dashboard.Parse's errors (line:col,
// naming the dashboard, panel and field). A body of another media type is
// refused with 415, naming these.
var parsers = map[string]func([]byte) ([]dashboard.Dashboard, error){
	"application/json": dashboard.Parse,
	"application/yaml": dashboard.ParseYAML,
	"text/yaml":        dashboard.ParseYAML,
}

// Dashboard sources in the list.
const (
	SourceStored  = "stored"
	SourceBuiltin = "builtin"
)

// DashboardRef is one entry of GET /api/v1/dashboards.
type DashboardRef struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Version int    `json:"version,omitempty"` // a stored one's current version; 0 for a built-in
	Source  string `json:"source"`            // SourceStored or SourceBuiltin
}

// listDashboards lists the caller's tenant's stored dashboards (by id),
// then the built-ins none of them shadows.
func (s *Server) listDashboards(w http.ResponseWriter, r *http.Request) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return
	}
	refs := []DashboardRef{}
	stored := map[string]bool{}
	if s.cfg.Stored != nil {
		list, err := s.cfg.Stored.List(r.Context(), who.Tenant)
		if err != nil {
			s.storeFailed(w, who, "list", "", err)
			return
		}
		for _, m := range list {
			stored[m.ID] = true
			refs = append(refs, DashboardRef{ID: m.ID, Title: m.Title, Version: m.Version, Source: SourceStored})
		}
	}
	for _, d := range s.cfg.Dashboards {
		if !stored[d.ID] {
			refs = append(refs, DashboardRef{ID: d.ID, Title: d.Title, Source: SourceBuiltin})
		}
	}
	writeJSON(w, http.StatusOK, refs)
}

// getDashboard answers a spec: the tenant's stored one of that id (or one
// of its versions with ?version=N), else the built-in.
func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("version %.20q: want a version number, 1 or more", v)})
			return
		}
		if s.cfg.Stored == nil {
			s.notStored(w, id)
			return
		}
		st, err := s.cfg.Stored.Version(r.Context(), who.Tenant, id, n)
		if err != nil {
			if errors.Is(err, dashstore.ErrNotFound) {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no version %d of dashboard %.64q (GET …/versions lists those kept)", n, id)})
				return
			}
			s.storeFailed(w, who, "read", id, err)
			return
		}
		w.Header().Set("X-Dashboard-Version", strconv.Itoa(st.Version))
		writeJSON(w, http.StatusOK, st.Spec)
		return
	}
	if s.cfg.Stored != nil {
		st, err := s.cfg.Stored.Get(r.Context(), who.Tenant, id)
		switch {
		case err == nil:
			s.warmLite(r, who, &st.Spec)
			w.Header().Set("X-Dashboard-Version", strconv.Itoa(st.Version))
			writeJSON(w, http.StatusOK, st.Spec)
			return
		case !errors.Is(err, dashstore.ErrNotFound):
			s.storeFailed(w, who, "read", id, err)
			return
		}
	}
	if d, ok := s.builtin(id); ok {
		s.warmLite(r, who, &d)
		writeJSON(w, http.StatusOK, d)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no dashboard %.64q", id)})
}

// builtin is the built-in dashboard id names: "default" is the first one,
// unless one is called that.
func (s *Server) builtin(id string) (dashboard.Dashboard, bool) {
	for _, d := range s.cfg.Dashboards {
		if d.ID == id {
			return d, true
		}
	}
	if id == "default" && len(s.cfg.Dashboards) > 0 {
		return s.cfg.Dashboards[0], true
	}
	return dashboard.Dashboard{}, false
}

// putDashboard creates or replaces one of the tenant's stored dashboards:
// 201 with its Meta when it is new, 200 when it replaced one (or the spec
// was the current one's, which saves nothing).
func (s *Server) putDashboard(w http.ResponseWriter, r *http.Request) {
	who, ok := s.admin(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Header.Get("Content-Type") == "" {
		mt, err = "application/json", nil
	}
	parse, known := parsers[mt]
	if err != nil || !known {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": fmt.Sprintf("Content-Type %.64q: want one of %s", r.Header.Get("Content-Type"), strings.Join(mediaTypes(), ", "))})
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		return
	}
	if mt == "application/json" {
		body = withID(body, id)
	}
	ds, err := parse(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if len(ds) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("the body holds %d dashboards: PUT one, the one of the path (%s)", len(ds), id)})
		return
	}
	d := ds[0]
	if d.ID != id {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("the body is dashboard %.64q but the path names %.64q: they must be the same (or leave the body's id out)", d.ID, id)})
		return
	}
	prev, err := s.cfg.Stored.Get(r.Context(), who.Tenant, id)
	existed := err == nil
	if err != nil && !errors.Is(err, dashstore.ErrNotFound) {
		s.storeFailed(w, who, "read", id, err)
		return
	}
	m, err := s.cfg.Stored.Put(r.Context(), who.Tenant, d, who.Subject)
	if err != nil {
		s.storeFailed(w, who, "save", id, err)
		return
	}
	if !existed || m.Version != prev.Version { // else the spec was the current one's
		s.cfg.Logger.Info("dashboard saved", "tenant", who.Tenant, "sub", who.Subject, "dashboard", id, "version", m.Version)
		if s.cfg.DashboardsChanged != nil {
			s.cfg.DashboardsChanged(r.Context(), who.Tenant)
		}
	}
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
	}
	writeJSON(w, status, m)
}

// deleteDashboard removes one of the tenant's stored dashboards and its
// versions; a built-in one cannot be (409), and once a stored one
// shadowing a built-in is gone, the built-in shows again.
func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	who, ok := s.admin(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	err := s.cfg.Stored.Delete(r.Context(), who.Tenant, id)
	switch {
	case errors.Is(err, dashstore.ErrNotFound):
		if _, builtin := s.builtin(id); builtin {
			writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("dashboard %.64q is built into the server (its -dashboards file, or the demo's): it cannot be deleted, only shadowed by a stored one of the same id", id)})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no stored dashboard %.64q", id)})
		return
	case err != nil:
		s.storeFailed(w, who, "delete", id, err)
		return
	}
	s.cfg.Logger.Info("dashboard deleted", "tenant", who.Tenant, "sub", who.Subject, "dashboard", id)
	if s.cfg.DashboardsChanged != nil {
		s.cfg.DashboardsChanged(r.Context(), who.Tenant)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// dashboardVersions lists a stored dashboard's kept versions, newest first.
func (s *Server) dashboardVersions(w http.ResponseWriter, r *http.Request) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if s.cfg.Stored == nil {
		s.notStored(w, id)
		return
	}
	vs, err := s.cfg.Stored.Versions(r.Context(), who.Tenant, id)
	switch {
	case errors.Is(err, dashstore.ErrNotFound):
		s.notStored(w, id)
	case err != nil:
		s.storeFailed(w, who, "list versions of", id, err)
	default:
		writeJSON(w, http.StatusOK, vs)
	}
}

// notStored answers 404 for a dashboard the tenant has not stored.
func (s *Server) notStored(w http.ResponseWriter, id string) {
	if _, builtin := s.builtin(id); builtin {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("dashboard %.64q is built into the server (its -dashboards file, or the demo's): it has no stored versions", id)})
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no stored dashboard %.64q", id)})
}

// admin lets through a verified token of role admin (of its own tenant:
// every write goes to who.Tenant), answering 401, 403 or, on a server
// without stored dashboards, 501 otherwise.
func (s *Server) admin(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	who, ok := s.cfg.Operator(w, r)
	if !ok {
		return nil, false
	}
	if who.Role != AdminRole {
		s.cfg.Logger.Warn("dashboard write refused: not an admin", "tenant", who.Tenant, "sub", who.Subject, "method", r.Method)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "only a token with role admin may change dashboards"})
		return nil, false
	}
	if s.cfg.Stored == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this server stores no dashboards"})
		return nil, false
	}
	return who, true
}

func (s *Server) storeFailed(w http.ResponseWriter, who *auth.Principal, what, id string, err error) {
	switch {
	case errors.Is(err, dashstore.ErrTooMany):
		writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("could not %s dashboard %.64q: %v", what, id, dashstore.ErrTooMany)})
		return
	case errors.Is(err, store.ErrStreamQuota):
		writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("could not %s dashboard %.64q: the tenant is at its stream quota, and the change could not be announced on %s", what, id, dashboard.ChangesStream)})
		return
	}
	s.cfg.Logger.Error("dashboard store: "+what+" failed", "tenant", who.Tenant, "dashboard", id, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": fmt.Sprintf("could not %s dashboard %.64q: the store failed (see the server's log)", what, id)})
}

// readBody reads a PUT body of at most MaxDashboardBody bytes, answering
// 413 past it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxDashboardBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("the body is over %d bytes", MaxDashboardBody)})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the body: " + err.Error()})
	}
	return buf.Bytes(), err
}

// withID gives a JSON dashboard object without an id, or with "id": "",
// the path's: an empty id is replaced in place, a missing one becomes the
// object's first key on its own line, so that errors' lines stay where the
// author wrote them. Anything else is returned as it is, for Parse to judge.
func withID(body []byte, id string) []byte {
	if !json.Valid(body) {
		return body
	}
	quoted, _ := json.Marshal(id)
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return body
	}
	open := int(dec.InputOffset()) // just past the '{'
	depth, wantKey, isID, empty := 1, true, false, true
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return body
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
				continue
			}
			depth--
			wantKey = depth == 1
			continue
		case string:
			if depth != 1 {
				continue
			}
			if wantKey {
				isID, wantKey, empty = t == "id", false, false
				continue
			}
			if isID {
				if t != "" {
					return body
				}
				end := int(dec.InputOffset())
				return slices.Concat(body[:end-2], quoted, body[end:])
			}
		}
		if depth == 1 {
			wantKey = true
			if isID {
				return body // an id that is not a string: Parse says so
			}
		}
	}
	sep := ","
	if empty {
		sep = ""
	}
	return slices.Concat(body[:open], []byte(`"id":`), quoted, []byte(sep), body[open:])
}

func mediaTypes() []string {
	out := make([]string, 0, len(parsers))
	for mt := range parsers {
		out = append(out, mt)
	}
	slices.Sort(out)
	return out
}

package auth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// RevokeRequest is the body of POST /api/v1/revoke: an operator (sub), a
// token (jti), or both, of the caller's own tenant.
type RevokeRequest struct {
	Subject string `json:"sub,omitempty"`
	TokenID string `json:"jti,omitempty"`
}

// RevokeHandler serves POST /api/v1/revoke for a tenant's admins (a token
// with role "admin"): connections of what it revokes close within seconds,
// and their tokens stop working at once. An admin revokes only in its own
// tenant: the tenant comes from its token, never from the body, and a jti
// that names another tenant (Mint's "<tenant>/…") is answered 404 without
// looking anything up.
func RevokeHandler(guard *Guard, store Revocations, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		who, err := guard.Verify(strings.TrimSpace(tok))
		if err != nil {
			writeErr(w, http.StatusUnauthorized, "an admin token is required: "+err.Error())
			return
		}
		if who.Role != "admin" {
			log.Warn("revoke refused: not an admin", "tenant", who.Tenant, "sub", who.Subject)
			writeErr(w, http.StatusForbidden, "only a token with role admin may revoke")
			return
		}
		var req RevokeRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if req.Subject == "" && req.TokenID == "" {
			writeErr(w, http.StatusBadRequest, "say what to revoke: sub, jti or both")
			return
		}
		if len(req.Subject) > 256 || len(req.TokenID) > 256 {
			writeErr(w, http.StatusBadRequest, "sub and jti are at most 256 bytes")
			return
		}
		if t := idTenant(req.TokenID); t != "" && t != who.Tenant {
			// Another tenant's id: revoking it here would change nothing.
			// The answer is the one for any id this tenant does not have,
			// whether or not the token exists: it must not tell.
			writeErr(w, http.StatusNotFound, "no token with this jti in your tenant")
			return
		}
		now := time.Now()
		rev := Revocation{Tenant: who.Tenant, Subject: req.Subject, TokenID: req.TokenID, At: now, Until: now.Add(MaxTTL)}
		if err := store.Revoke(r.Context(), rev); err != nil {
			log.Error("revoke", "tenant", who.Tenant, "err", err)
			writeErr(w, http.StatusServiceUnavailable, "could not store the revocation; try again")
			return
		}
		log.Info("revoked", "tenant", who.Tenant, "by", who.Subject, "sub", req.Subject, "jti", req.TokenID)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rev)
	})
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

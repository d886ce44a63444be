package sso

import "strings"

// claim finds name in an ID token's claims: the top-level claim of that
// exact name first (providers namespace custom claims as URLs, dots
// included: "https://telltale.example/tenant"), else a dotted path into
// nested objects ("realm_access.roles", as Keycloak nests roles).
func claim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// role reads the role claim: "admin" when it is "admin" or a list holding
// "admin", else its text, else viewer. Telltale grants only admin anything
// more (auth.Principal); other roles are shown.
func role(v any, ok bool) string {
	if !ok {
		return "viewer"
	}
	switch v := v.(type) {
	case string:
		if v != "" && len(v) <= 64 {
			return v
		}
	case []any:
		for _, e := range v {
			if e == "admin" {
				return "admin"
			}
		}
	}
	return "viewer"
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/shared/wire"
)

// FuzzVerify feeds arbitrary strings as tokens: Verify must never panic and
// must accept nothing it did not sign.
func FuzzVerify(f *testing.F) {
	k, err := HS256(secret)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.Mint("acme", "alice", time.Hour, []string{"fleet.*"}, "viewer")
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add(good[:len(good)-2] + "xx")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := k.Verify(tok)
		if err != nil {
			return
		}
		if tok != good {
			// Any other accepted string must still be a token we signed:
			// same header and claims, re-encoded (base64 padding variants).
			if p.Tenant != "acme" || p.Subject != "alice" {
				t.Fatalf("accepted a token we did not mint: %q → %+v", tok, p)
			}
		}
	})
}

// FuzzClaims signs arbitrary claim JSON with the right key, so that the
// signature passes and the claims handling itself is fuzzed: whatever it
// accepts must name a valid tenant, a subject, an expiry within MaxTTL, and
// valid stream patterns.
func FuzzClaims(f *testing.F) {
	k, err := HS256(secret)
	if err != nil {
		f.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	for _, c := range []string{
		`{"sub":"alice","tnt":"acme","exp":EXP}`,
		`{"sub":"alice","tnt":"acme","iat":IAT,"exp":EXP}`,
		`{"sub":"alice","tnt":"acme","exp":EXP,"streams":["fleet.*","orders"]}`,
		`{"sub":"alice","tnt":"../acme","exp":EXP}`,
		`{"sub":"","tnt":"acme","exp":EXP}`,
		`{"sub":"alice","tnt":"acme"}`,
		`{"sub":"alice","tnt":"acme","exp":99999999999}`,
		`{"sub":"alice","tnt":["acme"],"exp":EXP}`,
		`{"sub":"alice","tnt":"acme","exp":EXP,"streams":"x"}`,
		`{"sub":"alice","tnt":"acme","iat":"IAT","exp":"EXP"}`,
	} {
		f.Add(strings.NewReplacer("EXP", strconv.FormatInt(exp, 10), "IAT", strconv.FormatInt(exp-3600, 10)).Replace(c))
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	f.Fuzz(func(t *testing.T, claims string) {
		signing := header + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(signing))
		tok := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		p, err := k.Verify(tok)
		if err != nil {
			return
		}
		if wire.ValidStream(p.Tenant) != nil || p.Subject == "" || p.Expires.IsZero() || p.Issued.IsZero() || p.Expires.Sub(p.Issued) > MaxTTL || p.Issued.After(time.Now()) {
			t.Fatalf("accepted claims %s as %+v", claims, p)
		}
		for _, pat := range p.Streams {
			if ValidPattern(pat) != nil {
				t.Fatalf("accepted stream pattern %q", pat)
			}
		}
		var times map[string]json.RawMessage
		_ = json.Unmarshal([]byte(claims), &times)
		for _, name := range []string{"exp", "iat", "nbf"} {
			if raw := times[name]; len(raw) > 0 && raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
				t.Fatalf("accepted claims %s with %s %s, not a number", claims, name, raw)
			}
		}
	})
}

// FuzzAllow: whatever stream name and tenant a client sends, Allow passes
// only the principal's own tenant and valid names its patterns match.
func FuzzAllow(f *testing.F) {
	for _, s := range []string{"orders", "ORDERS", "../globex/orders", "globex:orders", "fleet.trucks", "ordérs", "", "fleet"} {
		f.Add("acme", s)
		f.Add("globex", s)
	}
	p := &Principal{Subject: "alice", Tenant: "acme", Streams: []string{"fleet.*", "orders"}}
	f.Fuzz(func(t *testing.T, tenant, stream string) {
		if p.Allow(tenant, stream) != nil {
			return
		}
		if tenant != "acme" || wire.ValidStream(stream) != nil || strings.ContainsAny(stream, "/:") {
			t.Fatalf("allowed tenant %q stream %q", tenant, stream)
		}
		if stream != "orders" && !strings.HasPrefix(stream, "fleet.") {
			t.Fatalf("allowed %q outside the patterns", stream)
		}
	})
}

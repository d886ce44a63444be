package sso

import (
	"strings"
	"testing"
	"time"
)

// FuzzOpen: a cookie is outside input. Opening never panics, a value opens
// for one purpose only, and changing any byte of a sealed value makes it
// refused.
func FuzzOpen(f *testing.F) {
	s := sealer{key: []byte("0123456789abcdef0123456789abcdef")}
	good, _ := s.seal(sessionPurpose, session{ID: "acme/0123", Subject: "alice", Tenant: "acme", Issued: 1, Exp: time.Now().Unix()})
	for _, seed := range []string{good, "", ".", "e30.", good[:len(good)-2], strings.Replace(good, ".", "..", 1)} {
		f.Add(seed, uint(0))
	}
	f.Fuzz(func(t *testing.T, v string, at uint) {
		var got session
		if s.open(sessionPurpose, v, &got) == nil {
			var fl flow
			if s.open(flowPurpose, v, &fl) == nil {
				t.Fatalf("%q opens as a session and as a flow", v)
			}
		}
		// One byte of the good value changed is refused.
		i := int(at % uint(len(good)))
		b := []byte(good)
		b[i] ^= 1
		if s.open(sessionPurpose, string(b), &got) == nil && string(b) != good {
			// base64's padding bits: a changed last character may decode to
			// the same bytes, which is the same value, not a forgery.
			if i != len(good)-1 && b[i] != '.' {
				t.Fatalf("the sealed value with byte %d changed opens: %q", i, b)
			}
		}
	})
}

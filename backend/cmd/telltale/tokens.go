package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

// keySource says where operators' tokens are verified from: a shared secret
// (TELLTALE_JWT_SECRET, HS256: Telltale mints too), a public key file
// (TELLTALE_JWT_PUBLIC_KEY, EdDSA or RS256: another service mints), or, when
// neither is set, a development secret generated once and kept in the user's
// cache folder so that tokens survive a restart.
type keySource struct {
	secret, publicKey string
}

// dev reports whether tokens are signed with the development secret.
func (k keySource) dev() bool { return k.secret == "" && k.publicKey == "" }

func (k keySource) load(getenv func(string) string) (keys *auth.Keys, where string, err error) {
	switch {
	case k.secret != "" && k.publicKey != "":
		return nil, "", errors.New("set one of -jwt-secret and -jwt-public-key, not both")
	case k.secret != "":
		keys, err = auth.HS256([]byte(k.secret))
		return keys, "TELLTALE_JWT_SECRET", err
	case k.publicKey != "":
		b, err := os.ReadFile(k.publicKey)
		if err != nil {
			return nil, "", fmt.Errorf("-jwt-public-key: %w", err)
		}
		keys, err = auth.PublicKey(b)
		return keys, k.publicKey, err
	}
	path, secret, err := devSecret(getenv)
	if err != nil {
		return nil, "", fmt.Errorf("development token secret: %w (set TELLTALE_JWT_SECRET)", err)
	}
	keys, err = auth.HS256(secret)
	return keys, "development secret " + path, err
}

// devSecret reads, or creates with mode 0600, the development secret.
func devSecret(getenv func(string) string) (string, []byte, error) {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", nil, errors.New("neither XDG_CACHE_HOME nor HOME is set")
		}
		dir = filepath.Join(home, ".cache")
	}
	path := filepath.Join(dir, "telltale", "dev-jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return path, []byte(strings.TrimSpace(string(b))), nil
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", nil, err
	}
	return path, []byte(secret), nil
}

// flags defines -jwt-secret and -jwt-public-key, which bindEnv binds to
// TELLTALE_JWT_SECRET and TELLTALE_JWT_PUBLIC_KEY.
func (k *keySource) flags(fs *flag.FlagSet) {
	fs.StringVar(&k.secret, "jwt-secret", "", "HS256 secret (32+ bytes) that signs operators' tokens; empty with no public key means a development secret in ~/.cache/telltale")
	fs.StringVar(&k.publicKey, "jwt-public-key", "", "PEM file of an Ed25519 or RSA public key that verifies tokens another service mints")
}

// tokenCmd mints an operator token: telltale token -tenant acme -sub alice -ttl 8h.
func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "-tenant T -sub S [-ttl 8h] [-streams a,b.*] [-role R] [-url U]", "Mints an operator's sign-in token, signed with -jwt-secret (TELLTALE_JWT_SECRET) or\nthe development secret, and prints it (or, with -url, a URL that signs in with it).")
	var ks keySource
	ks.flags(fs)
	tenant := fs.String("tenant", "", "tenant the operator belongs to (required)")
	sub := fs.String("sub", "", "the operator, e.g. an email (required)")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	streams := fs.String("streams", "", "comma-separated stream patterns the token may read (orders, fleet.*); empty means all of the tenant's")
	role := fs.String("role", "", "the operator's role: admin may revoke operators of its tenant (POST /api/v1/revoke) and change its stored dashboards (PUT, DELETE /api/v1/dashboards/{id})")
	url := fs.String("url", "", "print a URL that signs in with the token, e.g. http://localhost:8080/")
	// The token's own flags have no variables: only the keys are the
	// server's.
	env := bindEnv(fs, getenv, func(name string) bool { return name == "jwt-secret" || name == "jwt-public-key" })
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := env.err(); err != nil {
		return err
	}
	keys, where, err := ks.load(getenv)
	if err != nil {
		return err
	}
	var patterns []string
	for _, p := range strings.Split(*streams, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}
	tok, err := keys.Mint(*tenant, *sub, *ttl, patterns, *role)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if *url != "" {
		fmt.Fprintln(stdout, signInURL(*url, tok))
	} else {
		fmt.Fprintln(stdout, tok)
	}
	fmt.Fprintf(stderr, "token for %s in tenant %s, valid %v, signed with %s\n", *sub, *tenant, *ttl, where)
	return nil
}

// signInURL opens the PWA signed in: the token travels in the fragment, which
// browsers never send to a server, and the app removes it from the address bar.
func signInURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + "/#token=" + token
}

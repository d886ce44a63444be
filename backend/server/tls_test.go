package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/demo"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/wsgate"
	"github.com/telltale/telltale/shared/dashboard"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "telltale test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestHTTPSAndSecurityHeaders: with a certificate and key the server speaks
// HTTPS and sends HSTS; every response carries a CSP that allows the app's
// WebAssembly and nothing from elsewhere.
func TestHTTPSAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	s, err := New(Config{
		WebDir: webDir(t), Version: "v1", Store: "memory",
		Gateway:    wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}),
		Dashboards: []dashboard.Dashboard{demo.Dashboard()}, Operator: anyOperator,
		TLSCert: certFile, TLSKey: keyFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	res, err := c.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("got %s over TLS %v", res.Status, res.TLS != nil)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Fatalf("HSTS %q", hsts)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval'") && !strings.Contains(csp, "wasm-unsafe-eval") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q is looser than it should be", csp)
	}
	// Plain HTTP responses carry no HSTS (it would be ignored, and wrong).
	plain, _ := get(t, newServer(t, webDir(t)).handler, "/healthz")
	if plain.Header.Get("Strict-Transport-Security") != "" || plain.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("plain HTTP headers: HSTS %q CSP %q", plain.Header.Get("Strict-Transport-Security"), plain.Header.Get("Content-Security-Policy"))
	}
	// A certificate without its key is a configuration error, not plain HTTP.
	if _, err := New(Config{WebDir: webDir(t), Version: "v1", Gateway: wsgate.New(wsgate.Config{Hub: hub.New(hub.Config{})}), TLSCert: certFile}); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheck asks a node's /healthz and succeeds only on 200: a
// container's HEALTHCHECK, where the image holds the binary and the web
// folder and no curl. By default it asks this node's own listener, found as
// the server finds it: TELLTALE_ADDR's port on loopback, over HTTPS when
// TELLTALE_TLS_CERT is set (then without verifying the certificate, which
// names the public host, not 127.0.0.1: the answer carries no secret).
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "[-url URL] [-timeout D]",
		"Asks a node's /healthz and exits 0 if it answers 200 (serving), 1 otherwise\n(503 while warming, draining or without PostgreSQL's LISTEN connection; no answer).\nFor a container's HEALTHCHECK.")
	url := fs.String("url", "", "the /healthz to ask; empty means this node's: http://127.0.0.1:PORT/healthz with TELLTALE_ADDR's port (default 8080), https with TELLTALE_TLS_CERT")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	target := *url
	if target == "" {
		var err error
		if target, err = ownHealthz(getenv); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError(fmt.Sprintf("healthcheck: -url: %v", err))
	}
	// Verified unless asking our own loopback listener (see above); no
	// HTTP_PROXY either: the question is for this node.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: *url == ""}}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", target, res.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s", body)
	return nil
}

// ownHealthz is this node's /healthz URL on loopback, from the environment
// the server reads (-addr's and -tls-cert's variables).
func ownHealthz(getenv func(string) string) (string, error) {
	addr := getenv(envName("addr"))
	if addr == "" {
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("healthcheck: %s=%q names no port to ask: give -url", envName("addr"), addr)
	}
	scheme := "http"
	if getenv(envName("tls-cert")) != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", port) + "/healthz", nil
}

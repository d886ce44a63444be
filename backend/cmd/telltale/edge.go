package main

import (
	"errors"
	"flag"
	"time"
)

// edgeLimits are the limits at the server's door that no credential is
// needed to reach: the HTTP server's timeouts and the WebSocket budget of
// sockets that have not authenticated yet (docs/SECURITY.md, "Limits at
// the door").
type edgeLimits struct {
	headerTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	helloTimeout                                          time.Duration
	maxUnauth, maxUnauthPerAddr                           int
}

func (l *edgeLimits) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.DurationVar(&l.headerTimeout, "http-header-timeout", envDuration(env("TELLTALE_HTTP_HEADER_TIMEOUT", "10s")), "time a client has to send a request's headers, and a TLS handshake (env TELLTALE_HTTP_HEADER_TIMEOUT)")
	fs.DurationVar(&l.readTimeout, "http-read-timeout", envDuration(env("TELLTALE_HTTP_READ_TIMEOUT", "60s")), "time a client has to send a whole request, body included (env TELLTALE_HTTP_READ_TIMEOUT)")
	fs.DurationVar(&l.writeTimeout, "http-write-timeout", envDuration(env("TELLTALE_HTTP_WRITE_TIMEOUT", "60s")), "time to handle and answer a request after its headers; long-polls get their 30 s on top, WebSockets are not cut (env TELLTALE_HTTP_WRITE_TIMEOUT)")
	fs.DurationVar(&l.idleTimeout, "http-idle-timeout", envDuration(env("TELLTALE_HTTP_IDLE_TIMEOUT", "75s")), "close a keep-alive HTTP connection idle this long (env TELLTALE_HTTP_IDLE_TIMEOUT)")
	fs.DurationVar(&l.helloTimeout, "hello-timeout", envDuration(env("TELLTALE_HELLO_TIMEOUT", "5s")), "time a new WebSocket has to send a valid hello (env TELLTALE_HELLO_TIMEOUT)")
	fs.IntVar(&l.maxUnauth, "max-unauth-conns", envInt(env("TELLTALE_MAX_UNAUTH_CONNS", "1024")), "most WebSockets open without a verified hello yet, apart from -max-conns (env TELLTALE_MAX_UNAUTH_CONNS)")
	fs.IntVar(&l.maxUnauthPerAddr, "max-unauth-per-addr", envInt(env("TELLTALE_MAX_UNAUTH_PER_ADDR", "64")), "most WebSockets one client address holds open without a verified hello (env TELLTALE_MAX_UNAUTH_PER_ADDR)")
}

func (l *edgeLimits) check() error {
	for _, d := range []time.Duration{l.headerTimeout, l.readTimeout, l.writeTimeout, l.idleTimeout, l.helloTimeout} {
		if d <= 0 {
			return errors.New("-http-header-timeout, -http-read-timeout, -http-write-timeout, -http-idle-timeout and -hello-timeout want positive durations like 10s")
		}
	}
	if l.maxUnauth <= 0 || l.maxUnauthPerAddr <= 0 {
		return errors.New("-max-unauth-conns and -max-unauth-per-addr want positive numbers")
	}
	return nil
}

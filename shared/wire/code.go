package wire

import (
	"strconv"
)

// Code is a typed protocol error. Ranges:
//
//	4000–4099  the frame itself is wrong (malformed, unknown type, version)
//	4100–4199  the request is refused (bad stream, limits, permissions)
//	4500–4599  the server failed
//
// Close codes of the WebSocket itself use the same numbers where they overlap.
type Code uint16

// Protocol error codes.
const (
	CodeBadFrame      Code = 4000
	CodeUnknownType   Code = 4001
	CodeVersion       Code = 4002
	CodeBadStream     Code = 4100
	CodeUnknownStream Code = 4101
	CodeTooManySubs   Code = 4102
	CodeForbidden     Code = 4103 // the token does not allow this stream
	// CodeUnauthorized comes just before a CloseUnauthorized or
	// CloseTokenExpired close: browsers' WebSocket close codes do not reach
	// a Go client in wasm, an error frame does.
	CodeUnauthorized Code = 4104
	CodeBadToken     Code = 4105 // a refresh's token was refused; the current one stays
	CodeQuota        Code = 4106 // the tenant is at its limit of streams
	// CodeRateLimited: the connection sent frames of this type faster than
	// the server takes them (sync and report: see wsgate.Config.SLARate).
	CodeRateLimited Code = 4107
	// CodeReportsOff: this server does not take freshness reports; the
	// page may stop sending them.
	CodeReportsOff Code = 4108
	// CodeBadReport: the server refused a report's content (sla.Check);
	// the connection stays open.
	CodeBadReport Code = 4109
	CodeInternal  Code = 4500
	// CodeRestarting comes just before a CloseRestart close, for the same
	// reason as CodeUnauthorized: the server is stopping (a restart, a
	// node drained out of its load balancer); reconnect with jitter and
	// resume from the cursors.
	CodeRestarting Code = 4501
)

// WebSocket close codes the server uses, so a client can tell why it was closed.
const (
	CloseSlowConsumer = 4008 // could not drain its queue in time
	CloseIdle         = 4009 // no frame for two ping intervals
	CloseRestart      = 4010 // server restarting: reconnect with jitter
	CloseProtocol     = 4011 // too many bad frames
	// CloseUnauthorized: the hello's token is missing, invalid, revoked or
	// expired; reconnecting with the same token will not help. The close
	// reason says which.
	CloseUnauthorized = 4012
	CloseTokenExpired = 4013 // the token expired while connected: sign in again
	CloseFull         = 4014 // the server is at its connection cap: retry later
)

var codeNames = map[Code]string{
	CodeBadFrame:      "bad_frame",
	CodeUnknownType:   "unknown_type",
	CodeVersion:       "version",
	CodeBadStream:     "bad_stream",
	CodeUnknownStream: "unknown_stream",
	CodeTooManySubs:   "too_many_subs",
	CodeForbidden:     "forbidden",
	CodeUnauthorized:  "unauthorized",
	CodeBadToken:      "bad_token",
	CodeQuota:         "quota",
	CodeRateLimited:   "rate_limited",
	CodeReportsOff:    "reports_off",
	CodeBadReport:     "bad_report",
	CodeInternal:      "internal",
	CodeRestarting:    "restarting",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "code_" + strconv.Itoa(int(c))
}

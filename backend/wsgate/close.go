package wsgate

import (
	"github.com/coder/websocket"

	"github.com/telltale/telltale/shared/wire"
)

// Close is how a connection ends: the WebSocket close code and reason the
// client reads, and whether reconnecting as it is may succeed (false: the
// client must change something first, its token or its frames). Every way
// the gateway closes a connection is one of these, never a bare code.
type Close struct {
	Code      websocket.StatusCode
	Reason    string
	Reconnect bool
}

// The closes the gateway uses; sign-outs build theirs with the reason
// (signedOut).
var (
	// closeGone: the peer closed, or the socket failed; the close frame
	// answers the peer's, if it is still there to read it.
	closeGone          = Close{websocket.StatusNormalClosure, "", true}
	closeInternal      = Close{websocket.StatusInternalError, "internal error", true}
	closeNoHello       = Close{websocket.StatusPolicyViolation, "no hello in time", true}
	closeNotHello      = Close{websocket.StatusPolicyViolation, "the first frame must be hello", false}
	closeRefused       = Close{wire.CloseProtocol, "too many refused frames", false}
	closeTooManyCursor = Close{wire.CloseProtocol, "too many cursors", false}
	closeSlowControl   = Close{wire.CloseSlowConsumer, "slow consumer: control frames over the connection's limit", true}
	closeWriteFailed   = Close{wire.CloseSlowConsumer, "write failed", true}
	closeWriteTimedOut = Close{wire.CloseSlowConsumer, "write failed or timed out", true}
	closeIdle          = Close{wire.CloseIdle, "no frame for two ping intervals", true}
	closeRestart       = Close{wire.CloseRestart, "server restarting", true}
	closePollFailed    = Close{wire.CloseRestart, "server error: reconnect", true}
	closeFull          = Close{wire.CloseFull, "server at capacity: retry later", true}
	closeRevoked       = signedOut(wire.CloseUnauthorized, "access revoked: sign in again")
	closeTokenExpired  = signedOut(wire.CloseTokenExpired, "token expired: sign in again")
)

// signedOut is the close of a connection whose token no longer speaks for
// it (CloseUnauthorized, CloseTokenExpired): the same token will not do.
func signedOut(code websocket.StatusCode, reason string) Close {
	return Close{Code: code, Reason: reason}
}

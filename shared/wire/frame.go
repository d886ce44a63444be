package wire

// Version is the protocol version every frame carries. A peer rejects a frame
// of another version with CodeVersion instead of guessing at its meaning.
const Version = 1

// Type names a frame on the wire.
type Type string

// Client → server frames.
const (
	TypeHello Type = "hello"
	TypeSub   Type = "sub"
	TypeUnsub Type = "unsub"
	TypePong  Type = "pong"
	// TypeRefresh hands the server a new token for the open connection.
	TypeRefresh Type = "refresh"
)

// Server → client frames.
const (
	TypeWelcome  Type = "welcome"
	TypeSnapshot Type = "snapshot"
	TypeBatch    Type = "batch"
	TypeResync   Type = "resync"
	TypeError    Type = "error"
	TypePing     Type = "ping"
	// TypeExpiring says when the connection's token expires: ahead of it as
	// a warning (send refresh), and after a refresh with the new time.
	TypeExpiring Type = "expiring"
)

// Frame is the body of one WebSocket message. Each frame type is its own struct;
// a decoder returns one of them and callers switch on the concrete type.
type Frame interface {
	FrameType() Type
}

// Cursor is how far a client has applied a stream: the last seq it holds within
// an epoch. Seq 0 means "nothing yet".
type Cursor struct {
	Stream string `msgpack:"stream"`
	Epoch  uint64 `msgpack:"epoch"`
	Seq    uint64 `msgpack:"seq"`
}

// Hello opens a session. Cursors let the server resume streams the client
// already holds.
type Hello struct {
	Token   string   `msgpack:"token,omitempty"`
	Cursors []Cursor `msgpack:"cursors,omitempty"`
	Client  string   `msgpack:"client,omitempty"`
}

// Limits tells the client what the server will accept on this connection.
type Limits struct {
	MaxFrameBytes  int   `msgpack:"max_frame_bytes"`
	MaxSubs        int   `msgpack:"max_subs"`
	PingIntervalMs int64 `msgpack:"ping_interval_ms"`
}

// Welcome answers Hello.
type Welcome struct {
	Session    string `msgpack:"session"`
	ServerTime int64  `msgpack:"server_time"` // Unix nanoseconds
	Limits     Limits `msgpack:"limits"`
}

// Sub subscribes to a stream. Without From the server answers with a snapshot
// and then deltas; with From it may replay from that cursor instead.
type Sub struct {
	Stream string  `msgpack:"stream"`
	From   *Cursor `msgpack:"from,omitempty"`
}

// Unsub ends a subscription.
type Unsub struct {
	Stream string `msgpack:"stream"`
}

// Snapshot is a stream's folded state as of (Epoch, Seq). Deltas that follow
// it have seq > Seq.
type Snapshot struct {
	Stream string `msgpack:"stream"`
	Epoch  uint64 `msgpack:"epoch"`
	Seq    uint64 `msgpack:"seq"`
	State  State  `msgpack:"state"`
	// Reason is set when this snapshot answers a cursor that could not be
	// continued (a resync the UI can explain).
	Reason string `msgpack:"reason,omitempty"`
}

// Batch carries consecutive events of one stream in one message. An empty
// batch acknowledges a sub from a cursor: the events that follow continue it.
type Batch struct {
	Stream string  `msgpack:"stream"`
	Sent   int64   `msgpack:"sent"` // Unix nanoseconds, stamped by the connection writer
	Events []Event `msgpack:"events"`
	// Head is the stream's newest seq when the batch was made, when the
	// server knows it: on the empty batch that acknowledges a resume (the
	// events up to Head are the replay, so a client can show its progress
	// catching up) and on HTTP events answers. Zero means not said.
	Head uint64 `msgpack:"head,omitempty"`
}

// Resync tells the client its copy of a stream can no longer be continued by
// deltas: it must drop it and subscribe again for a fresh snapshot.
type Resync struct {
	Stream string `msgpack:"stream"`
	Reason string `msgpack:"reason"`
}

// Error reports a refused request. The connection stays open unless the server
// also closes it.
type Error struct {
	Code    Code   `msgpack:"code"`
	Message string `msgpack:"message"`
	Stream  string `msgpack:"stream,omitempty"`
}

// Ping and Pong carry the sender's clock (Unix nanoseconds).
type Ping struct {
	Time int64 `msgpack:"time"`
}

// Expiring tells the client when its token expires (Unix nanoseconds).
// Without a refresh before then, the server closes with CloseTokenExpired.
type Expiring struct {
	At int64 `msgpack:"at"`
}

// Refresh replaces the connection's token with a new one for the same
// tenant and operator, without reconnecting; the server answers Expiring
// with the new expiry, or an error frame if it refuses the token.
type Refresh struct {
	Token string `msgpack:"token"`
}

// Pong answers Ping with the ping's Time echoed back.
type Pong struct {
	Time int64 `msgpack:"time"`
}

func (Hello) FrameType() Type    { return TypeHello }
func (Welcome) FrameType() Type  { return TypeWelcome }
func (Sub) FrameType() Type      { return TypeSub }
func (Unsub) FrameType() Type    { return TypeUnsub }
func (Snapshot) FrameType() Type { return TypeSnapshot }
func (Batch) FrameType() Type    { return TypeBatch }
func (Resync) FrameType() Type   { return TypeResync }
func (Error) FrameType() Type    { return TypeError }
func (Ping) FrameType() Type     { return TypePing }
func (Pong) FrameType() Type     { return TypePong }
func (Expiring) FrameType() Type { return TypeExpiring }
func (Refresh) FrameType() Type  { return TypeRefresh }

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

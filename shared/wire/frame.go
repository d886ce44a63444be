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
	// TypeSync asks for the server's clock (answered by TypeClock), so the
	// page can put its own stamps on the server's clock.
	TypeSync Type = "sync"
	// TypeReport carries a page's freshness summary (issue 18).
	TypeReport Type = "report"
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
	// TypeClock answers TypeSync with the server's clock.
	TypeClock Type = "clock"
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

// Sync asks the server for its clock. Client is the page's clock when it
// sent the frame (Unix nanoseconds), echoed back in Clock.
type Sync struct {
	Client int64 `msgpack:"client"`
}

// Clock answers Sync: the client's stamp echoed, and the server's clock
// (Unix nanoseconds) when it answered. With the arrival time the page has
// one NTP-style sample: rtt = arrival − Client, offset = Server − (Client +
// arrival)/2, with an error of at most rtt/2. shared/sla keeps the sample
// with the smallest rtt.
type Clock struct {
	Client int64 `msgpack:"client"`
	Server int64 `msgpack:"server"`
}

// Report is a page's summary of what it painted and how fresh it was, sent
// every sla.ReportEvery and on pagehide. Every time in it is on the server's
// clock (the page's clock plus its estimated offset); the server takes the
// tenant from the connection's token, never from the report, and caps what
// it takes (sla.Check).
type Report struct {
	// Screen identifies the page for its lifetime (random, chosen by the
	// page), so the server can count screens; Dashboard is the dashboard id
	// the page shows.
	Screen    string `msgpack:"screen"`
	Dashboard string `msgpack:"dashboard"`
	// From and To bound the period this report covers (Unix nanoseconds,
	// server clock); consecutive reports of one screen do not overlap.
	From int64 `msgpack:"from"`
	To   int64 `msgpack:"to"`
	// ClockErr is the clock estimate's error bound (nanoseconds, half the
	// best round trip); 0 when the page has no estimate yet, in which case
	// the stages that cross the network are left out.
	ClockErr int64 `msgpack:"clock_err"`
	// Transport is how the page got its data: sla.TransportSocket or
	// sla.TransportFallback.
	Transport string        `msgpack:"transport"`
	Panels    []PanelReport `msgpack:"panels"`
}

// PanelReport is one panel's part of a Report.
type PanelReport struct {
	Panel string `msgpack:"panel"`
	// Painted is how many events this panel painted in the period.
	Painted uint64 `msgpack:"painted"`
	// FreshMs and StaleMs split the period: time the panel showed data
	// within its freshness bound, and time it did not.
	FreshMs int64 `msgpack:"fresh_ms"`
	StaleMs int64 `msgpack:"stale_ms"`
	// Stale lists the stale periods that began or ended in the period.
	Stale []StalePeriod `msgpack:"stale,omitempty"`
	// Stages holds one latency histogram per stage of the path (sla.Stages),
	// binned as sla.Bin bins, plus sla.StageTotal (event → paint).
	Stages []StageHist `msgpack:"stages,omitempty"`
}

// StalePeriod is a span a panel was stale: Start (Unix nanoseconds, server
// clock), its length so far, and its cause (sla.Cause*).
type StalePeriod struct {
	Start int64  `msgpack:"start"`
	Ms    int64  `msgpack:"ms"`
	Cause string `msgpack:"cause"`
}

// StageHist is a latency histogram of one stage, in one of two shapes (not
// both): packed, as a page sends it, First the lowest bin with a count and
// Packed the counts of the bins from First on (report_pack.go: PackBins,
// Unpack); or Counts[i] events in bin Index[i] (sla.Bin), Index ascending,
// both of the same length, as pages sent it before (a page cached by the
// service worker still does). A server reads a histogram through Unpack.
type StageHist struct {
	Stage  string   `msgpack:"stage"`
	Index  []int32  `msgpack:"index,omitempty"`
	Counts []uint32 `msgpack:"counts,omitempty"`
	First  int32    `msgpack:"first,omitempty"`
	Packed []byte   `msgpack:"packed,omitempty"`
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
func (Sync) FrameType() Type     { return TypeSync }
func (Clock) FrameType() Type    { return TypeClock }
func (Report) FrameType() Type   { return TypeReport }

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

// Package wsgate is the WebSocket gateway: it accepts client connections,
// speaks the wire protocol, subscribes connections to hub streams and writes
// their frames.
//
// It must never let one connection slow another: the hub only ever appends
// to a connection's outbox, a flusher per CPU writes what the outboxes hold
// with writes that never wait (flush.go), and whatever must wait for a
// socket happens on that connection's own slow path, watched by its timer.
// No connection has a writer goroutine of its own, and an idle one has no
// goroutine at all: its socket waits in the epoll poller (internal/epoll)
// until a client frame comes.
//
// # Files by owner
//
// gateway.go accepts connections and holds what they share; conn.go is a
// connection's lifecycle (its state, close, teardown); read.go its read side
// (the poller's readers); session.go the protocol (hello, subscribe,
// refresh, sign-out, refusals) and report.go its freshness reports;
// write.go the connection's write side (the hand-over from the outbox, the
// slow path, the watchdog) over outbox.go and flush.go (batch.go: its
// io_uring batches); timer.go its one timer; close.go the closes it can end
// with.
//
// # Lifecycle
//
// A connection goes handshake → open → closing → closed (conn.life, one
// atomic), and every part consults that one state: readers and the poller
// start no reader once it is closed, flushers and the slow path write
// nothing once it is closing, the timer does nothing but the write watchdog
// once it is closing. close is the one step to closing (the first close and
// its code win); it runs the close handshake on a goroutine of its own and
// then teardown, which sets closed and waits for the readers, the slow path,
// the timer and history reads before the gateway forgets the connection.
// Every frame reaches the socket through the write side, sign-outs, pongs
// and the close frame included (heldWriter.writeClose, after which nothing
// is written); the framing is the package's own (internal/wsframe). The
// close handshake's goroutine writes the close frame and waits for the
// reader, which reads on while closing, to see the peer's (readOver).
//
// # Lock order
//
// A lock on the left may be held while one on its right is taken, never the
// other way:
//
//	hub stream lock → outbox.mu        (Deliver, Snapshot, Hold, Replay)
//	hub stream lock → flusher.mu       (the outbox kicks after releasing its mu)
//	Gateway.mu → whoMu, deadlines.mu, outbox.mu → flusher.mu   (Sweep)
//	heldWriter.mu → wmu, deadlines.mu  (a partial write handed to the slow path)
//
// A flusher holds the heldWriter.mu of up to 64 connections at once, for
// one io_uring batch (batch.go): each is taken with TryLock, never waited
// for, so they need no order among themselves.
//
// outbox.mu, flusher.mu, whoMu, rmu, wmu, deadlines.mu, the unauthenticated
// budget's mu and the poller's mu are leaves: nothing is taken under them.
// The timer's operations and the poller's readers run after unlocking; a
// close (PollFailed, Shutdown) takes no lock, it only starts the closing
// goroutine.
package wsgate

package wsgate

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/internal/uring"
	"github.com/telltale/telltale/shared/wire"
)

// TestFlushersWriteEveryFrameInOrder: 150 connections (more than one
// io_uring batch), a third of them with 4 KB socket buffers that fill (their
// rest goes to the slow path with the socket held), one whose socket another
// writer holds meanwhile (the slow path waits for it); every peer gets every
// event, whole and in order, batched or a write(2) per connection alike.
func TestFlushersWriteEveryFrameInOrder(t *testing.T) {
	for _, noRing := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoIOURing=%v", noRing), func(t *testing.T) { testFlushersInOrder(t, noRing) })
	}
}

func testFlushersInOrder(t *testing.T, noRing bool) {
	const n, rounds = 150, 40
	g := flushGateway(t, Config{NoIOURing: noRing})
	conns, peers := loopbackConns(t, g, n, func(i int, c *conn, peer net.Conn) {
		if i%3 == 0 {
			_ = c.nc.(*net.TCPConn).SetWriteBuffer(4096)
			_ = peer.(*net.TCPConn).SetReadBuffer(4096)
		}
	})
	conns[1].net.mu.Lock() // another writer has conn 1's socket

	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- readSeqs(p, rounds)
		}()
	}
	pad := strings.Repeat("x", 3000) // 4 KB buffers fill within a few events
	for seq := uint64(1); seq <= rounds; seq++ {
		ev, err := wire.EncodeEvent(&wire.Event{Stream: "s", Epoch: 1, Seq: seq, Row: &wire.Row{Key: "k", Fields: map[string]any{"pad": pad}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			c.out.DeliverStamped("s", seq, time.Now().UnixNano(), [][]byte{ev})
		}
	}
	conns[1].net.mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g.flushing.Wait()
	if got := g.m.eventsOut.Load(); got != n*rounds {
		t.Fatalf("%d events written, want %d", got, n*rounds)
	}
	// The full sockets and the held one went through the slow path: at
	// least conn 1 and, by 40 events of 3 KB into 4 KB buffers, some of
	// the 50 small ones.
	if got := g.m.slowWrites.Load(); got < 2 {
		t.Fatalf("%d slow-path writes, want the held socket's and full ones'", got)
	}
	if _, err := uring.New(4); err == nil && !noRing {
		if g.flushers[0].batch.ring == nil {
			t.Fatal("io_uring works here, yet the flusher wrote without it")
		}
	} else if g.flushers[0].batch.ring != nil {
		t.Fatal("the flusher made a ring with Config.NoIOURing")
	}
}

// readSeqs reads batch frames from p until it has events 1..rounds, in order.
func readSeqs(p net.Conn, rounds uint64) error {
	_ = p.SetReadDeadline(time.Now().Add(30 * time.Second))
	next := uint64(1)
	for next <= rounds {
		b, err := readOneFrame(p)
		if err != nil {
			return fmt.Errorf("%v after seq %d", err, next-1)
		}
		fr, err := wire.Decode(b)
		if err != nil {
			return err
		}
		batch, ok := fr.(wire.Batch)
		if !ok {
			return fmt.Errorf("frame %T, want a batch", fr)
		}
		for _, ev := range batch.Events {
			if ev.Seq != next {
				return fmt.Errorf("seq %d, want %d", ev.Seq, next)
			}
			next++
		}
	}
	return nil
}

package wsgate

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
	"github.com/telltale/telltale/internal/faultnet"
	"github.com/telltale/telltale/shared/wire"
)

// compressible is n bytes of a slowly changing text, as msgpack snapshots are.
func compressible(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "queue_depth=%d;", 1000+i/7)
	}
	return b.Bytes()[:n]
}

// inflated reads a compressed server frame back: a final binary frame with
// RSV1 set, its length, then the deflated payload (RFC 7692 §7.2.2).
func inflated(t *testing.T, z []byte) []byte {
	t.Helper()
	if z[0] != 0x80|0x40|byte(wsframe.OpBinary) {
		t.Fatalf("first byte %#x: want FIN, RSV1, binary", z[0])
	}
	n, p := int(z[1]&0x7f), 2
	switch n {
	case 126:
		n, p = int(binary.BigEndian.Uint16(z[2:])), 4
	case 127:
		n, p = int(binary.BigEndian.Uint64(z[2:])), 10
	}
	if len(z)-p != n {
		t.Fatalf("frame says %d payload bytes, has %d", n, len(z)-p)
	}
	// The sync flush's tail, then an empty final block, end the stream.
	in := append(bytes.Clone(z[p:]), 0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff)
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSharedDeflateCompressesOnce: connections writing the same frame at
// once wait for one compression and all send it; it reads back as the
// frame; a frame of the same bytes elsewhere in memory is not taken for it.
func TestSharedDeflateCompressesOnce(t *testing.T) {
	f := start(t, Config{})
	g := f.gate
	b := compressible(300 << 10)
	zs := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range zs {
		wg.Go(func() {
			z, ok := g.deflated.frame(g, b)
			if !ok {
				t.Error("no deflate slot with every slot free")
			}
			zs[i] = z
		})
	}
	wg.Wait()
	for i, z := range zs {
		if &z[0] != &zs[0][0] {
			t.Fatalf("writer %d got a compression of its own: want one for all 16", i)
		}
	}
	if got := inflated(t, zs[0]); !bytes.Equal(got, b) {
		t.Fatalf("the shared frame reads back as %d bytes, want the %d written", len(got), len(b))
	}
	if n := f.reg.Lookup("telltale_ws_deflate_shared_total").Load(); n != 15 {
		t.Fatalf("telltale_ws_deflate_shared_total %d, want 15", n)
	}
	other := bytes.Clone(b)
	if z, _ := g.deflated.frame(g, other); &z[0] == &zs[0][0] {
		t.Fatal("a different frame with the same bytes got the first one's compression")
	}
	runtime.KeepAlive(b)
}

// TestSharedDeflateBusySlots: with every deflate slot busy the frame goes
// uncompressed, and nothing is left behind: the next write compresses it.
func TestSharedDeflateBusySlots(t *testing.T) {
	f := start(t, Config{})
	g := f.gate
	for range maxDeflates {
		g.deflateSlots <- struct{}{}
	}
	b := compressible(100 << 10)
	if _, ok := g.deflated.frame(g, b); ok {
		t.Fatal("compressed with every slot busy")
	}
	if n := f.reg.Lookup("telltale_ws_deflate_busy_total").Load(); n != 1 {
		t.Fatalf("telltale_ws_deflate_busy_total %d, want 1", n)
	}
	for range maxDeflates {
		<-g.deflateSlots
	}
	if z, ok := g.deflated.frame(g, b); !ok || !bytes.Equal(inflated(t, z), b) {
		t.Fatal("a slot free again: the frame was not compressed")
	}
}

// TestSharedDeflateForgets: what went unused for sharedDeflateKeep, what no
// one can ask for again (the frame was collected) and the oldest past the
// byte bound are not kept.
func TestSharedDeflateForgets(t *testing.T) {
	f := start(t, Config{})
	g := f.gate
	now := time.Unix(1_800_000_000, 0)
	d := &sharedDeflate{now: func() time.Time { return now }}
	held := func() (n, bytes int) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.entries), d.bytes
	}
	a, b := compressible(64<<10), compressible(64<<10)
	d.frame(g, a)
	now = now.Add(sharedDeflateKeep)
	d.frame(g, b)
	if n, _ := held(); n != 1 {
		t.Fatalf("%d frames held, want 1: the first went unused for %v", n, sharedDeflateKeep)
	}

	func() {
		c := compressible(64 << 10)
		d.frame(g, c)
	}()
	runtime.GC()
	runtime.GC()
	d.frame(g, b) // a hit: sweeps nothing
	d.frame(g, compressible(64<<10))
	if n, _ := held(); n != 2 {
		t.Fatalf("%d frames held, want 2 (b and the newest): the collected one is gone", n)
	}

	d.limit = 1 // every insertion drops all but the newest
	last := compressible(64 << 10)
	d.frame(g, last)
	if n, by := held(); n != 1 || by == 0 || by > len(last) {
		t.Fatalf("%d frames, %d bytes held over a 1-byte bound, want only the newest", n, by)
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(last)
}

// TestSnapshotStormCompressesOnce: clients that subscribe to a stream at one
// position each get its whole snapshot, deflated, from one compression.
func TestSnapshotStormCompressesOnce(t *testing.T) {
	f := start(t, Config{})
	pts := slowSeries(3000) // the hub keeps 3,000 points a stream by default
	if err := f.store.Append(context.Background(), "demo", "big", []wire.Event{{Points: pts}}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	proxy := faultnet.New(t, strings.TrimPrefix(f.url, "ws://"))
	var rs []*raw
	for range n {
		rs = append(rs, welcomed(t, proxy, true))
	}
	before := proxy.Downstream()
	for _, r := range rs {
		r.send(wire.Sub{Stream: "big"})
	}
	for i, r := range rs {
		snap := r.expect(wire.TypeSnapshot).(wire.Snapshot)
		if !reflect.DeepEqual(snap.State.Points, *pts) {
			t.Fatalf("client %d: snapshot with %d points, want the 3,000 published", i, len(snap.State.Points.TS))
		}
	}
	plain, err := wire.Encode(wire.Snapshot{Stream: "big", Epoch: 1, Seq: 1, State: wire.State{Points: *pts}})
	if err != nil {
		t.Fatal(err)
	}
	if onWire := proxy.Downstream() - before; onWire*3 > int64(n*len(plain)) {
		t.Fatalf("%d snapshots of ~%d bytes took %d on the wire: want them compressed", n, len(plain), onWire)
	}
	// All n subscribed at seq 1 before any snapshot was written: one frame
	// from the hub, one compression, n-1 shares (a GC between two
	// subscribes could end the hub's frame, and a compression with it).
	if got := f.reg.Lookup("telltale_ws_deflate_shared_total").Load(); got < n/2 {
		t.Fatalf("telltale_ws_deflate_shared_total %d of %d snapshots: want them sharing one compression", got, n)
	}
}

// BenchmarkDeflateSnapshot_300KB: what each connection spent on a 300 KB
// snapshot before (its own compression) and spends now (the shared one,
// after the first).
func BenchmarkDeflateSnapshot_300KB(b *testing.B) {
	r := metrics.New()
	g := &Gateway{deflateSlots: make(chan struct{}, maxDeflates), deflated: sharedDeflate{now: time.Now}}
	g.m.deflateShared, g.m.deflateBusy = r.Counter("shared", ""), r.Counter("busy", "")
	frame := compressible(300 << 10)
	b.Run("own", func(b *testing.B) {
		buf := make([]byte, 0, 1<<20)
		for b.Loop() {
			buf = wsframe.AppendCompressed(buf[:0], frame)
		}
	})
	b.Run("shared", func(b *testing.B) {
		for b.Loop() {
			g.deflated.frame(g, frame)
		}
	})
}

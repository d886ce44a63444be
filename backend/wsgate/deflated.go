package wsgate

import (
	"sync"
	"time"
	"weak"

	"github.com/telltale/telltale/backend/wsgate/internal/wsframe"
)

// Shared compression of a frame many connections are sent.
//
// The hub hands every subscriber that starts at one position the same
// snapshot frame (its snapCache): a restart's reconnect storm, or a shift's
// pages opening at once, sends one frame to many connections. Each of them
// compressed it again, one deflate slot each; with the 16 slots busy, the
// rest went uncompressed (three to four times the bytes, to phones too).
// sharedDeflate compresses such a frame once: the first connection to write
// it compresses it (taking a slot), connections that come while it does
// wait for it, and later ones take the compressed frame as it is, for as
// long as the frame is still in use and at most sharedDeflateKeep after its
// last use. Frames are told apart by their first byte's weak pointer, which
// no other frame can ever share (weak.Pointer compares by object, even after
// the frame is collected), so a frame that ends is never confused with a new
// one at its address.
//
// It holds at most sharedDeflateBytes of compressed frames; entries whose
// frame was collected (no one can ask for it again) or that went unused for
// sharedDeflateKeep are dropped on every insertion and by a timer.
const (
	sharedDeflateKeep  = 2 * time.Second
	sharedDeflateBytes = 32 << 20
)

type sharedDeflate struct {
	mu      sync.Mutex
	entries map[weak.Pointer[byte]]*deflatedFrame
	bytes   int // compressed bytes held
	timer   *time.Timer
	now     func() time.Time // time.Now; tests move it
	limit   int              // compressed bytes held at most; 0 means sharedDeflateBytes
}

type deflatedFrame struct {
	n     int           // the frame's length
	z     []byte        // the compressed frame, header included; nil until ready
	ready chan struct{} // closed once z is set, or once the compression was given up
	used  time.Time
}

// frame returns b compressed (a whole frame, header included), compressing
// it once for every connection that writes the same b. ok is false when
// every deflate slot was busy: b goes uncompressed. The bytes returned are
// shared: read only.
func (d *sharedDeflate) frame(g *Gateway, b []byte) (z []byte, ok bool) {
	k := weak.Make(&b[0])
	for {
		d.mu.Lock()
		e := d.entries[k]
		if e == nil || e.n != len(b) {
			break // d.mu held
		}
		if e.z != nil {
			e.used = d.now()
			z := e.z
			d.mu.Unlock()
			g.m.deflateShared.Inc()
			return z, true
		}
		ready := e.ready
		d.mu.Unlock()
		<-ready // another connection compresses it: at most one compression's time
		// Again: its z, or, if it was given up, this one tries.
	}
	e := &deflatedFrame{n: len(b), ready: make(chan struct{})}
	if d.entries == nil {
		d.entries = make(map[weak.Pointer[byte]]*deflatedFrame)
	}
	d.entries[k] = e
	d.mu.Unlock()

	select {
	case g.deflateSlots <- struct{}{}:
	default:
		g.m.deflateBusy.Inc()
		d.mu.Lock()
		if d.entries[k] == e {
			delete(d.entries, k)
		}
		close(e.ready)
		d.mu.Unlock()
		return nil, false
	}
	z = wsframe.AppendCompressed(make([]byte, 0, len(b)/3+wsframe.MaxHeader), b)
	<-g.deflateSlots

	d.mu.Lock()
	defer d.mu.Unlock()
	e.z, e.used = z, d.now()
	close(e.ready)
	if d.entries[k] != e {
		return z, true // dropped meanwhile: used once, not kept
	}
	d.bytes += len(z)
	d.sweep(e)
	if d.timer == nil {
		d.timer = time.AfterFunc(sharedDeflateKeep, d.tick)
	}
	return z, true
}

// sweep drops what no one can use any more (the frame collected), what went
// unused for sharedDeflateKeep, and then the least recently used entries
// while more than sharedDeflateBytes are held; keep is never dropped for
// the byte bound. d.mu held.
func (d *sharedDeflate) sweep(keep *deflatedFrame) {
	now := d.now()
	for k, e := range d.entries {
		if e.z != nil && (k.Value() == nil || now.Sub(e.used) >= sharedDeflateKeep) {
			d.drop(k, e)
		}
	}
	limit := d.limit
	if limit == 0 {
		limit = sharedDeflateBytes
	}
	for d.bytes > limit {
		var oldK weak.Pointer[byte]
		var old *deflatedFrame
		for k, e := range d.entries {
			if e.z != nil && e != keep && (old == nil || e.used.Before(old.used)) {
				oldK, old = k, e
			}
		}
		if old == nil {
			return
		}
		d.drop(oldK, old)
	}
}

func (d *sharedDeflate) drop(k weak.Pointer[byte], e *deflatedFrame) {
	delete(d.entries, k)
	d.bytes -= len(e.z)
}

// tick sweeps while anything is held, then stops.
func (d *sharedDeflate) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(nil)
	if len(d.entries) == 0 {
		d.timer = nil
		return
	}
	d.timer.Reset(sharedDeflateKeep)
}

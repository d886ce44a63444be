//go:build linux

package wsgate

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/backend/hub"
	"github.com/telltale/telltale/backend/metrics"
	"github.com/telltale/telltale/shared/wire"
)

// BenchmarkFlush_1000Conns is the gateway's side of one delivery at one
// event per frame (the fan-out benchmark's 5,000 clients × 10 events/s
// case) without a load generator on the same cores: one event goes into
// each of 1,000 connections' outboxes, as the hub's Deliver does, and the
// flushers write one frame to each connection's loopback socket. One op is
// one delivery. cpu-ns/delivery is the process's CPU time (getrusage, every
// thread, user and system, the kernel's loopback delivery to the peer
// included) over the timed part only; the peers are read with the timer
// stopped.
func BenchmarkFlush_1000Conns(b *testing.B) { benchFlush(b, 1000) }

// BenchmarkFlush_5000Conns: a flusher pass then takes longer than the
// scheduler lets a goroutine run (10 ms) before it preempts it.
func BenchmarkFlush_5000Conns(b *testing.B) { benchFlush(b, 5000) }

// BenchmarkFlushViaHub_5000Conns is BenchmarkFlush_5000Conns with each
// event published through the hub, as the server does (hub.Publish: the
// event encoded once, the stream's 5,000 subscribers iterated, each
// outbox's DeliverStamped): the whole of a delivery's server side but
// ingest.
func BenchmarkFlushViaHub_5000Conns(b *testing.B) { benchFlushVia(b, 5000, true) }

func benchFlush(b *testing.B, n int) { benchFlushVia(b, n, false) }

func benchFlushVia(b *testing.B, n int, viaHub bool) {
	g := flushGateway(b, Config{})
	h := g.cfg.Hub
	who := &auth.Principal{Subject: "bench", Tenant: "demo"}
	conns, nets := loopbackConns(b, g, n, func(_ int, c *conn, _ net.Conn) {
		if viaHub {
			c.who = who // its live events are observed in the tenant's hub → sent histogram, as the server's are
		}
	})
	peers := make([]syscall.RawConn, n)
	for i, p := range nets {
		var err error
		if peers[i], err = p.(*net.TCPConn).SyscallConn(); err != nil {
			b.Fatal(err)
		}
	}
	ev, err := wire.EncodeEvent(&wire.Event{Stream: "fan0", Epoch: 1, Seq: 1, Time: time.Now().UnixMilli(),
		Values: map[string]float64{"pub_us": float64(time.Now().UnixMicro()), "v": 42}})
	if err != nil {
		b.Fatal(err)
	}
	evs := [][]byte{ev}
	values := map[string]float64{"pub_us": float64(time.Now().UnixMicro()), "v": 42}
	seq := uint64(0)
	buf := make([]byte, 64<<10)
	drain := func() {
		for _, p := range peers {
			_ = p.Read(func(fd uintptr) bool {
				for {
					if m, err := syscall.Read(int(fd), buf); m <= 0 || err != nil {
						return true // EAGAIN: read everything there was
					}
				}
			})
		}
	}
	if viaHub {
		for _, c := range conns {
			cancel, err := h.Subscribe("demo", "fan0", c.out)
			if err != nil {
				b.Fatal(err)
			}
			defer cancel()
		}
		g.flushing.Wait() // the snapshots, written
		drain()
	}
	var cpu, user, drained time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		beforeUser := userTime()
		before := cpuTime()
		if viaHub {
			seq++
			h.Publish("demo", []wire.Event{{Stream: "fan0", Epoch: 1, Seq: seq, Time: time.Now().UnixMilli(), Values: values}})
		} else {
			ingested := time.Now().UnixNano()
			for _, c := range conns {
				c.out.DeliverStamped("fan0", 1, ingested, evs)
			}
		}
		g.flushing.Wait() // the flushers' goroutines end when every outbox is written
		cpu += cpuTime() - before
		user += userTime() - beforeUser
		b.StopTimer()
		before = cpuTime()
		drain()
		drained += cpuTime() - before
		b.StartTimer()
	}
	b.StopTimer()
	deliveries := (b.N + n - 1) / n * n
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(deliveries), "cpu-ns/delivery")
	// Its user part: the Go side of a delivery (and the runtime's), little
	// of the kernel's TCP work, so it shows a change to the Go side
	// through less of the noise of the sends.
	b.ReportMetric(float64(user.Nanoseconds())/float64(deliveries), "user-ns/delivery")
	// The peers' reads, untimed: work the kernel defers past the write
	// (the receiving socket's) would show here.
	b.ReportMetric(float64(drained.Nanoseconds())/float64(deliveries), "drain-cpu-ns/delivery")
	if got := g.m.eventsOut.Load(); got != int64(deliveries) {
		b.Fatalf("%d events written, want %d", got, deliveries)
	}
}

// BenchmarkPublish_5000Outboxes is the publish side of a delivery alone:
// one event published through the hub to 5,000 outboxes (hub.Publish:
// encoded once, the subscribers iterated, each outbox's DeliverStamped),
// without connections to kick; the outboxes are emptied with the timer
// stopped. One op is one delivery.
func BenchmarkPublish_5000Outboxes(b *testing.B) {
	const n = 5000
	reg := metrics.New()
	h := hub.New(hub.Config{Metrics: reg})
	m := &gateMetrics{resyncs: reg.Counter("r", ""), dropped: reg.Counter("d", "")}
	outs := make([]*outbox, n)
	for i := range outs {
		outs[i] = newOutbox(4<<20, m)
		cancel, err := h.Subscribe("demo", "fan0", outs[i])
		if err != nil {
			b.Fatal(err)
		}
		defer cancel()
	}
	values := map[string]float64{"pub_us": float64(time.Now().UnixMicro()), "v": 42}
	var items []item
	taken := 0
	empty := func() {
		for _, o := range outs {
			items, _ = o.take(items)
			for _, it := range items {
				if it.event {
					taken++
				}
			}
			clear(items)
		}
	}
	empty() // the snapshots
	var cpu time.Duration
	seq := uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		before := cpuTime()
		seq++
		h.Publish("demo", []wire.Event{{Stream: "fan0", Epoch: 1, Seq: seq, Time: time.Now().UnixMilli(), Values: values}})
		cpu += cpuTime() - before
		b.StopTimer()
		empty()
		b.StartTimer()
	}
	b.StopTimer()
	deliveries := (b.N + n - 1) / n * n
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(deliveries), "cpu-ns/delivery")
	if taken != deliveries {
		b.Fatalf("%d events queued, want %d", taken, deliveries)
	}
}

// userTime is the process's CPU time so far in user mode.
func userTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano())
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:build linux

package wsgate

import (
	"net"
	"syscall"
	"testing"
	"time"

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

func benchFlush(b *testing.B, n int) {
	reg := metrics.New()
	// Pacing off: every connection writes each event at once, one frame
	// per event, as a connection kicked once per window does.
	g := New(Config{Hub: hub.New(hub.Config{Metrics: reg}), Metrics: reg, Stages: metrics.NewStages(reg, 0), FrameBudget: -1})
	defer func() {
		for _, f := range g.flushers {
			f.stop()
		}
		g.flushing.Wait()
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conns := make([]*conn, n)
	peers := make([]syscall.RawConn, n)
	for i := range conns {
		peer, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer peer.Close()
		if peers[i], err = peer.(*net.TCPConn).SyscallConn(); err != nil {
			b.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		c := &conn{g: g, nc: nc, id: "bench"}
		c.tenant = "demo"
		c.out, c.net = newOutbox(g.cfg.QueueBytes, &g.m), newHeldWriter(nc)
		c.fl = g.flushers[i%len(g.flushers)]
		c.life.Store(open)
		c.startWriting()
		conns[i] = c
	}
	ev, err := wire.EncodeEvent(&wire.Event{Stream: "fan0", Epoch: 1, Seq: 1, Time: time.Now().UnixMilli(),
		Values: map[string]float64{"pub_us": float64(time.Now().UnixMicro()), "v": 42}})
	if err != nil {
		b.Fatal(err)
	}
	evs := [][]byte{ev}
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
	var cpu, drained time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		before := cpuTime()
		ingested := time.Now().UnixNano()
		for _, c := range conns {
			c.out.DeliverStamped("fan0", 1, ingested, evs)
		}
		g.flushing.Wait() // the flushers' goroutines end when every outbox is written
		cpu += cpuTime() - before
		b.StopTimer()
		before = cpuTime()
		drain()
		drained += cpuTime() - before
		b.StartTimer()
	}
	b.StopTimer()
	deliveries := (b.N + n - 1) / n * n
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(deliveries), "cpu-ns/delivery")
	// The peers' reads, untimed: work the kernel defers past the write
	// (the receiving socket's) would show here.
	b.ReportMetric(float64(drained.Nanoseconds())/float64(deliveries), "drain-cpu-ns/delivery")
	if got := g.m.eventsOut.Load(); got != int64(deliveries) {
		b.Fatalf("%d events written, want %d", got, deliveries)
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

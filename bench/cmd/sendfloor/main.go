//go:build linux

// Command sendfloor measures the floor under the fan-out benchmark's
// server_us_per_delivery: what this machine's kernel alone costs to send one
// small frame to one of many loopback TCP connections, read by another
// process, at the fan-out benchmark's shape (5,000 connections, 10 frames a
// second each, every connection written in one burst per event).
//
// A server cannot spend less per delivery than this: it is one send(2) of a
// prebuilt frame per connection and nothing else (no WebSocket handshake
// kept, no encoding, no outbox, no scheduling). On loopback it includes the
// receiver's TCP work, which the kernel does in the sending task, exactly as
// it does for the real server in bench/cmd/fanout. So the ratio of the two
// figures, measured side by side on one machine, says how much the server
// adds to the kernel; the absolute figures move with the machine (the VM,
// its kernel, what else runs) and are compared only within one session.
//
//	go build -o /tmp/sendfloor ./bench/cmd/sendfloor
//	/tmp/sendfloor -conns 5000 -rate 10 -duration 20s -size 112 -mode write
//	/tmp/sendfloor -conns 5000 -rate 10 -duration 20s -size 112 -mode uring
//
// -size is the server's bytes per frame, from fanout's bytes_per_frame.
// -mode write sends each frame with its own write(2), as the gateway does
// without io_uring; -mode uring sends up to 64 connections' frames per
// io_uring_enter (internal/uring), as the gateway's flushers do.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/internal/uring"
)

type result struct {
	Conns          int     `json:"conns"`
	Rate           int     `json:"rate_per_conn"`
	Size           int     `json:"bytes_per_frame"`
	Mode           string  `json:"mode"`
	Writers        int     `json:"writers"`
	DurationS      float64 `json:"duration_s"`
	Sends          int64   `json:"sends"`
	Short          int64   `json:"short_or_full"`
	SendsPerS      float64 `json:"sends_per_s"`
	UsPerSend      float64 `json:"floor_us_per_delivery"`
	SenderCPUPct   float64 `json:"sender_cpu_pct"`
	ReaderCPUPct   float64 `json:"reader_cpu_pct"`
	ReaderGotBytes int64   `json:"reader_bytes"`
}

func main() {
	reader := flag.String("reader", "", "internal: run as the reading process, dialling this address")
	conns := flag.Int("conns", 5000, "loopback TCP connections")
	rate := flag.Int("rate", 10, "frames per second to each connection")
	duration := flag.Duration("duration", 20*time.Second, "how long to send")
	size := flag.Int("size", 112, "bytes per frame (fanout's bytes_per_frame)")
	mode := flag.String("mode", "write", `"write": a write(2) per frame; "uring": up to 64 frames per io_uring_enter`)
	writers := flag.Int("writers", runtime.GOMAXPROCS(0), "goroutines sending, each to its share of the connections (the gateway has one flusher per CPU)")
	asJSON := flag.Bool("json", false, "print the result as one JSON object on the last line")
	flag.Parse()
	var err error
	if *reader != "" {
		err = read(*reader, *conns)
	} else {
		err = run(*conns, *rate, *duration, *size, *mode, *writers, *asJSON)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendfloor:", err)
		os.Exit(1)
	}
}

// read is the reading process: it dials conns connections, reads each until
// EOF in a goroutine of its own (as the fan-out generator's clients do), and
// prints the bytes read so far every 50 ms.
func read(addr string, conns int) error {
	var got atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				got.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			fmt.Println(got.Load())
			return nil
		case <-t.C:
			fmt.Println(got.Load())
		}
	}
}

func run(conns, rate int, duration time.Duration, size int, mode string, writers int, asJSON bool) error {
	if size < 2 || size > 125+2 {
		return fmt.Errorf("-size %d: want 2..127 (one WebSocket frame with a short header)", size)
	}
	if mode != "write" && mode != "uring" {
		return fmt.Errorf("-mode %q: want write or uring", mode)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-reader", ln.Addr().String(), "-conns", strconv.Itoa(conns))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	var readBytes atomic.Int64
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if n, err := strconv.ParseInt(s.Text(), 10, 64); err == nil {
				readBytes.Store(n)
			}
		}
	}()

	socks := make([]*net.TCPConn, conns)
	fds := make([]int32, conns)
	for i := range socks {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		socks[i] = c.(*net.TCPConn)
		defer c.Close()
		rc, err := socks[i].SyscallConn()
		if err != nil {
			return err
		}
		if err := rc.Control(func(fd uintptr) { fds[i] = int32(fd) }); err != nil {
			return err
		}
	}
	// The sockets stay open (socks holds them) until run returns, so their
	// descriptors stay valid for the raw sends below.

	frame := make([]byte, size)
	frame[0], frame[1] = 0x82, byte(size-2) // FIN, binary; unmasked, short length
	for i := 2; i < size; i++ {
		frame[i] = byte(i)
	}

	var sends, short atomic.Int64
	tick := make([]chan struct{}, writers)
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		tick[w] = make(chan struct{}, 1)
		var mine []int32
		for i := w; i < conns; i += writers {
			mine = append(mine, fds[i])
		}
		var ring *uring.Ring
		if mode == "uring" {
			if ring, err = uring.New(64); err != nil {
				return fmt.Errorf("-mode uring: %w", err)
			}
			defer ring.Close()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(ring, mine, frame, tick[w], &sends, &short); err != nil {
				errc <- err
			}
		}()
	}

	// Let the reader settle (every goroutine parked in a read), then send
	// rate bursts a second for duration.
	time.Sleep(time.Second)
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	readerCPU0 := proc.CPUTicks(child.Process.Pid)
	start := time.Now()
	bursts := int(duration.Seconds() * float64(rate))
	for b := range bursts {
		time.Sleep(time.Until(start.Add(time.Duration(b) * time.Second / time.Duration(rate))))
		for _, t := range tick {
			select {
			case t <- struct{}{}:
			default: // the writer is still on the last burst: it owes this one
			}
		}
	}
	for _, t := range tick {
		close(t)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	// Until the reader holds everything sent, or 15 s.
	want := sends.Load() * int64(size)
	for deadline := time.Now().Add(15 * time.Second); readBytes.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	readerCPU := proc.CPUTicks(child.Process.Pid) - readerCPU0
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	res := result{
		Conns: conns, Rate: rate, Size: size, Mode: mode, Writers: writers,
		DurationS:      elapsed.Seconds(),
		Sends:          sends.Load(),
		Short:          short.Load(),
		SendsPerS:      float64(sends.Load()) / elapsed.Seconds(),
		SenderCPUPct:   100 * cpu.Seconds() / elapsed.Seconds(),
		ReaderCPUPct:   100 * float64(readerCPU) / proc.TicksPerSecond / elapsed.Seconds(),
		ReaderGotBytes: readBytes.Load(),
	}
	if res.Sends > 0 {
		res.UsPerSend = float64(cpu.Microseconds()) / float64(res.Sends)
	}
	if res.ReaderGotBytes < want {
		return fmt.Errorf("the reader got %d of %d bytes within 15 s", res.ReaderGotBytes, want)
	}
	fmt.Printf("%d conns × %d frames/s of %d bytes, %s, %d writers: %.0f sends/s, %d short or full; sender %.2f µs CPU/send (%.0f%% CPU), reader %.0f%% CPU\n",
		conns, rate, size, mode, writers, res.SendsPerS, res.Short, res.UsPerSend, res.SenderCPUPct, res.ReaderCPUPct)
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
	return nil
}

// send writes frame to every descriptor in fds on each tick, until tick is
// closed: with ring, up to ring.Size() per io_uring_enter; without, a
// write(2) each. A frame a socket did not take whole counts in short; the
// floor run is sized so none should.
func send(ring *uring.Ring, fds []int32, frame []byte, tick <-chan struct{}, sends, short *atomic.Int64) error {
	var bufs [][]byte
	var res []int32
	if ring != nil {
		bufs, res = make([][]byte, ring.Size()), make([]int32, ring.Size())
		for i := range bufs {
			bufs[i] = frame
		}
	}
	p := uintptr(unsafe.Pointer(&frame[0]))
	for range tick {
		if ring == nil {
			for _, fd := range fds {
				n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), p, uintptr(len(frame)))
				if e != 0 && e != syscall.EAGAIN {
					return fmt.Errorf("write: %w", e)
				}
				if int(n) != len(frame) {
					short.Add(1)
				}
			}
		} else {
			for i := 0; i < len(fds); i += ring.Size() {
				batch := fds[i:min(i+ring.Size(), len(fds))]
				ring.Send(batch, bufs[:len(batch)], res[:len(batch)])
				for _, n := range res[:len(batch)] {
					if n == uring.NotSent {
						return errors.New("io_uring: a send was not taken")
					}
					if n < 0 && n != -int32(syscall.EAGAIN) {
						return fmt.Errorf("send: %w", syscall.Errno(-n))
					}
					if int(n) != len(frame) {
						short.Add(1)
					}
				}
			}
		}
		sends.Add(int64(len(fds)))
	}
	return nil
}

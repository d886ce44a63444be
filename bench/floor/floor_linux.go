//go:build linux

package floor

import (
	"bufio"
	"errors"
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

// readerEnv, set in the reading process's environment, holds the address
// it dials and how many connections: "ADDR CONNS".
const readerEnv = "TELLTALE_FLOOR_READER"

// Reader makes this process the floor's reading process when it was
// started as one (Run starts its own executable with readerEnv set): it
// reads, and exits. Every command that calls Run calls Reader first in
// main.
func Reader() {
	v := os.Getenv(readerEnv)
	if v == "" {
		return
	}
	var addr string
	var conns int
	if _, err := fmt.Sscan(v, &addr, &conns); err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", readerEnv, v, err)
		os.Exit(2)
	}
	if err := read(addr, conns); err != nil {
		fmt.Fprintln(os.Stderr, "floor reader:", err)
		os.Exit(1)
	}
	os.Exit(0)
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

// Run measures the floor: the CPU this process spends per send (getrusage,
// from the first burst until the reader holds every byte sent).
func Run(cfg Config) (Result, error) {
	conns, rate, duration, size, mode, writers := cfg.Conns, cfg.Rate, cfg.Duration, cfg.Size, cfg.Mode, cfg.Writers
	if writers <= 0 {
		writers = runtime.GOMAXPROCS(0)
	}
	var zero Result
	if size < 1 {
		return zero, fmt.Errorf("floor: size %d: want at least one byte", size)
	}
	if mode != "write" && mode != "uring" {
		return zero, fmt.Errorf("floor: mode %q: want write or uring", mode)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return zero, err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return zero, err
	}
	child := exec.Command(self)
	child.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", readerEnv, ln.Addr(), conns))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return zero, err
	}
	if err := child.Start(); err != nil {
		return zero, err
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
			return zero, err
		}
		socks[i] = c.(*net.TCPConn)
		defer c.Close()
		rc, err := socks[i].SyscallConn()
		if err != nil {
			return zero, err
		}
		if err := rc.Control(func(fd uintptr) { fds[i] = int32(fd) }); err != nil {
			return zero, err
		}
	}
	// The sockets stay open (closed by Run's defers), so their descriptors
	// stay valid for the raw sends below.

	// What the bytes say does not matter: the reader only counts them.
	frame := make([]byte, size)
	for i := range frame {
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
				return zero, fmt.Errorf("floor: mode uring: %w", err)
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
			default: // a burst is still pending for this writer: this one is skipped (sends counts what went)
			}
		}
	}
	for _, t := range tick {
		close(t)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return zero, err
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
	res := Result{
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
		res.UsPerSend = cpu.Seconds() * 1e6 / float64(res.Sends)
	}
	if res.ReaderGotBytes < want {
		return zero, fmt.Errorf("the reader got %d of %d bytes within 15 s", res.ReaderGotBytes, want)
	}
	return res, nil
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

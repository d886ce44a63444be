// Command drainspread measures how a draining node's clients reconnect: it
// starts the telltale binary (embedded store), opens N welcomed WebSocket
// clients, sends SIGTERM (-drain-delay 300ms) and records when each
// client's connection closed (4010). Each client would reconnect after the
// client runtime's jittered wait for a hand-over (uniform 1 ms to 250 ms:
// app/client's MinBackoff at attempt 0), added here from a fixed seed, so
// the printed histogram is the reconnects the other nodes receive per
// 100 ms. Run it with the binary before and after, interleaved:
//
//	go run ./bench/cmd/drainspread -bin /work/base/telltale -web /work/base/static -n 2000
//	go run ./bench/cmd/drainspread -bin bin/telltale -web static -n 2000
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/telltale/telltale/bench/benchserver"
	"github.com/telltale/telltale/shared/wire"
)

func main() {
	bin := flag.String("bin", "bin/telltale", "the telltale binary")
	web := flag.String("web", "static", "its web folder")
	n := flag.Int("n", 2000, "clients")
	extra := flag.String("spread", "", "-drain-spread to pass (empty: the binary's default)")
	flag.Parse()
	if err := run(*bin, *web, *n, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "drainspread:", err)
		os.Exit(1)
	}
}

func run(bin, web string, n int, spread string) error {
	args := []string{"-drain-delay", "300ms", "-conn-rate", "-1", "-max-unauth-per-addr", "100000"}
	if spread != "" {
		args = append(args, "-drain-spread", spread)
	}
	s, err := benchserver.Start(bin, web, args...)
	if err != nil {
		return err
	}
	defer s.Stop()
	tok, err := s.Token("bench")
	if err != nil {
		return err
	}
	hello, err := wire.Encode(wire.Hello{Token: tok})
	if err != nil {
		return err
	}
	ctx := context.Background()
	closed := make([]time.Time, n)
	codes := make([]websocket.StatusCode, n)
	var welcomed, ended sync.WaitGroup
	welcomed.Add(n)
	ended.Add(n)
	sem := make(chan struct{}, 64) // dials at once
	errc := make(chan error, n)
	for i := range n {
		go func() {
			defer ended.Done()
			sem <- struct{}{}
			ws, _, err := websocket.Dial(ctx, "ws://"+s.Addr+"/api/v1/ws", nil)
			<-sem
			if err != nil {
				errc <- err
				welcomed.Done()
				return
			}
			defer ws.CloseNow()
			_ = ws.Write(ctx, websocket.MessageBinary, hello)
			first := true
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					closed[i], codes[i] = time.Now(), websocket.CloseStatus(err)
					if first {
						welcomed.Done()
					}
					return
				}
				if f, err := wire.Decode(b); err == nil && f.FrameType() == wire.TypeWelcome && first {
					first = false
					welcomed.Done()
				}
			}
		}()
	}
	welcomed.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("a client: %w", err)
	default:
	}
	sent := time.Now()
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	ended.Wait()
	rng := rand.New(rand.NewPCG(1, 2))
	var at, reconnect []time.Duration
	bad := 0
	for i := range n {
		if codes[i] != wire.CloseRestart {
			bad++
		}
		d := closed[i].Sub(sent)
		at = append(at, d)
		reconnect = append(reconnect, d+time.Millisecond+time.Duration(rng.Int64N(int64(250*time.Millisecond))))
	}
	slices.Sort(at)
	slices.Sort(reconnect)
	fmt.Printf("%s: %d clients, %d closed other than 4010; closes from %v to %v after SIGTERM (window %v)\n",
		bin, n, bad, at[0].Round(time.Millisecond), at[n-1].Round(time.Millisecond), (at[n-1] - at[0]).Round(time.Millisecond))
	hist := map[int]int{}
	peak := 0
	for _, d := range reconnect {
		b := int(d / (100 * time.Millisecond))
		hist[b]++
		peak = max(peak, hist[b])
	}
	var keys []int
	for k := range hist {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Printf("reconnects per 100 ms (close + 1-250 ms jitter), peak %d:", peak)
	for _, k := range keys {
		fmt.Printf(" [%d00ms %d]", k, hist[k])
	}
	fmt.Println()
	return nil
}

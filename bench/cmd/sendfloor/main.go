// Command sendfloor measures the floor under the fan-out benchmark's
// server_us_per_delivery (package bench/floor): the CPU one bare send of a
// prebuilt frame costs per connection, at fanout's shape, read by another
// process over loopback.
//
//	go build -o /tmp/sendfloor ./bench/cmd/sendfloor
//	/tmp/sendfloor -conns 5000 -rate 10 -duration 20s -size 112 -mode uring
//
// -size is the server's bytes per frame (fanout's bytes_per_frame). -mode
// write sends each frame with its own write(2), as the gateway does without
// io_uring; -mode uring sends up to 64 connections' frames per
// io_uring_enter (internal/uring), as the gateway's flushers do. fanout
// -floor runs the same measurement right after its own.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/telltale/telltale/bench/floor"
)

func main() {
	floor.Reader()
	var cfg floor.Config
	flag.IntVar(&cfg.Conns, "conns", 5000, "loopback TCP connections")
	flag.IntVar(&cfg.Rate, "rate", 10, "frames per second to each connection")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to send")
	flag.IntVar(&cfg.Size, "size", 112, "bytes per frame (fanout's bytes_per_frame)")
	flag.StringVar(&cfg.Mode, "mode", "uring", `"write": a write(2) per frame; "uring": up to 64 frames per io_uring_enter`)
	flag.IntVar(&cfg.Writers, "writers", 0, "goroutines sending, each to its share of the connections (0: GOMAXPROCS; the gateway has one flusher per CPU)")
	asJSON := flag.Bool("json", false, "print the result as one JSON object on the last line")
	flag.Parse()
	res, err := floor.Run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sendfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("%d conns × %d frames/s of %d bytes, %s, %d writers: %.0f sends/s, %d short or full; %.2f µs CPU/send (%.0f%% CPU), reader %.0f%% CPU\n",
		res.Conns, res.Rate, res.Size, res.Mode, res.Writers, res.SendsPerS, res.Short, res.UsPerSend, res.SenderCPUPct, res.ReaderCPUPct)
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
}

package floor

import "time"

// Config is what Run sends: Conns connections, Rate frames a second to
// each for Duration, Size bytes a frame, by Mode ("write": a write(2) per
// frame; "uring": up to 64 frames per io_uring_enter), from Writers
// goroutines (0: GOMAXPROCS).
type Config struct {
	Conns, Rate int
	Duration    time.Duration
	Size        int
	Mode        string
	Writers     int
}

// Result is one floor run.
type Result struct {
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

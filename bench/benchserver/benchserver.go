// Package benchserver starts the telltale binary for the benchmarks: on a free
// loopback port, on the embedded store, without the demo feed, with an ingest
// key and a token secret of its own, with /metrics on a loopback listener of
// its own, and reports where it listens.
package benchserver

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

// Server is a running telltale binary.
type Server struct {
	Cmd         *exec.Cmd
	Addr        string // host:port
	DebugAddr   string // pprof listener, when started with -debug-addr
	MetricsAddr string // the /metrics listener (-metrics-addr)
	Key         string // ingest key of tenant demo
	keys        *auth.Keys
}

var (
	servingLine = regexp.MustCompile(`serving http://(\S+?)/? `)
	debugLine   = regexp.MustCompile(`profiles at http://(\S+?)/debug/pprof/`)
	metricsLine = regexp.MustCompile(`metrics at http://(\S+?)/metrics`)
)

// Start runs bin serving web, with extra flags after the defaults; its
// stderr goes to ours. Run `make build` first.
func Start(bin, web string, extra ...string) (*Server, error) {
	s := &Server{Key: RandomHex()}
	secret := RandomHex() + RandomHex()
	var err error
	if s.keys, err = auth.HS256([]byte(secret)); err != nil {
		return nil, err
	}
	bin, _ = filepath.Abs(bin)
	// No ingest rate per tenant: the benchmarks' one producer measures the
	// engine, not the quota (bench/cmd/neighbours measures the quota).
	args := append([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "warn", "-ingest-keys", "demo:" + s.Key, "-ingest-rate", "-1", "-metrics-addr", "127.0.0.1:0", "-drain-delay", "0"}, extra...)
	s.Cmd = exec.Command(bin, args...)
	s.Cmd.Env = append(os.Environ(), "DATABASE_URL=", "TELLTALE_JWT_SECRET="+secret)
	s.Cmd.Stderr = os.Stderr
	out, err := s.Cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run make build first): %w", bin, err)
	}
	if s.Addr, s.DebugAddr, s.MetricsAddr, err = Listening(out); err == nil {
		return s, nil
	}
	_ = s.Cmd.Process.Kill()
	_ = s.Cmd.Wait()
	return nil, err
}

// Token mints an operator token of tenant demo that the server accepts.
func (s *Server) Token(sub string) (string, error) {
	return s.keys.Mint("demo", sub, 24*time.Hour, nil, "")
}

// Stop sends SIGTERM and waits for the server to exit.
func (s *Server) Stop() {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	_ = s.Cmd.Wait()
}

// RandomHex is 16 random bytes in hex: keys and secrets for one run.
func RandomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Listening reads a starting telltale's standard output until it says where
// it serves: its address and, when started with -debug-addr and
// -metrics-addr, its pprof and metrics listeners'. It keeps draining out after that, or the server would block on
// a full pipe.
func Listening(out io.Reader) (addr, debugAddr, metricsAddr string, err error) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := debugLine.FindStringSubmatch(sc.Text()); m != nil {
			debugAddr = m[1]
		}
		if m := metricsLine.FindStringSubmatch(sc.Text()); m != nil {
			metricsAddr = m[1]
		}
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return m[1], debugAddr, metricsAddr, nil
		}
	}
	return "", "", "", errors.New("the server did not print its address")
}

var metricsClient = &http.Client{Timeout: 10 * time.Second}

// Metric reads one unlabelled value of the /metrics of the server whose
// metrics listener (-metrics-addr) is addr (host:port); 0 when it is absent
// or cannot be read.
func Metric(addr, name string) float64 {
	res, err := metricsClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// CPUProfile saves the CPU profile over d of the server whose debug
// listener is debugAddr (-debug-addr) to path.
func CPUProfile(debugAddr string, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, max(1, int(d.Seconds())))
	return fetchTo(url, path, d+30*time.Second)
}

// FetchTo saves what url answers (a heap or goroutine profile) to path.
func FetchTo(url, path string) error { return fetchTo(url, path, time.Minute) }

func fetchTo(url, path string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	res, err := c.Get(url)
	if err != nil {
		return fmt.Errorf("server profile: %w", err)
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

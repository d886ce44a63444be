// Package benchserver starts the telltale binary for the benchmarks: on a free
// loopback port, on the embedded store, without the demo feed, with an ingest
// key and a token secret of its own, and reports where it listens.
package benchserver

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/telltale/telltale/backend/auth"
)

// Server is a running telltale binary.
type Server struct {
	Cmd       *exec.Cmd
	Addr      string // host:port
	DebugAddr string // pprof listener, when started with -debug-addr
	Key       string // ingest key of tenant demo
	keys      *auth.Keys
}

var (
	servingLine = regexp.MustCompile(`serving http://(\S+?)/? `)
	debugLine   = regexp.MustCompile(`profiles at http://(\S+?)/debug/pprof/`)
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
	args := append([]string{"-addr", "127.0.0.1:0", "-web", web, "-demo=false", "-log-level", "warn", "-ingest-keys", "demo:" + s.Key, "-ingest-rate", "-1"}, extra...)
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
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := debugLine.FindStringSubmatch(sc.Text()); m != nil {
			s.DebugAddr = m[1]
		}
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			s.Addr = m[1]
			go func() { // keep draining, or the server blocks on a full pipe
				for sc.Scan() {
				}
			}()
			return s, nil
		}
	}
	_ = s.Cmd.Process.Kill()
	_ = s.Cmd.Wait()
	return nil, errors.New("the server did not print its address")
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

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/internal/pgtest"
	"github.com/telltale/telltale/internal/poll"
	"github.com/telltale/telltale/shared/livestate"
)

// restartable is a free loopback address and a fresh PostgreSQL database
// for a server that a test restarts where its clients expect it.
func restartable(t *testing.T) (addr string, env []string, db *pgtest.DB) {
	t.Helper()
	db = pgtest.New(t)
	return freeAddr(t), []string{"DATABASE_URL=" + db.DSN}, db
}

// freeAddr is a loopback address whose port is free now and that a server
// can be started on, stopped and started on again: its port lies below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by
// default), so no other test's listener on port 0, and none of the many
// outgoing connections of the tests running in parallel, can take it
// while the server is down.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: another
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	t.Fatal("no free port in 20000–31999 after 100 tries")
	return ""
}

// TestGracefulRestartResumes runs the real binary on PostgreSQL with the demo
// feed, follows it with the client runtime, restarts the binary (SIGTERM,
// then a new process on the same address and database) and checks that the
// client came back by resuming from its cursors: every seq applied once and
// in order, no second snapshot.
func TestGracefulRestartResumes(t *testing.T) {
	t.Parallel()
	addr, env, _ := restartable(t)
	srv := startServerEnvAt(t, env, addr)

	streams := []string{"orders", "metrics", "fleet"}
	var mu sync.Mutex
	last := map[string]uint64{}
	// One snapshot per stream at the start (the database is new, so they
	// are empty and seq 1 continues them); none after the restart.
	restarted, snapshots, snapshotsAfter := false, 0, 0
	var traceErr error
	c := client.New(client.Config{
		URL: "ws://" + addr + "/api/v1/ws", Streams: streams, Token: token(t, "demo"),
		Trace: func(stream string, _, seq uint64, snapshot bool) {
			mu.Lock()
			defer mu.Unlock()
			if snapshot {
				snapshots++
				if restarted {
					snapshotsAfter++
					t.Logf("snapshot of %s at seq %d after the restart", stream, seq)
				}
			} else if seq != last[stream]+1 && traceErr == nil {
				traceErr = fmt.Errorf("%s: applied %d after %d", stream, seq, last[stream])
			}
			last[stream] = seq
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	seqOf := func(s string) uint64 {
		mu.Lock()
		defer mu.Unlock()
		return last[s]
	}
	poll.Until(t, 20*time.Second, func() error {
		if seqOf("metrics") < 20 {
			return fmt.Errorf("metrics at seq %d", seqOf("metrics"))
		}
		return nil
	})
	mu.Lock()
	restarted = true
	mu.Unlock()
	srv.stop(t)
	before := seqOf("metrics")
	startServerEnvAt(t, env, addr)
	poll.Until(t, 30*time.Second, func() error {
		var info client.Info
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) { info = i })
		if info.Resumes < len(streams) || seqOf("metrics") < before+20 {
			return fmt.Errorf("resumes %d, metrics at %d (was %d before the restart)", info.Resumes, seqOf("metrics"), before)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if traceErr != nil {
		t.Fatal(traceErr)
	}
	if snapshotsAfter != 0 || snapshots != len(streams) {
		t.Fatalf("took %d snapshots, %d after the restart; want %d, none after: it resynced instead of resuming", snapshots, snapshotsAfter, len(streams))
	}
	t.Logf("resumed %d streams across the restart; metrics %d → %d", len(streams), before, last["metrics"])
}

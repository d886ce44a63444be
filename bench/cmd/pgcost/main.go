// Command pgcost measures what PostgreSQL spends to store tenant A's events
// of the neighbours benchmark (issue 15): per shape (gauges, series, rows, as
// bench/cmd/neighbours sends them at the default caps), the CPU seconds of
// the database backends doing the inserts per MiB of event body, and the
// MiB/s they absorbed. CPU per MiB is the load-robust number (the backends'
// own /proc CPU time, not the machine's wall clock); MiB/s is what the
// machine gave at the time.
//
// Modes, each on a database of its own:
//
//   - publish: the real path, telltale.publish_batch with one event per call
//     and per transaction (one of A's requests), on the migrated schema;
//
//   - jsonb:   a plain INSERT of the same body into a jsonb column;
//
//   - bytea:   a plain INSERT of the same event as msgpack (the wire's
//     encoding) into a bytea column: what a msgpack storage format would
//     cost the database.
//
//     go run ./bench/cmd/pgcost -duration 10s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telltale/telltale/backend/pgstore"
	"github.com/telltale/telltale/bench/proc"
	"github.com/telltale/telltale/shared/wire"
)

type result struct {
	Mode       string  `json:"mode"`
	Shape      string  `json:"shape"`
	Events     int64   `json:"events"`
	BodyBytes  int     `json:"body_bytes"` // one event's body as stored (JSON text, or msgpack)
	JSONBytes  int     `json:"json_bytes"` // the same event's body as JSON: what ingest's rate counts
	MiBps      float64 `json:"mib_per_s"`  // MiB of the events as JSON stored per second
	MSPerEvent float64 `json:"cpu_ms_per_event"`
	BackendCPU float64 `json:"backend_cpu"`   // the writers' backends, % of one core
	SPerMiB    float64 `json:"cpu_s_per_mib"` // backend CPU seconds per MiB of JSON body
	AllPGCPU   float64 `json:"all_pg_cpu"`    // every postgres process (other users included), % of a core
	TableMiB   float64 `json:"table_mib_per_mib"`
}

func main() {
	admin := flag.String("pg-admin", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server to create scratch databases on (dropped at the end)")
	modes := flag.String("modes", "publish,jsonb,bytea", "publish, jsonb, bytea")
	shapes := flag.String("shapes", "gauges,series,rows", "A's event shapes")
	duration := flag.Duration("duration", 10*time.Second, "how long each mode and shape inserts")
	writers := flag.Int("writers", 2, "concurrent writers, each on its own connection and stream (A's two producers)")
	flag.IntVar(&batch, "batch", 1, "events per statement and transaction (publish: one publish_batch call; jsonb, bytea: one multi-row INSERT); A's requests carry one")
	asJSON := flag.Bool("json", false, "print the results as one JSON array on the last line")
	flag.Parse()
	var all []result
	for _, shape := range strings.Split(*shapes, ",") {
		for _, mode := range strings.Split(*modes, ",") {
			r, err := run(*admin, mode, shape, *duration, *writers)
			if err != nil {
				fmt.Fprintln(os.Stderr, "pgcost:", err)
				os.Exit(1)
			}
			fmt.Printf("%-7s %-7s body %7d B (JSON %7d)  %7d events  %6.2f MiB/s  backends %4.0f%%  %.3f CPU s/MiB  %.2f CPU ms/event  table %.2f MiB/MiB  (all postgres %3.0f%%)\n",
				r.Shape, r.Mode, r.BodyBytes, r.JSONBytes, r.Events, r.MiBps, r.BackendCPU, r.SPerMiB, r.MSPerEvent, r.TableMiB, r.AllPGCPU)
			all = append(all, r)
		}
	}
	if *asJSON {
		b, _ := json.Marshal(all)
		fmt.Println(string(b))
	}
}

// batch is -batch.
var batch = 1

// width at the default caps, as bench/cmd/neighbours sends them.
var width = map[string]int{"gauges": 1000, "series": 1000, "rows": 250}

// event is one of A's events of shape, generation n.
func event(shape string, n int) *wire.Event {
	ev := &wire.Event{Stream: "a", Time: time.Now().UnixMilli(), Created: time.Now().UnixNano()}
	switch shape {
	case "gauges":
		ev.Values = map[string]float64{}
		for i := range width[shape] {
			ev.Values[fmt.Sprintf("g%d_%d", n, i)] = float64(i) + 0.25
		}
	case "series":
		p := &wire.Points{}
		for j := range 16 {
			p.TS = append(p.TS, ev.Time-int64(16-j))
		}
		for i := range width[shape] {
			c := wire.Column{Name: fmt.Sprintf("s%d_%d", n, i)}
			for j := range 16 {
				c.Vals = append(c.Vals, float64(j)+0.5)
			}
			p.Cols = append(p.Cols, c)
		}
		ev.Points = p
	case "rows":
		r := &wire.Row{Key: fmt.Sprintf("r%d", n), Fields: map[string]any{}}
		for i := range width[shape] {
			r.Fields[fmt.Sprintf("f%d", i)] = fmt.Sprintf("value %d of row %d, padded to be a realistic text field", i, n)
		}
		ev.Row = r
	default:
		panic("unknown shape " + shape)
	}
	return ev
}

// body is what pgstore stores in telltale.events.body.
type body struct {
	Values map[string]float64 `json:"values,omitempty"`
	Row    *wire.Row          `json:"row,omitempty"`
	Points *wire.Points       `json:"points,omitempty"`
}

func run(admin, mode, shape string, d time.Duration, writers int) (result, error) {
	ctx := context.Background()
	r := result{Mode: mode, Shape: shape}
	aconn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return r, err
	}
	defer aconn.Close(ctx)
	name := fmt.Sprintf("telltale_pgcost_%d", time.Now().UnixNano()%1e9)
	if _, err := aconn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return r, err
	}
	defer aconn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	cfg := aconn.Config()
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return r, err
	}
	defer pool.Close()
	var table string
	switch mode {
	case "publish":
		if _, err := pgstore.Migrate(ctx, pool); err != nil {
			return r, err
		}
		table = "telltale.events"
	case "jsonb", "bytea":
		if _, err := pool.Exec(ctx, `CREATE TABLE ev (tenant text NOT NULL, stream text NOT NULL, seq bigint NOT NULL,
			ts timestamptz NOT NULL, body `+mode+` NOT NULL, created timestamptz, PRIMARY KEY (tenant, stream, seq))`); err != nil {
			return r, err
		}
		table = "ev"
	default:
		return r, fmt.Errorf("mode %q: want publish, jsonb or bytea", mode)
	}
	// A few generations of bodies, encoded before the clock starts: the
	// database's cost is measured, not the client's.
	var bodies []any
	for n := range 8 {
		ev := event(shape, n)
		if mode == "bytea" {
			b, err := wire.EncodeEvent(ev)
			if err != nil {
				return r, err
			}
			bodies = append(bodies, b)
			r.BodyBytes = len(b)
		} else {
			b, err := json.Marshal(body{Values: ev.Values, Row: ev.Row, Points: ev.Points})
			if err != nil {
				return r, err
			}
			bodies = append(bodies, string(b))
			r.BodyBytes = len(b)
		}
		j, err := json.Marshal(body{Values: ev.Values, Row: ev.Row, Points: ev.Points})
		if err != nil {
			return r, err
		}
		r.JSONBytes = len(j)
	}
	conns := make([]*pgx.Conn, writers)
	pids := make([]int, writers)
	for i := range conns {
		if conns[i], err = pgx.Connect(ctx, dsn); err != nil {
			return r, err
		}
		defer conns[i].Close(ctx)
		if err := conns[i].QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
			return r, err
		}
	}
	backendTicks := func() (t int64) {
		for _, p := range pids {
			t += proc.CPUTicks(p)
		}
		return
	}
	var events atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b0, pg0 := backendTicks(), postgresTicks()
	start := time.Now()
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("a%d", w)
			now := time.Now()
			times := make([]time.Time, batch)
			for i := range times {
				times[i] = now
			}
			for seq := 1; time.Since(start) < d; seq += batch {
				var err error
				if mode == "publish" {
					s := make([]string, batch)
					for i := range s {
						s[i] = bodies[(seq+i)%len(bodies)].(string)
					}
					_, err = c.Exec(ctx, `SELECT telltale.publish_batch($1, $2, $3::jsonb[], $4, $5)`,
						"tenant-a", stream, s, times, times)
				} else {
					seqs := make([]int64, batch)
					var bs any
					if mode == "bytea" {
						v := make([][]byte, batch)
						for i := range v {
							v[i], seqs[i] = bodies[(seq+i)%len(bodies)].([]byte), int64(seq+i)
						}
						bs = v
					} else {
						v := make([]string, batch)
						for i := range v {
							v[i], seqs[i] = bodies[(seq+i)%len(bodies)].(string), int64(seq+i)
						}
						bs = v
					}
					_, err = c.Exec(ctx, `INSERT INTO ev SELECT $1, $2, s, $4, b, $4 FROM unnest($3::bigint[], $5::`+mode+`[]) AS u(s, b)`,
						"tenant-a", stream, seqs, now, bs)
				}
				if err != nil {
					errs <- fmt.Errorf("%s %s: %w", mode, shape, err)
					return
				}
				events.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	bt, pt := backendTicks()-b0, postgresTicks()-pg0
	r.Events = events.Load()
	// Per MiB of the events as JSON, whatever the stored format: the
	// same events cost what they cost, compared per unit of ingest.
	mib := float64(r.Events) * float64(r.JSONBytes) / (1 << 20)
	r.MiBps = mib / elapsed
	r.BackendCPU = float64(bt) / elapsed // ticks are 1/100 s: ticks/s is % of a core
	r.AllPGCPU = float64(pt) / elapsed
	if mib > 0 {
		r.SPerMiB = float64(bt) / 100 / mib
		r.MSPerEvent = float64(bt) * 10 / float64(r.Events)
		var size int64
		if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, table).Scan(&size); err == nil {
			r.TableMiB = float64(size) / (1 << 20) / mib
		}
	}
	return r, nil
}

// postgresTicks is the CPU time of every process of the local PostgreSQL
// server (they are named postgres), in clock ticks.
func postgresTicks() int64 {
	dirs, _ := os.ReadDir("/proc")
	var sum int64
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(d.Name(), "%d", &pid); err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			sum += proc.CPUTicks(pid)
		}
	}
	return sum
}
